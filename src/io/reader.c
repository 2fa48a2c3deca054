/* The generic safetensors reader: any file (tapegrad's or another program's) verified by
 * tg__st_open, its tensors converted to F32/F64/I32 where that is exact or standard
 * (F16, BF16 and the integer types), its metadata copied. */
#include <stdlib.h>
#include <string.h>

#include "../util.h"
#include "checkpoint.h"
#include "internal.h"

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 31, man = h & 1023, bits;
    if (ex == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (ex) {
        bits = sign | (ex + 112) << 23 | man << 13;
    } else if (man) { /* subnormal: normalize */
        int shift = 0;
        while (!(man & 1024)) {
            man <<= 1;
            shift++;
        }
        bits = sign | (uint32_t)(113 - shift) << 23 | (man & 1023) << 13;
    } else {
        bits = sign;
    }
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

/* converts n elements of dtype code from src into t (F32, F64 or I32); false if an
 * integer does not fit in I32 */
static bool convert(tg_tensor *t, int code, const unsigned char *src, int64_t n)
{
    void *dst = t->data;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = src + (size_t)i * tg__st_dtype_size(code);
        uint64_t u = 0;
        for (size_t k = 0; k < tg__st_dtype_size(code); k++)
            u |= (uint64_t)p[k] << (8 * k);
        int64_t v = 0;
        switch (code) {
        case D_F16: ((float *)dst)[i] = f16_to_f32((uint16_t)u); continue;
        case D_BF16: {
            uint32_t b = (uint32_t)u << 16;
            memcpy((float *)dst + i, &b, 4);
            continue;
        }
        case D_BOOL: v = u != 0; break;
        case D_U8: case D_U16: case D_U32: v = (int64_t)u; break;
        case D_U64: if (u > INT32_MAX) return false; v = (int64_t)u; break;
        case D_I8: v = (int8_t)u; break;
        case D_I16: v = (int16_t)u; break;
        case D_I64: v = (int64_t)u; break;
        default: break;
        }
        if (v < INT32_MIN || v > INT32_MAX)
            return false;
        ((int32_t *)dst)[i] = (int32_t)v;
    }
    return true;
}

void tg_safetensors_free(tg_safetensors **sp)
{
    if (!sp || !*sp)
        return;
    tg_safetensors *s = *sp;
    for (int i = 0; i < s->count; i++) {
        tg__mfree(s->names[i]);
        tg_tensor_free(&s->tensors[i]);
    }
    for (int i = 0; i < s->meta_count; i++) {
        tg__mfree(s->meta_keys[i]);
        tg__mfree(s->meta_values[i]);
    }
    tg__mfree(s->names);
    tg__mfree(s->tensors);
    tg__mfree(s->meta_keys);
    tg__mfree(s->meta_values);
    tg__mfree(s);
    *sp = NULL;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tg__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

tg_status tg_safetensors_read(const char *path, tg_safetensors **out)
{
    const char *fn = "tg_safetensors_read";
    if (!path || !out)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    *out = NULL;
    st_file f = {.fn = fn, .path = path};
    tg_status st = tg__st_open(&f, false);
    tg_safetensors *s = NULL;
    if (st != TG_OK)
        goto done;
    int nm = f.meta ? (int)json_object_size(f.meta) : 0;
    s = tg__calloc(sizeof *s);
    if (!s || !(s->names = tg__calloc(sizeof(char *) * (size_t)(f.n + 1))) ||
        !(s->tensors = tg__calloc(sizeof(tg_tensor *) * (size_t)(f.n + 1))) ||
        !(s->meta_keys = tg__calloc(sizeof(char *) * (size_t)(nm + 1))) ||
        !(s->meta_values = tg__calloc(sizeof(char *) * (size_t)(nm + 1)))) {
        st = tg__st_oom(fn);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(f.meta, key, val)
    {
        s->meta_keys[s->meta_count] = dup_str(key);
        s->meta_values[s->meta_count] = dup_str(json_string_value(val));
        s->meta_count++;
        if (!s->meta_keys[s->meta_count - 1] || !s->meta_values[s->meta_count - 1]) {
            st = tg__st_oom(fn);
            goto done;
        }
    }
    for (int i = 0; i < f.n; i++) {
        const st_entry *e = &f.ent[i];
        if (e->code == D_F8_E5M2 || e->code == D_F8_E4M3) {
            st = tg__error_status(TG_EDTYPE, "%s: %s: %s has dtype %s, which tapegrad does not "
                                  "represent", fn, path, e->name, tg__st_dtype_name(e->code));
            goto done;
        }
        tg_dtype dt = e->code == D_F64 ? TG_F64
                      : e->code == D_F32 || e->code == D_F16 || e->code == D_BF16 ? TG_F32
                                                                                   : TG_I32;
        s->names[i] = dup_str(e->name);
        s->tensors[i] = tg_zeros(dt, e->ndim, e->shape);
        s->count++;
        if (!s->names[i] || !s->tensors[i]) {
            st = tg__st_oom(fn);
            goto done;
        }
        const unsigned char *src = (const unsigned char *)f.buf + 8 + f.hl + e->b;
        if (e->code == tg__st_code_of(dt)) {
            memcpy(s->tensors[i]->data, src, (size_t)(e->e - e->b));
        } else if (!convert(s->tensors[i], e->code, src, tg_tensor_numel(s->tensors[i]))) {
            st = tg__error_status(TG_ERANGE, "%s: %s: %s (%s) holds values outside the I32 range",
                                  fn, path, e->name, tg__st_dtype_name(e->code));
            goto done;
        }
    }
done:
    tg__st_close(&f);
    if (st == TG_OK)
        *out = s;
    else
        tg_safetensors_free(&s);
    return st;
}
