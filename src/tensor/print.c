/* NumPy-like text rendering of tensors. */
#include <string.h>

#include "kernels.h"

typedef struct {
    char *buf;
    size_t size, len; /* len counts every character the full text needs */
} out_buf;

static void put(out_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (o->size && o->len < o->size - 1) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

#define EDGE 3 /* elements shown at each end of a summarised axis */

static void render(out_buf *o, const tg_tensor *t, int d, int64_t off, bool summarise,
                   int indent)
{
    char tmp[64];
    if (d == t->ndim) {
        double v = t->dtype == TG_F32   ? ((const float *)t->data)[off]
                   : t->dtype == TG_F64 ? ((const double *)t->data)[off]
                                        : ((const int32_t *)t->data)[off];
        if (t->dtype == TG_I32)
            snprintf(tmp, sizeof tmp, "%d", (int)v);
        else
            snprintf(tmp, sizeof tmp, "%.6g", v);
        put(o, tmp);
        return;
    }
    put(o, "[");
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (summarise && n > 2 * EDGE && i == EDGE) {
            put(o, d == t->ndim - 1 ? "..., " : "...,\n");
            if (d != t->ndim - 1)
                for (int k = 0; k < indent + d + 1; k++)
                    put(o, " ");
            i = n - EDGE;
        }
        render(o, t, d + 1, off + i * t->stride[d], summarise, indent);
        if (i + 1 < n) {
            if (d == t->ndim - 1) {
                put(o, ", ");
            } else {
                put(o, ",");
                for (int k = d + 1; k < t->ndim; k++)
                    put(o, "\n");
                for (int k = 0; k < indent + d + 1; k++)
                    put(o, " ");
            }
        }
    }
    put(o, "]");
}

size_t tg_tensor_format(const tg_tensor *t, char *buf, size_t size)
{
    out_buf o = {buf, buf ? size : 0, 0};
    if (!t) {
        put(&o, "(null)");
    } else {
        put(&o, "tensor(");
        /* an empty tensor is summarised too: [2^40, 0] would otherwise print 2^40
         * empty rows */
        int64_t numel = tg_tensor_numel(t);
        render(&o, t, 0, t->offset, numel > 1000 || numel == 0, 7);
        char tail[80];
        snprintf(tail, sizeof tail, ", dtype=%s%s)", tg_dtype_name(t->dtype),
                 tg_tensor_numel(t) == 0 ? ", shape=" : "");
        put(&o, tail);
        if (tg_tensor_numel(t) == 0) {
            tg__shapebuf b = tg__shape_str(t);
            o.len--; /* reopen before the closing parenthesis */
            if (o.size && o.len < o.size)
                o.buf[o.len] = 0;
            put(&o, b.s);
            put(&o, ")");
        }
    }
    if (o.size)
        o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
    return o.len;
}

tg_status tg_tensor_print(const tg_tensor *t, FILE *f)
{
    if (!f)
        return tg__error_status(TG_EINVAL, "tg_tensor_print: NULL file");
    size_t need = tg_tensor_format(t, NULL, 0) + 1;
    char *s = tg__malloc(need);
    if (!s)
        return tg__error_status(TG_ENOMEM, "tg_tensor_print: out of memory");
    tg_tensor_format(t, s, need);
    int ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    tg__mfree(s);
    return ok ? TG_OK : tg__error_status(TG_EIO, "tg_tensor_print: write failed");
}
