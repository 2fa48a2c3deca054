/* The safetensors format: writing a file atomically (temp file, fsync, rename) with
 * tapegrad's checksums in __metadata__, and reading one back with every check (header
 * checksum first, JSON within a budget, entries, tiling, tensor checksums), for
 * checkpoints (checkpoint.c) and for the generic reader (reader.c). Little-endian hosts only:
 * tensors are written and read as the host's bytes (meson.build rejects other hosts,
 * this guard builds without it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../util.h"
#include "checkpoint.h"
#include "internal.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tapegrad supports little-endian hosts only: checkpoints are written without byte swapping"
#endif

#define MAX_ENTRIES TG__ST_MAX_ENTRIES
#define MAX_NAME TG__ST_MAX_NAME
#define MAX_HEADER ((uint64_t)100 << 20)
/* bytes jansson may allocate (in total, frees not subtracted) while parsing one header:
 * MAX_ENTRIES tensors of rank 8 with 127-byte names need about 2 MiB */
#define JSON_BUDGET ((size_t)4 << 20)
#define HKEY "\"header_xxh3\":\""
#define HKEY_LEN (sizeof HKEY - 1)
#define PLACEHOLDER "0000000000000000"

/* The fuzz targets' copy of the library only (tests/fuzz, -Dfuzz=true; never a normal
 * build): a checksum that does not match is not fatal, so the fuzzer, which cannot forge
 * XXH3, reaches the validation behind the checksums. Anyone writing a file by hand can
 * compute them, so that code faces hostile input and must be fuzzed. Every other check,
 * the checksums' own syntax included, stays. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUM_MISMATCH_FATAL false
#else
#define CHECKSUM_MISMATCH_FATAL true
#endif

/* ------------------------------------------- jansson through tg's allocator */

/* jansson's allocator is process-global (json_set_alloc_funcs): it is set once to
 * tapegrad's hook. While a header is parsed, this thread's budget caps what the parse
 * may allocate, so a small header cannot expand into a huge tree. */
static _Thread_local struct {
    bool on, over, oom;
    size_t left;
} tl_json;

static void *json_alloc(size_t n)
{
    if (tl_json.on) {
        if (n > tl_json.left) {
            tl_json.over = true;
            return NULL;
        }
        tl_json.left -= n;
    }
    void *p = tg__malloc(n);
    if (!p)
        tl_json.oom = true;
    return p;
}

static void json_release(void *p) { tg__mfree(p); }

static pthread_once_t json_once = PTHREAD_ONCE_INIT;
static void json_setup(void) { json_set_alloc_funcs(json_alloc, json_release); }
static void use_tg_allocator(void) { pthread_once(&json_once, json_setup); }

/* ------------------------------------------------------------------ dtypes */

static const struct {
    const char *name;
    size_t size;
} dtypes[D_COUNT] = {
    {"F64", 8}, {"F32", 4}, {"I32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I16", 2},
    {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E5M2", 1},
    {"F8_E4M3", 1},
};

int tg__st_code_of(tg_dtype d) { return d == TG_F32 ? D_F32 : d == TG_F64 ? D_F64 : D_I32; }

const char *tg__st_dtype_name(int code) { return dtypes[code].name; }

size_t tg__st_dtype_size(int code) { return dtypes[code].size; }

size_t tg__st_nbytes(const tg_tensor *t)
{
    return (size_t)tg_tensor_numel(t) * tg_dtype_size(t->dtype);
}

void *tg__st_bytes(const tg_tensor *t)
{
    return (char *)t->data + (size_t)t->offset * tg_dtype_size(t->dtype);
}

static void hex16(char *out, uint64_t h)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        out[i] = digits[(h >> (60 - 4 * i)) & 15];
}

/* 16 lowercase hex digits, nothing else */
static bool parse_hex16(const char *s, size_t len, uint64_t *v)
{
    if (len != 16)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

/* the header checksum: XXH3-64 of the 8-byte length and the header bytes (padding
 * included) with the checksum's 16 digits at `at` replaced by PLACEHOLDER */
static uint64_t header_hash(char *file, uint64_t hl, size_t at)
{
    char saved[16];
    memcpy(saved, file + at, 16);
    memcpy(file + at, PLACEHOLDER, 16);
    uint64_t h = XXH3_64bits(file, 8 + (size_t)hl);
    memcpy(file + at, saved, 16);
    return h;
}

/* --------------------------------------------------------------------- save */


tg_status tg__st_oom(const char *fn)
{
    return tg__error_status(TG_ENOMEM, "%s: out of memory", fn);
}

/* the safetensors header of n tensors plus metadata (kv: nmeta key/value pairs), with
 * PLACEHOLDER as header_xxh3; NULL with tl_json.oom on allocation failure */
static json_t *build_header(int n, const char *const *names, const tg_tensor *const *ts,
                            int nmeta, const char *const *kv)
{
    json_t *hdr = json_object(), *meta = json_object();
    bool ok = hdr && meta && json_object_set(hdr, "__metadata__", meta) == 0 &&
              json_object_set_new(meta, "header_xxh3", json_string(PLACEHOLDER)) == 0;
    for (int i = 0; ok && i < nmeta; i++)
        ok = json_object_set_new(meta, kv[2 * i], json_string(kv[2 * i + 1])) == 0;
    size_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        /* each *_set_new / *_append_new takes its value's reference, even when it fails */
        const tg_tensor *t = ts[i];
        json_t *ent = json_object(), *shape = NULL;
        ok = json_object_set_new(hdr, names[i], ent) == 0;
        if (ok) {
            shape = json_array();
            ok = json_object_set_new(ent, "shape", shape) == 0;
        }
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_array_append_new(shape, json_integer(t->shape[d])) == 0;
        char key[MAX_NAME + 8], hex[17] = {0};
        snprintf(key, sizeof key, "xxh3.%s", names[i]);
        hex16(hex, XXH3_64bits(tg__st_bytes(t), tg__st_nbytes(t)));
        ok = ok && json_object_set_new(ent, "dtype", json_string(dtypes[tg__st_code_of(t->dtype)].name)) == 0 &&
             json_object_set_new(ent, "data_offsets",
                                 json_pack("[II]", (json_int_t)off, (json_int_t)(off + tg__st_nbytes(t)))) == 0 &&
             json_object_set_new(meta, key, json_string(hex)) == 0;
        off += tg__st_nbytes(t);
    }
    json_decref(meta);
    if (!ok) {
        json_decref(hdr);
        return NULL;
    }
    return hdr;
}

static bool reserved_meta_key(const char *k)
{
    return !strcmp(k, "header_xxh3") || !strncmp(k, "xxh3.", 5);
}

/* the arguments of a write: names unique, non-empty, short and not reserved; tensors
 * contiguous; metadata keys not reserved */
static tg_status check_write_args(const char *fn, const char *path, int n,
                                  const char *const *names, const tg_tensor *const *ts, int nmeta,
                                  const char *const *kv)
{
    if (!path || n < 0 || n > MAX_ENTRIES || (n && (!names || !ts)) || nmeta < 0 || (nmeta && !kv))
        return tg__error_status(TG_EINVAL, "%s: NULL argument or bad count", fn);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !ts[i] || !*names[i] || strlen(names[i]) >= MAX_NAME ||
            !strcmp(names[i], "__metadata__"))
            return tg__error_status(TG_EINVAL, "%s: tensor %d: NULL, or name empty, too long or "
                                    "reserved", fn, i);
        if (!tg_tensor_is_contiguous(ts[i]))
            return tg__error_status(TG_EINVAL, "%s: %s is not contiguous", fn, names[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return tg__error_status(TG_EINVAL, "%s: name %s given twice", fn, names[i]);
    }
    for (int i = 0; i < nmeta; i++)
        if (!kv[2 * i] || !kv[2 * i + 1] || reserved_meta_key(kv[2 * i]))
            return tg__error_status(TG_EINVAL, "%s: metadata key %d NULL or reserved", fn, i);
    return TG_OK;
}

/* The file's first 8 + *padded bytes into *head (tg__malloc'd): the length, the JSON
 * header padded with spaces to a multiple of 8, and its header checksum in place of the
 * placeholder. */
static tg_status render_header(const char *fn, int n, const char *const *names,
                               const tg_tensor *const *ts, int nmeta, const char *const *kv,
                               char **head, size_t *padded)
{
    use_tg_allocator();
    tl_json.oom = false;
    json_t *hdr = build_header(n, names, ts, nmeta, kv);
    if (!hdr)
        return tl_json.oom ? tg__st_oom(fn)
                           : tg__error_status(TG_EINVAL, "%s: a name or value is not valid UTF-8", fn);
    size_t hl = json_dumpb(hdr, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
    size_t pad = (hl + 7) / 8 * 8;
    char *h = hl ? tg__malloc(8 + pad) : NULL;
    tg_status st = TG_OK;
    if (!h || json_dumpb(hdr, h + 8, hl, JSON_COMPACT | JSON_SORT_KEYS) != hl || tl_json.oom) {
        st = tg__st_oom(fn);
        goto done;
    }
    memset(h + 8 + hl, ' ', pad - hl);
    for (int i = 0; i < 8; i++)
        h[i] = (char)(unsigned char)((uint64_t)pad >> (8 * i));
    /* the placeholder occurs exactly once: names and values are quoted JSON strings */
    char *at = NULL;
    for (size_t i = 8; i + HKEY_LEN + 16 <= 8 + pad; i++)
        if (!memcmp(h + i, HKEY PLACEHOLDER "\"", HKEY_LEN + 17)) {
            at = h + i + HKEY_LEN;
            break;
        }
    if (!at) {
        st = tg__error_status(TG_EINVAL, "%s: header checksum placeholder not found", fn);
        goto done;
    }
    hex16(at, header_hash(h, pad, (size_t)(at - h)));
done:
    json_decref(hdr);
    if (st != TG_OK) {
        tg__mfree(h);
        h = NULL;
    }
    *head = h;
    *padded = pad;
    return st;
}

tg_status tg__st_write(const char *fn, const char *path, int n, const char *const *names,
                       const tg_tensor *const *ts, int nmeta, const char *const *kv)
{
    tg_status st = check_write_args(fn, path, n, names, ts, nmeta, kv);
    char *head = NULL;
    size_t padded = 0;
    if (st == TG_OK)
        st = render_header(fn, n, names, ts, nmeta, kv, &head, &padded);
    if (st == TG_OK)
        st = tg__write_atomically(fn, path, head, 8 + padded, n, ts);
    tg__mfree(head);
    return st;
}

tg_status tg_safetensors_write(const char *path, int n, const char *const *names,
                               const tg_tensor *const *tensors, int nmeta, const char *const *kv)
{
    return tg__st_write("tg_safetensors_write", path, n, names, tensors, nmeta, kv);
}

/* --------------------------------------------------------------------- load */

tg_status tg__st_bad(const st_file *f, const char *what, const char *name)
{
    return tg__error_status(TG_EFORMAT, "%s: %s: %s%s%s", f->fn, f->path, what, name ? ": " : "",
                            name ? name : "");
}
#define bad tg__st_bad

void tg__st_close(st_file *f)
{
    json_decref(f->hdr);
    tg__mfree(f->buf);
    tg__mfree(f->ent);
    f->hdr = NULL;
    f->buf = NULL;
    f->ent = NULL;
}

static int by_offsets(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->b != y->b)
        return (x->b > y->b) - (x->b < y->b);
    return (x->e > y->e) - (x->e < y->e);
}

const st_entry *tg__st_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->ent[i].name, name))
            return &f->ent[i];
    return NULL;
}

static tg_status read_file(st_file *f)
{
    int fd = open(f->path, O_RDONLY);
    if (fd < 0)
        return tg__error_status(TG_EIO, "%s: cannot open %s: %s", f->fn, f->path, strerror(errno));
    struct stat sb;
    tg_status st = TG_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = tg__error_status(TG_EIO, "%s: %s is not a regular file", f->fn, f->path);
        goto done;
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8) {
        st = bad(f, "file shorter than the 8-byte header length", NULL);
        goto done;
    }
    f->buf = tg__malloc(f->size);
    if (!f->buf) {
        st = tg__st_oom(f->fn);
        goto done;
    }
    for (size_t got = 0; got < f->size;) {
        ssize_t r = read(fd, f->buf + got, f->size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = tg__error_status(TG_EIO, "%s: cannot read %s: %s", f->fn, f->path,
                                  r < 0 ? strerror(errno) : "file shrank while read");
            goto done;
        }
        got += (size_t)r;
    }
done:
    close(fd);
    return st;
}

/* The header checksum, found in the raw bytes before anything else is trusted: *found
 * is how many times its key occurs (more than once is an error), *hat where its digits
 * start. Required in our files; verified whenever present. */
static tg_status check_header_checksum(st_file *f, bool ours, int *found, size_t *hat)
{
    const char *buf = f->buf;
    uint64_t hl = f->hl, want = 0;
    *found = 0;
    for (size_t i = 8; i + HKEY_LEN <= 8 + hl; i++)
        if (buf[i] == '"' && !memcmp(buf + i, HKEY, HKEY_LEN)) {
            ++*found;
            *hat = i + HKEY_LEN;
        }
    if (*found > 1)
        return bad(f, "header checksum (header_xxh3) appears more than once", NULL);
    if (*found == 0 && ours)
        return bad(f, "header checksum (header_xxh3) missing: not a " TG__CKPT_FORMAT " file",
                   NULL);
    if (*found && (*hat + 17 > 8 + hl || buf[*hat + 16] != '"' ||
                   !parse_hex16(buf + *hat, 16, &want)))
        return bad(f, "header checksum (header_xxh3) is not 16 lowercase hex digits", NULL);
    if (*found && header_hash(f->buf, hl, *hat) != want && CHECKSUM_MISMATCH_FATAL)
        return bad(f, "header checksum mismatch (the length or header bytes are corrupt)", NULL);
    return TG_OK;
}

/* the header's JSON into f->hdr, within this thread's allocation budget */
static tg_status parse_header(st_file *f)
{
    use_tg_allocator();
    json_error_t jerr;
    tl_json.on = true;
    tl_json.left = JSON_BUDGET;
    tl_json.over = tl_json.oom = false;
    f->hdr = json_loadb(f->buf + 8, (size_t)f->hl, JSON_REJECT_DUPLICATES, &jerr);
    tl_json.on = false;
    /* jansson's lexer ignores some failed allocations and returns a damaged tree (a
     * string cut short): any failed allocation fails the parse */
    if (tl_json.oom)
        return tg__st_oom(f->fn);
    if (tl_json.over)
        return bad(f, "header too complex (its JSON would need over 4 MiB)", NULL);
    if (!f->hdr) {
        return tg__error_status(TG_EFORMAT, "%s: %s: header is not valid JSON: %s", f->fn, f->path,
                                jerr.text);
    }
    if (!json_is_object(f->hdr))
        return bad(f, "header is not a JSON object", NULL);
    return TG_OK;
}

/* __metadata__ into f->meta: an object of strings (in our files with our format), whose
 * header_xxh3 is the checksum found in the raw bytes */
static tg_status check_metadata(st_file *f, bool ours, int found, size_t hat)
{
    json_t *meta = json_object_get(f->hdr, "__metadata__");
    if (meta && !json_is_object(meta))
        return bad(f, "__metadata__ is not an object", NULL);
    const char *key;
    json_t *val;
    if (ours && (!meta || !json_is_string(json_object_get(meta, "format")) ||
                 strcmp(json_string_value(json_object_get(meta, "format")), TG__CKPT_FORMAT)))
        return bad(f, "__metadata__ missing or not a " TG__CKPT_FORMAT " checkpoint", NULL);
    json_object_foreach(meta, key, val)
    {
        if (!json_is_string(val))
            return bad(f, "__metadata__ value is not a string", key);
    }
    json_t *hj = json_object_get(meta, "header_xxh3");
    if ((hj || found) && (!hj || strlen(json_string_value(hj)) != 16 ||
                          memcmp(json_string_value(hj), f->buf + hat, 16)))
        return bad(f, "header checksum is not __metadata__'s header_xxh3", NULL);
    f->meta = meta;
    return TG_OK;
}

/* one tensor entry (key: val) into e: a known dtype, a valid shape, and data_offsets
 * inside the data section (data bytes) that hold exactly the tensor's bytes */
static tg_status parse_entry(const st_file *f, const char *key, json_t *val, uint64_t data,
                             st_entry *e)
{
    e->name = key;
    json_t *dt = json_object_get(val, "dtype"), *shape = json_object_get(val, "shape"),
           *offs = json_object_get(val, "data_offsets");
    if (!json_is_object(val) || json_object_size(val) != 3 || !dt || !shape || !offs)
        return bad(f, "tensor entry malformed or with unknown fields", key);
    e->code = -1;
    for (int d = 0; json_is_string(dt) && d < D_COUNT; d++)
        if (!strcmp(json_string_value(dt), dtypes[d].name))
            e->code = d;
    if (e->code < 0)
        return bad(f, "unknown dtype", key);
    bool ok = json_is_array(shape) && json_array_size(shape) <= TG_MAX_DIMS;
    e->ndim = ok ? (int)json_array_size(shape) : 0;
    for (int d = 0; ok && d < e->ndim; d++) {
        json_t *x = json_array_get(shape, (size_t)d);
        ok = json_is_integer(x) && json_integer_value(x) >= 0;
        e->shape[d] = ok ? json_integer_value(x) : 0;
    }
    int64_t numel = 0;
    if (!ok || !tg__numel(e->ndim, e->shape, &numel) ||
        (uint64_t)numel > UINT64_MAX / dtypes[e->code].size)
        return bad(f, "shape invalid (negative, non-integer, rank over 8 or too many elements)", key);
    json_t *b = json_array_get(offs, 0), *en = json_array_get(offs, 1);
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(b) ||
        !json_is_integer(en) || json_integer_value(b) < 0 ||
        json_integer_value(en) < json_integer_value(b) || (uint64_t)json_integer_value(en) > data ||
        (uint64_t)(json_integer_value(en) - json_integer_value(b)) !=
            (uint64_t)numel * dtypes[e->code].size)
        return bad(f, "data_offsets invalid for the tensor's size", key);
    e->b = (uint64_t)json_integer_value(b);
    e->e = (uint64_t)json_integer_value(en);
    return TG_OK;
}

/* every entry into f->ent, sorted by offsets; the tensors must tile the data section
 * exactly: no gaps, overlaps or trailing bytes */
static tg_status parse_entries(st_file *f)
{
    size_t count = json_object_size(f->hdr) - (f->meta != NULL);
    if (count > MAX_ENTRIES)
        return bad(f, "more than 1024 tensors", NULL);
    f->ent = tg__malloc(sizeof(st_entry) * (count ? count : 1));
    if (!f->ent)
        return tg__st_oom(f->fn);
    uint64_t data = f->size - 8 - f->hl;
    const char *key;
    json_t *val;
    json_object_foreach(f->hdr, key, val)
    {
        if (val == f->meta)
            continue;
        tg_status st = parse_entry(f, key, val, data, &f->ent[f->n++]);
        if (st != TG_OK)
            return st;
    }
    qsort(f->ent, (size_t)f->n, sizeof(st_entry), by_offsets);
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->ent[i].b != at)
            return bad(f, "data_offsets leave a gap or overlap", f->ent[i].name);
        at = f->ent[i].e;
    }
    if (at != data)
        return bad(f, "bytes after the last tensor", NULL);
    return TG_OK;
}

/* tensor checksums: required in our files, verified whenever present; a checksum of a
 * tensor the file lacks is an error */
static tg_status check_tensor_checksums(const st_file *f, bool ours)
{
    const char *key;
    json_t *val;
    json_object_foreach(f->meta, key, val)
    {
        if (!strncmp(key, "xxh3.", 5) && !tg__st_find(f, key + 5))
            return bad(f, "checksum of a tensor the file lacks", key + 5);
    }
    for (int i = 0; i < f->n; i++) {
        char mkey[MAX_NAME + 8];
        const st_entry *e = &f->ent[i];
        if ((size_t)snprintf(mkey, sizeof mkey, "xxh3.%s", e->name) >= sizeof mkey) {
            if (ours)
                return bad(f, "tensor name too long", e->name);
            continue; /* a foreign file's long name: no key of ours can name it */
        }
        json_t *h = json_object_get(f->meta, mkey);
        uint64_t want;
        if (!h && !ours)
            continue;
        if (!h)
            return bad(f, "checksum missing", e->name);
        if (!parse_hex16(json_string_value(h), strlen(json_string_value(h)), &want))
            return bad(f, "checksum is not 16 lowercase hex digits", e->name);
        if (XXH3_64bits(f->buf + 8 + f->hl + e->b, (size_t)(e->e - e->b)) != want &&
            CHECKSUM_MISMATCH_FATAL)
            return bad(f, "checksum mismatch", e->name);
    }
    return TG_OK;
}

tg_status tg__st_open(st_file *f, bool ours)
{
    tg_status st = read_file(f);
    if (st != TG_OK)
        return st;
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)(unsigned char)f->buf[i] << (8 * i);
    if (hl > MAX_HEADER || hl > f->size - 8)
        return bad(f, "header length past the end of the file or over 100 MB", NULL);
    f->hl = hl;
    int found;
    size_t hat = 0;
    if ((st = check_header_checksum(f, ours, &found, &hat)) != TG_OK ||
        (st = parse_header(f)) != TG_OK || (st = check_metadata(f, ours, found, hat)) != TG_OK ||
        (st = parse_entries(f)) != TG_OK)
        return st;
    return check_tensor_checksums(f, ours);
}
