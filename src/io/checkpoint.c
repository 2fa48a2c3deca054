/* Checkpoints in the safetensors format (little-endian hosts). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../tensor/internal.h"
#include "checkpoint.h"

#define FORMAT "tapegrad-checkpoint-1"
#define MAX_ENTRIES 1024
#define MAX_HEADER ((uint64_t)100 << 20)

typedef struct {
    char name[96];
    tg_tensor *t;
} entry;

/* the tensors of a model (parameters, then buffers such as batch norm's running
 * statistics) and optimizer, in a fixed order */
static int collect(const tg_model *m, const tg_optim *opt, entry *e, const char *fn)
{
    int n = 0;
    for (int i = 0; i < tg_model_param_count(m); i++) {
        snprintf(e[n].name, sizeof e[n].name, "model.%s", tg_model_param_name(m, i));
        e[n++].t = tg_model_params(m)[i];
    }
    for (int i = 0; i < tg_model_buffer_count(m); i++) {
        snprintf(e[n].name, sizeof e[n].name, "model.%s", tg_model_buffer_name(m, i));
        e[n++].t = tg_model_buffers(m)[i];
    }
    for (int i = 0; opt && i < tg_optim_state_count(opt); i++) {
        const char *nm = NULL;
        tg_tensor *s = tg_optim_state_tensor((tg_optim *)opt, i, &nm);
        if (!s || !nm || n == MAX_ENTRIES) {
            tg__error(TG_EINVAL, "%s: optimizer state %d unavailable", fn, i);
            return -1;
        }
        snprintf(e[n].name, sizeof e[n].name, "optim.%s", nm);
        e[n++].t = s;
    }
    return n;
}

static const char *st_dtype(tg_dtype d) { return d == TG_F32 ? "F32" : d == TG_F64 ? "F64" : "I32"; }

static size_t nbytes(const tg_tensor *t) { return (size_t)tg_tensor_numel(t) * tg_dtype_size(t->dtype); }

static const void *bytes_of(const tg_tensor *t)
{
    return (const char *)t->data + (size_t)t->offset * tg_dtype_size(t->dtype);
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

tg_status tg_checkpoint_save(const char *path, const tg_model *m, const tg_optim *opt, int64_t epoch)
{
    const char *fn = "tg_checkpoint_save";
    if (!path || !m)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    entry *e = tg__malloc(sizeof(entry) * MAX_ENTRIES);
    if (!e)
        return tg__error_status(TG_ENOMEM, "%s: out of memory", fn);
    int n = collect(m, opt, e, fn);
    tg_status st = TG_OK;
    json_t *hdr = json_object(), *meta = json_object();
    char *js = NULL, tmp[4096] = "";
    int fd = -1;
    if (n < 0 || !hdr || !meta) {
        st = n < 0 ? TG_EINVAL : TG_ENOMEM;
        goto done;
    }
    char num[32];
    json_object_set_new(meta, "format", json_string(FORMAT));
    snprintf(num, sizeof num, "%" PRId64, epoch);
    json_object_set_new(meta, "epoch", json_string(num));
    snprintf(num, sizeof num, "%" PRIu64, tg_model_rng_counter(m));
    json_object_set_new(meta, "rng_counter", json_string(num));
    if (opt) {
        snprintf(num, sizeof num, "%" PRId64, tg_optim_steps(opt));
        json_object_set_new(meta, "optim_steps", json_string(num));
        json_object_set_new(meta, "optim", json_string(tg_optim_name(opt)));
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *t = e[i].t;
        if (!tg_tensor_is_contiguous(t)) {
            st = tg__error_status(TG_EINVAL, "%s: %s is not contiguous", fn, e[i].name);
            goto done;
        }
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *ent = json_object();
        json_object_set_new(ent, "dtype", json_string(st_dtype(t->dtype)));
        json_object_set_new(ent, "shape", shape);
        json_object_set_new(ent, "data_offsets",
                            json_pack("[II]", (json_int_t)off, (json_int_t)(off + nbytes(t))));
        json_object_set_new(hdr, e[i].name, ent);
        char key[128], hex[17];
        snprintf(key, sizeof key, "xxh3.%s", e[i].name);
        snprintf(hex, sizeof hex, "%016" PRIx64, (uint64_t)XXH3_64bits(bytes_of(t), nbytes(t)));
        json_object_set_new(meta, key, json_string(hex));
        off += nbytes(t);
    }
    json_object_set(hdr, "__metadata__", meta);
    js = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    if (!js) {
        st = tg__error_status(TG_ENOMEM, "%s: out of memory", fn);
        goto done;
    }
    size_t hl = strlen(js), padded = (hl + 7) / 8 * 8;
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = tg__error_status(TG_EIO, "%s: cannot create a temporary file beside %s: %s", fn, path,
                              strerror(errno));
        tmp[0] = 0;
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    bool ok = write_all(fd, len8, 8) && write_all(fd, js, hl) &&
              write_all(fd, "        ", padded - hl);
    for (int i = 0; ok && i < n; i++)
        ok = write_all(fd, bytes_of(e[i].t), nbytes(e[i].t));
    if (!ok || fsync(fd) != 0) {
        st = tg__error_status(TG_EIO, "%s: writing %s failed: %s", fn, tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = tg__error_status(TG_EIO, "%s: closing %s failed: %s", fn, tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = tg__error_status(TG_EIO, "%s: renaming to %s failed: %s", fn, path, strerror(errno));
        goto done;
    }
    tmp[0] = 0;
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* make the rename durable */
        if (fsync(dfd) != 0)
            st = tg__error_status(TG_EIO, "%s: fsync of the directory failed: %s", fn, strerror(errno));
        close(dfd);
    }
done:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    free(js);
    json_decref(hdr);
    json_decref(meta);
    tg__mfree(e);
    return st;
}

/* ------------------------------------------------------------------- load */

static tg_status bad(const char *path, const char *what, const char *name)
{
    return tg__error_status(TG_EFORMAT, "tg_checkpoint_load: %s: %s%s%s", path, what,
                            name ? ": " : "", name ? name : "");
}

static bool meta_u64(json_t *meta, const char *key, uint64_t *v, bool hex)
{
    json_t *s = json_object_get(meta, key);
    if (!json_is_string(s))
        return false;
    const char *txt = json_string_value(s);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(txt, &end, hex ? 16 : 10);
    if (!*txt || *end || errno || txt[0] == '-' || (hex && strlen(txt) != 16))
        return false;
    *v = x;
    return true;
}

typedef struct {
    uint64_t b, e;
} range;

static int by_begin(const void *a, const void *b)
{
    uint64_t x = ((const range *)a)->b, y = ((const range *)b)->b;
    return (x > y) - (x < y);
}

tg_status tg_checkpoint_load(const char *path, tg_model *m, tg_optim *opt, int64_t *epoch)
{
    const char *fn = "tg_checkpoint_load";
    if (!path || !m)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg__error_status(TG_EIO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0) {
        fclose(f);
        return tg__error_status(TG_EIO, "%s: cannot stat %s", fn, path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        fclose(f);
        return bad(path, "file shorter than the 8-byte header length", NULL);
    }
    char *buf = tg__malloc(size);
    entry *e = tg__malloc(sizeof(entry) * MAX_ENTRIES);
    range *ranges = tg__malloc(sizeof(range) * MAX_ENTRIES);
    json_t *hdr = NULL;
    tg_status st = TG_OK;
    if (!buf || !e || !ranges) {
        st = tg__error_status(TG_ENOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (fread(buf, 1, size, f) != size) {
        st = tg__error_status(TG_EIO, "%s: cannot read %s", fn, path);
        goto done;
    }
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)(unsigned char)buf[i] << (8 * i);
    if (hl > MAX_HEADER || hl > size - 8) {
        st = bad(path, "header length past the end of the file or over 100 MB", NULL);
        goto done;
    }
    json_error_t jerr;
    hdr = json_loadb(buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &jerr);
    if (!hdr) {
        st = tg__error_status(TG_EFORMAT, "%s: %s: header is not valid JSON: %s", fn, path, jerr.text);
        goto done;
    }
    if (!json_is_object(hdr)) {
        st = bad(path, "header is not a JSON object", NULL);
        goto done;
    }
    json_t *meta = json_object_get(hdr, "__metadata__");
    if (!json_is_object(meta) ||
        !json_is_string(json_object_get(meta, "format")) ||
        strcmp(json_string_value(json_object_get(meta, "format")), FORMAT)) {
        st = bad(path, "__metadata__ missing or not a " FORMAT " checkpoint", NULL);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val) if (!json_is_string(val))
    {
        st = bad(path, "__metadata__ value is not a string", key);
        goto done;
    }
    int n = collect(m, opt, e, fn);
    if (n < 0) {
        st = TG_EINVAL;
        goto done;
    }
    /* without an optimizer, its saved state is verified below but not loaded */
    int skipped = 0;
    json_object_foreach(hdr, key, val) if (!opt && !strncmp(key, "optim.", 6))
    {
        json_t *offs = json_object_get(val, "data_offsets");
        json_t *b = json_array_get(offs, 0), *en = json_array_get(offs, 1);
        char mkey[128];
        uint64_t want;
        snprintf(mkey, sizeof mkey, "xxh3.%s", key);
        if (!json_is_object(val) || !json_is_integer(b) || !json_is_integer(en) ||
            json_integer_value(b) < 0 || json_integer_value(en) < json_integer_value(b) ||
            (uint64_t)json_integer_value(en) > size - 8 - hl || n + skipped >= MAX_ENTRIES ||
            !meta_u64(meta, mkey, &want, true) ||
            XXH3_64bits(buf + 8 + hl + json_integer_value(b),
                        (size_t)(json_integer_value(en) - json_integer_value(b))) != want) {
            st = bad(path, "invalid or corrupt optimizer entry", key);
            goto done;
        }
        ranges[n + skipped].b = (uint64_t)json_integer_value(b);
        ranges[n + skipped].e = (uint64_t)json_integer_value(en);
        skipped++;
    }
    if ((int)json_object_size(hdr) != n + skipped + 1) {
        st = bad(path, "tensor count differs from the model's (unknown or missing tensors)", NULL);
        goto done;
    }
    uint64_t data = size - 8 - hl;
    for (int i = 0; i < n; i++) {
        const tg_tensor *t = e[i].t;
        json_t *ent = json_object_get(hdr, e[i].name), *shape, *offs, *dt;
        if (!json_is_object(ent) || json_object_size(ent) != 3) {
            st = bad(path, "tensor missing or with unknown fields", e[i].name);
            goto done;
        }
        dt = json_object_get(ent, "dtype");
        if (!json_is_string(dt) || strcmp(json_string_value(dt), st_dtype(t->dtype))) {
            st = bad(path, "dtype differs from the model's", e[i].name);
            goto done;
        }
        shape = json_object_get(ent, "shape");
        bool ok = json_is_array(shape) && (int)json_array_size(shape) == t->ndim;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_is_integer(json_array_get(shape, (size_t)d)) &&
                 json_integer_value(json_array_get(shape, (size_t)d)) == t->shape[d];
        if (!ok) {
            st = bad(path, "shape differs from the model's", e[i].name);
            goto done;
        }
        offs = json_object_get(ent, "data_offsets");
        json_t *b = json_array_get(offs, 0), *en = json_array_get(offs, 1);
        if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(b) ||
            !json_is_integer(en) || json_integer_value(b) < 0 ||
            json_integer_value(en) < json_integer_value(b) ||
            (uint64_t)json_integer_value(en) > data ||
            (uint64_t)(json_integer_value(en) - json_integer_value(b)) != nbytes(t)) {
            st = bad(path, "data_offsets invalid for the tensor's size", e[i].name);
            goto done;
        }
        ranges[i].b = (uint64_t)json_integer_value(b);
        ranges[i].e = (uint64_t)json_integer_value(en);
        char mkey[128];
        uint64_t want;
        snprintf(mkey, sizeof mkey, "xxh3.%s", e[i].name);
        if (!meta_u64(meta, mkey, &want, true)) {
            st = bad(path, "checksum missing", e[i].name);
            goto done;
        }
        if (XXH3_64bits(buf + 8 + hl + ranges[i].b, nbytes(t)) != want) {
            st = bad(path, "checksum mismatch", e[i].name);
            goto done;
        }
    }
    /* the tensors must tile the data section exactly: no gaps, overlaps or trailing bytes */
    range sorted[MAX_ENTRIES];
    memcpy(sorted, ranges, sizeof(range) * (size_t)(n + skipped));
    qsort(sorted, (size_t)(n + skipped), sizeof(range), by_begin);
    uint64_t at = 0;
    for (int i = 0; i < n + skipped; i++) {
        if (sorted[i].b != at) {
            st = bad(path, "data_offsets leave a gap or overlap", NULL);
            goto done;
        }
        at = sorted[i].e;
    }
    if (at != data) {
        st = bad(path, "bytes after the last tensor", NULL);
        goto done;
    }
    uint64_t ep = 0, rng = 0, steps = 0;
    if (!meta_u64(meta, "epoch", &ep, false) || !meta_u64(meta, "rng_counter", &rng, false) ||
        (opt && !meta_u64(meta, "optim_steps", &steps, false))) {
        st = bad(path, "__metadata__ epoch, rng_counter or optim_steps missing or invalid", NULL);
        goto done;
    }
    if (opt && (!json_is_string(json_object_get(meta, "optim")) ||
                strcmp(json_string_value(json_object_get(meta, "optim")), tg_optim_name(opt)))) {
        st = bad(path, "saved with another optimizer", tg_optim_name(opt));
        goto done;
    }
    /* everything verified: now change the model */
    for (int i = 0; i < n; i++)
        memcpy((char *)e[i].t->data + (size_t)e[i].t->offset * tg_dtype_size(e[i].t->dtype),
               buf + 8 + hl + ranges[i].b, nbytes(e[i].t));
    tg_model_set_rng_counter(m, rng);
    if (opt)
        tg_optim_set_steps(opt, (int64_t)steps);
    if (epoch)
        *epoch = (int64_t)ep;
done:
    fclose(f);
    json_decref(hdr);
    tg__mfree(buf);
    tg__mfree(e);
    tg__mfree(ranges);
    return st;
}
