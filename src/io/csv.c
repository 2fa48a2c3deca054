/* The CSV loader (tg_csv_load, declared in prep.h): plain or gzip text, skipped lines, a
 * header of names that select the columns, class labels or float targets. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "../util.h"
#include "internal.h"
#include "prep.h"

tg_csv_opts tg_csv_defaults(void)
{
    tg_csv_opts o = {.header = false, .label_column = -1, .delimiter = ',', .dtype = TG_F32,
                     .skip_lines = 0, .label_name = NULL, .feature_names = NULL,
                     .feature_count = 0, .label_dtype = TG_I32};
    return o;
}

/* the 1-based line of byte offset `at` of text */
static int64_t line_of(const char *text, size_t at)
{
    int64_t line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

/* The whole file, decompressed when it is gzip data, NUL-terminated; NULL with *st set
 * (TG_EIO, TG_ENOMEM or TG_EFORMAT). A plain regular file is read into one buffer of its
 * size (+2 bytes); anything else (gzip data, a pipe) into a buffer that doubles as data
 * arrives. */
static char *slurp(const char *path, size_t *len, tg_status *st)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *st = tg__error_status(TG_EIO, "tg_csv_load: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    int e = fstat(fd, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0;
    if (e) {
        close(fd);
        *st = tg__error_status(TG_EIO, "tg_csv_load: cannot read %s: %s", path, strerror(e));
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        *st = tg__error_status(TG_ENOMEM, "tg_csv_load: %s: zlib could not set up the stream",
                               path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    if (S_ISREG(sb.st_mode) && gzdirect(f)) {
        if ((uint64_t)sb.st_size > (uint64_t)(SIZE_MAX / 2 - 2)) {
            gzclose(f);
            *st = tg__error_status(TG_ENOMEM, "tg_csv_load: %s is too large", path);
            return NULL;
        }
        cap = (size_t)sb.st_size + 1; /* one more byte shows whether the file grew */
    }
    char *buf = tg__malloc(cap + 1);
    while (buf) {
        /* gzip data in pieces: zlib drops a piece that ends in an error, so a small piece
         * lets the message name a line close to the corruption */
        size_t piece = gzdirect(f) || cap - n < 4096 ? cap - n : 4096, got;
        n += got = tg__gz_read(f, buf + n, piece);
        if (got < piece)
            break;
        if (n < cap)
            continue;
        if (cap > SIZE_MAX / 4)
            break;
        char *bigger = tg__malloc(2 * cap + 1);
        if (bigger)
            memcpy(bigger, buf, n);
        tg__mfree(buf);
        buf = bigger;
        cap *= 2;
    }
    const char *zmsg = "read error";
    tg_status zs = buf ? tg__gz_failure(f, &zmsg) : TG_ENOMEM;
    if (!buf || (zs == TG_OK && n == cap)) /* out of memory, or beyond SIZE_MAX / 4 */
        *st = zs = tg__error_status(TG_ENOMEM, "tg_csv_load: cannot read %s: out of memory",
                                    path);
    else if (zs != TG_OK && gzdirect(f))
        *st = tg__error_status(zs, "tg_csv_load: cannot read %s: %s", path, zmsg);
    else if (zs != TG_OK) /* the line reached: the last complete line's number */
        *st = tg__error_status(zs, "tg_csv_load: %s: corrupt or truncated gzip data after "
                                   "line %lld (uncompressed offset %zu): %s",
                               path, (long long)line_of(buf, n) - 1, n, zmsg);
    gzclose(f);
    if (!buf || zs != TG_OK) {
        tg__mfree(buf);
        return NULL;
    }
    const char *nul = memchr(buf, 0, n);
    if (nul) {
        size_t at = (size_t)(nul - buf);
        *st = tg__error_status(TG_EFORMAT, "tg_csv_load: %s:%lld: byte offset %zu: NUL byte "
                                           "(not a text file)",
                               path, (long long)line_of(buf, at), at);
        tg__mfree(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* What the passes need to know about the columns. */
typedef struct csv_cols {
    const char *path;
    const tg_csv_opts *o;
    const char *header;     /* the header line (NUL-terminated, intact), or NULL */
    int64_t header_line;    /* its line number */
    int64_t header_cols;    /* its column count when names select columns, else -1 */
    int64_t label;          /* the label column, or -1 */
    int32_t *feature_of;    /* [header_cols]: feature index of each column, or -1; NULL:
                             * every column but the label's, in order */
    int64_t features;       /* feature count with feature_of (else known after a pass) */
} csv_cols;

/* cell c (0-based) of a line, trimmed of blanks (and of a pair of double quotes when
 * unquote): *len bytes at the returned pointer; NULL when the line has fewer cells */
static const char *field(const char *line, char delim, int64_t c, bool unquote, size_t *len)
{
    const char *p = line;
    for (int64_t i = 0; i < c; i++) {
        p = strchr(p, delim);
        if (!p)
            return NULL;
        p++;
    }
    const char *end = strchr(p, delim);
    end = end ? end : p + strlen(p);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (unquote && end - p >= 2 && *p == '"' && end[-1] == '"') {
        p++;
        end--;
    }
    *len = (size_t)(end - p);
    return p;
}

/* " (column 'name')" for messages about column c, or "" without a header */
static const char *col_name(const csv_cols *k, int64_t c, char *buf, size_t cap)
{
    size_t len;
    const char *f = k->header ? field(k->header, k->o->delimiter, c, true, &len) : NULL;
    if (!f)
        return "";
    snprintf(buf, cap, " (column '%.*s')", (int)(len > 32 ? 32 : len), f);
    return buf;
}

/* the column whose header name is `name`: TG_OK with *col, else TG_EFORMAT */
static tg_status find_column(const csv_cols *k, const char *name, const char *role,
                             int64_t *col)
{
    *col = -1;
    size_t nl = strlen(name), len;
    for (int64_t c = 0; c < k->header_cols; c++) {
        const char *f = field(k->header, k->o->delimiter, c, true, &len);
        if (len != nl || memcmp(f, name, nl) != 0)
            continue;
        if (*col >= 0)
            return tg__error_status(TG_EFORMAT,
                                    "tg_csv_load: %s:%lld: %s name '%.32s' is ambiguous: "
                                    "columns %lld and %lld of the header have it",
                                    k->path, (long long)k->header_line, role, name,
                                    (long long)*col + 1, (long long)c + 1);
        *col = c;
    }
    if (*col < 0)
        return tg__error_status(TG_EFORMAT,
                                "tg_csv_load: %s:%lld: no column named '%.32s' (the %s) in "
                                "the header of %lld columns",
                                k->path, (long long)k->header_line, name, role,
                                (long long)k->header_cols);
    return TG_OK;
}

/* the header line's column count */
static int64_t count_cells(const char *line, char delim)
{
    int64_t n = 1;
    for (const char *p = strchr(line, delim); p; p = strchr(p + 1, delim))
        n++;
    return n;
}

/* Resolves label_name and feature_names against the header (k->header set). */
static tg_status resolve_names(csv_cols *k)
{
    const tg_csv_opts *o = k->o;
    k->header_cols = count_cells(k->header, o->delimiter);
    if (o->label_name) {
        tg_status s = find_column(k, o->label_name, "label", &k->label);
        if (s != TG_OK)
            return s;
    }
    if (!o->feature_names)
        return TG_OK;
    if ((uint64_t)k->header_cols > SIZE_MAX / sizeof *k->feature_of)
        return tg__error_status(TG_ENOMEM, "tg_csv_load: %s: out of memory", k->path);
    k->feature_of = tg__malloc((size_t)k->header_cols * sizeof *k->feature_of);
    if (!k->feature_of)
        return tg__error_status(TG_ENOMEM, "tg_csv_load: %s: out of memory for %lld columns",
                                k->path, (long long)k->header_cols);
    for (int64_t c = 0; c < k->header_cols; c++)
        k->feature_of[c] = -1;
    for (int i = 0; i < o->feature_count; i++) {
        int64_t c;
        tg_status s = find_column(k, o->feature_names[i], "feature", &c);
        if (s != TG_OK)
            return s;
        k->feature_of[c] = i; /* distinct names (checked with the options): distinct columns */
    }
    if (k->label >= 0 && k->label < k->header_cols && k->feature_of[k->label] >= 0)
        return tg__error_status(TG_EFORMAT,
                                "tg_csv_load: %s:%lld: label column %lld is also feature '%.32s'",
                                k->path, (long long)k->header_line, (long long)k->label,
                                o->feature_names[k->feature_of[k->label]]);
    k->features = o->feature_count;
    return TG_OK;
}

/* one pass counts rows/columns and validates; a second fills (fill == true). text starts
 * at line first_line + 1 of the file. */
static tg_status csv_pass(const csv_cols *k, char *text, int64_t first_line, bool fill,
                          int64_t *rows, int64_t *cols, tg_tensor *x, tg_tensor *y)
{
    const tg_csv_opts *o = k->o;
    const char *path = k->path;
    int64_t line = first_line, r = 0, ncols = k->header_cols, ref_line = k->header_line;
    bool int_labels = o->label_dtype == TG_I32;
    char name[48];
    char *p = text;
    while (*p) {
        char *end = strchr(p, '\n');
        if (end)
            *end = 0;
        line++;
        size_t L = strlen(p);
        if (L && p[L - 1] == '\r')
            p[L - 1] = ' '; /* CRLF: a trailing blank (not NUL: the text is read twice) */
        if (strspn(p, " \t") != L) {
            int64_t c = 0, feat = 0;
            char *cell = p;
            for (;;) {
                char *sep = strchr(cell, o->delimiter);
                bool is_label = c == k->label;
                int64_t fi = -1;
                if (k->feature_of)
                    fi = c < k->header_cols ? k->feature_of[c] : -1;
                else if (!is_label)
                    fi = feat++;
                if (is_label || fi >= 0) {
                    if (sep)
                        *sep = 0;
                    char *num_end;
                    double v = strtod(cell, &num_end);
                    bool none = num_end == cell; /* before skipping: a blank cell is empty */
                    while (*num_end == ' ' || *num_end == '\t')
                        num_end++;
                    const char *why = none || *num_end ? "not a number"
                                      : !isfinite(v) ? "not a finite number" /* nan, inf, huge */
                                      /* a double beyond the float range would load as inf */
                                      : (is_label ? o->label_dtype : o->dtype) == TG_F32 &&
                                                fabs(v) > FLT_MAX
                                          ? "out of the f32 range"
                                      : is_label && int_labels &&
                                                (v != floor(v) || v < -2147483648.0 ||
                                                 v > 2147483647.0)
                                          ? "class label is not an integer in the int32 range"
                                          : NULL;
                    if (why)
                        return tg__error_status(TG_EFORMAT,
                                                "tg_csv_load: %s:%lld:%lld: %s: '%.40s'%s", path,
                                                (long long)line, (long long)c + 1, why, cell,
                                                col_name(k, c, name, sizeof name));
                    if (fill && is_label && int_labels)
                        ((int32_t *)y->data)[r] = (int32_t)v;
                    else if (fill && is_label)
                        tg_tensor_set_flat(y, r, v);
                    else if (fill)
                        tg_tensor_set_flat(x, r * *cols + fi, v);
                    if (sep)
                        *sep = o->delimiter; /* the text stays intact for the second pass */
                }
                c++;
                if (!sep)
                    break;
                cell = sep + 1;
            }
            if (ncols < 0) {
                ncols = c;
                ref_line = line;
            } else if (c != ncols) {
                return tg__error_status(TG_EFORMAT,
                                        "tg_csv_load: %s:%lld: ragged row: %lld columns, expected "
                                        "%lld as on line %lld%s",
                                        path, (long long)line, (long long)c, (long long)ncols,
                                        (long long)ref_line,
                                        ref_line == k->header_line ? " (the header)" : "");
            }
            if (k->label >= ncols)
                return tg__error_status(TG_EFORMAT,
                                        "tg_csv_load: %s:%lld: label column %lld but only %lld "
                                        "columns",
                                        path, (long long)line, (long long)k->label,
                                        (long long)ncols);
            r++;
        }
        if (!end)
            break;
        *end = '\n';
        p = end + 1;
    }
    if (r == 0 && line == 0)
        return tg__error_status(TG_EFORMAT, "tg_csv_load: %s: empty file", path);
    if (r == 0)
        return tg__error_status(TG_EFORMAT, "tg_csv_load: %s: no data rows in its %lld line%s",
                                path, (long long)line, line == 1 ? "" : "s");
    *rows = r;
    *cols = k->feature_of ? k->features : ncols - (k->label >= 0 ? 1 : 0);
    return TG_OK;
}

/* TG_OK when the options are usable, else TG_EINVAL with the reason */
static tg_status check_opts(const tg_csv_opts *o)
{
    if (!tg__is_float(o->dtype) || o->delimiter == 0 || o->delimiter == '\n' ||
        o->delimiter == '\r' || o->label_column < -1 || o->skip_lines < 0 ||
        (o->label_dtype != TG_I32 && !tg__is_float(o->label_dtype)) || o->feature_count < 0 ||
        (o->feature_names && o->feature_count < 1) || (!o->feature_names && o->feature_count))
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options");
    if ((o->label_name || o->feature_names) && !o->header)
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: columns selected by "
                                           "name need header = true");
    if (o->label_name && o->label_column >= 0)
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: both label_name '%.32s' "
                                           "and label_column %d",
                                o->label_name, o->label_column);
    for (int i = 0; o->feature_names && i < o->feature_count; i++) {
        const char *n = o->feature_names[i];
        if (!n)
            return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: feature_names[%d] "
                                               "is NULL", i);
        if (o->label_name && strcmp(n, o->label_name) == 0)
            return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: '%.32s' is both "
                                               "the label and feature %d",
                                    n, i);
        for (int j = 0; j < i; j++)
            if (strcmp(n, o->feature_names[j]) == 0)
                return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: feature name "
                                                   "'%.32s' is listed twice (%d and %d)",
                                        n, j, i);
    }
    return TG_OK;
}

tg_status tg_csv_load(const char *path, const tg_csv_opts *opts, tg_tensor **x,
                      tg_tensor **labels)
{
    tg_csv_opts o = opts ? *opts : tg_csv_defaults();
    bool has_label = o.label_column >= 0 || o.label_name;
    if (!path || !x || (has_label && !labels))
        return tg__error_status(TG_EINVAL, "tg_csv_load: NULL argument");
    *x = NULL;
    if (labels)
        *labels = NULL;
    tg_status s = check_opts(&o);
    if (s != TG_OK)
        return s;
    size_t len;
    char *text = slurp(path, &len, &s);
    if (!text)
        return s;
    csv_cols k = {.path = path, .o = &o, .header_cols = -1, .label = o.label_column};
    /* the lines before the data: skip_lines, then the header */
    int64_t line = 0;
    char *body = text;
    for (int64_t i = 0; *body && i < (int64_t)o.skip_lines + o.header; i++) {
        char *end = strchr(body, '\n');
        line++;
        if (o.header && i == o.skip_lines) {
            k.header = body;
            k.header_line = line;
            if (end)
                *end = 0; /* the header line stays a string of its own */
        }
        body = end ? end + 1 : body + strlen(body);
    }
    if ((o.label_name || o.feature_names) && !k.header)
        s = tg__error_status(TG_EFORMAT, "tg_csv_load: %s: %s", path,
                             line == 0 ? "empty file" : "no header row after the skipped lines");
    else if (o.label_name || o.feature_names)
        s = resolve_names(&k);
    int64_t rows = 0, cols = 0;
    if (s == TG_OK)
        s = csv_pass(&k, body, line, false, &rows, &cols, NULL, NULL);
    if (s == TG_OK) {
        *x = tg_zeros(o.dtype, 2, (int64_t[]){rows, cols});
        if (k.label >= 0)
            *labels = o.label_dtype == TG_I32 ? tg_zeros(TG_I32, 1, &rows)
                                              : tg_zeros(o.label_dtype, 2, (int64_t[]){rows, 1});
        if (!*x || (k.label >= 0 && !*labels))
            s = tg__error_status(TG_ENOMEM, "tg_csv_load: %s: out of memory for [%lld, %lld]",
                                 path, (long long)rows, (long long)cols);
        else
            s = csv_pass(&k, body, line, true, &rows, &cols, *x, labels ? *labels : NULL);
    }
    tg__mfree(k.feature_of);
    tg__mfree(text);
    if (s != TG_OK) {
        tg_tensor_free(x);
        if (labels)
            tg_tensor_free(labels);
    }
    return s;
}

