/* Data loader bad inputs: every class of malformed IDX and CSV input, each rejected
 * with its status, a message naming the file and the problem, and NULL outputs. The
 * inputs are built here byte by byte; gzip variants go through zlib. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "tapegrad.h"

static char dir[] = "/tmp/tg-bad-data-XXXXXX";

/* writes n bytes as dir/name, compressed with gzip when gz; returns the path */
static const char *put(const char *name, const void *data, size_t n, bool gz)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (n)
            gzwrite(f, data, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (n)
            fwrite(data, 1, n, f);
        fclose(f);
    }
    return path;
}

/* gzip bytes of data, for corrupting the stream itself */
static size_t gzip_bytes(const void *data, size_t n, unsigned char *out, size_t cap)
{
    put("tmp.gz", data, n, true);
    char path[300];
    snprintf(path, sizeof path, "%s/tmp.gz", dir);
    FILE *f = fopen(path, "rb");
    size_t got = fread(out, 1, cap, f);
    fclose(f);
    return got;
}

#define B(...) (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__})

static void idx(void)
{
    const struct {
        const char *what;
        const unsigned char *data;
        size_t n;
        bool gz;
        const char *msg;
    } bad[] = {
        {"empty file", NULL, 0, false, "offset 0: file shorter than the 4-byte magic"},
        {"empty gzip stream", NULL, 0, true, "offset 0: file shorter than the 4-byte magic"},
        {"magic cut short", B(0, 0, 8), false, "offset 0: file shorter than the 4-byte magic"},
        {"wrong magic", B(0, 0, 9, 1, 0, 0, 0, 1, 5), false, "bad magic 00000901"},
        {"magic with nonzero first byte", B(1, 0, 8, 1, 0, 0, 0, 1, 5), false, "bad magic 01000801"},
        {"float element type", B(0, 0, 0x0d, 1, 0, 0, 0, 1, 5), false, "bad magic 00000d01"},
        {"two dimensions", B(0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 5), false, "bad magic 00000802"},
        {"wrong magic (gzip)", B(0, 0, 9, 3), true, "bad magic 00000903"},
        {"header without its dimension", B(0, 0, 8, 1), false,
         "offset 4: truncated header (a dimension is missing)"},
        {"dimension cut short", B(0, 0, 8, 3, 0, 0, 0, 2, 0, 0), false,
         "offset 8: truncated header"},
        {"last dimension missing (gzip)", B(0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2), true,
         "offset 12: truncated header"},
        {"zero dimension", B(0, 0, 8, 1, 0, 0, 0, 0), false, "offset 4: dimension 0 of size 0 is invalid"},
        {"zero image width", B(0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0), false,
         "offset 12: dimension 2 of size 0"},
        {"over 2^32 elements", B(0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1), false,
         "offset 8: dimension 1 of size 2147483647 is invalid"},
        {"dims larger than the data", B(0, 0, 8, 1, 0, 0, 0, 5, 1, 2), false,
         "truncated data: the header promises 5 data bytes from offset 8, the file holds 2"},
        {"dims larger than the data (images)", B(0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 9, 9, 9), false,
         "promises 4 data bytes from offset 16, the file holds 3"},
        {"dims larger than the data (gzip)", B(0, 0, 8, 1, 0, 0, 0, 5, 1, 2), true,
         "truncated data: the header promises 5 data bytes"},
        {"dims smaller than the data", B(0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3), false,
         "1 trailing bytes after the data, which ends at offset 10"},
        {"dims smaller than the data (gzip)", B(0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3), true,
         "trailing bytes after the data, which ends at offset 10"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_tensor *t = (tg_tensor *)&t;
        tg_status s = tg_idx_load(put(bad[i].gz ? "bad.idx.gz" : "bad.idx", bad[i].data, bad[i].n,
                                      bad[i].gz),
                                  &t);
        CHECK(s == TG_EFORMAT && !t && strstr(tg_last_error(), bad[i].msg) &&
                  strstr(tg_last_error(), dir),
              "idx %s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
    }

    /* the gzip stream itself corrupt: CRC, length, cut, garbage after the magic */
    unsigned char lab[8 + 200] = {0, 0, 8, 1, 0, 0, 0, 200}, gz[1024], copy[1024];
    for (int i = 0; i < 200; i++)
        lab[8 + i] = (unsigned char)(i * 13);
    size_t n = gzip_bytes(lab, sizeof lab, gz, sizeof gz);
    struct {
        const char *what;
        size_t at, len;
        const char *msg;
    } stream[] = {
        {"gzip CRC wrong", n - 8, n, "incorrect data check"},
        {"gzip length wrong", n - 4, n, "incorrect length check"},
        {"gzip stream cut", (size_t)-1, n / 2, "unexpected end of file"},
        {"gzip deflate data garbled", 12, n, "near uncompressed offset"},
    };
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++) {
        memcpy(copy, gz, n);
        if (stream[i].at != (size_t)-1)
            copy[stream[i].at] ^= 0xff;
        tg_tensor *t = (tg_tensor *)&t;
        tg_status s = tg_idx_load(put("bad.gz", copy, stream[i].len, false), &t);
        CHECK(s == TG_EFORMAT && !t && strstr(tg_last_error(), "corrupt gzip data") &&
                  strstr(tg_last_error(), stream[i].msg) && strstr(tg_last_error(), dir),
              "idx %s: %s '%s'", stream[i].what, tg_status_name(s), tg_last_error());
    }

    tg_tensor *t = (tg_tensor *)&t;
    tg_status s = tg_idx_load(dir, &t);
    CHECK(s == TG_EIO && !t && strstr(tg_last_error(), "Is a directory") &&
              strstr(tg_last_error(), dir),
          "idx directory: %s '%s'", tg_status_name(s), tg_last_error());
    t = (tg_tensor *)&t;
    s = tg_idx_load("/nonexistent/train-images-idx3-ubyte", &t);
    CHECK(s == TG_EIO && !t && strstr(tg_last_error(), "cannot open /nonexistent/train-images"),
          "idx missing file: %s '%s'", tg_status_name(s), tg_last_error());
    s = tg_idx_load(NULL, &t);
    CHECK(s == TG_EINVAL && strstr(tg_last_error(), "NULL argument"), "idx NULL path: %s '%s'",
          tg_status_name(s), tg_last_error());
}

static void csv(void)
{
    /* options: header line, labels in column 2, F32 features */
    tg_csv_opts o = tg_csv_defaults();
    o.header = true;
    o.label_column = 2;
    static const struct {
        const char *what, *text;
        size_t n; /* 0: strlen(text) */
        const char *msg;
    } bad[] = {
        {"empty file", "", 0, "empty file"},
        {"blank lines only", "\n  \n\t\r\n", 0, "no data rows in its 3 lines"},
        {"header only", "a,b,label\n", 0, "no data rows in its 1 line"},
        {"non-numeric cell", "a,b,label\n1,2,0\n3,x4,1\n", 0, ":3:2: not a number: 'x4'"},
        {"empty cell", "a,b,label\n1,,0\n", 0, ":2:2: not a number: ''"},
        {"blank cell", "a,b,label\n1, ,0\n", 0, ":2:2: not a number"},
        {"blank last cell before CRLF", "a,b,label\n1,2, \r\n", 0, ":2:3: not a number"},
        {"trailing garbage", "a,b,label\n1,2.5kg,0\n", 0, ":2:2: not a number: '2.5kg'"},
        {"quoted number (no quoting)", "a,b,label\n\"1\",2,0\n", 0, ":2:1: not a number"},
        {"decimal comma", "a,b,label\n1,2;5,0\n", 0, ":2:2: not a number: '2;5'"},
        {"row with fewer cells", "a,b,label\n1,2,0\n3,4\n", 0,
         ":3: ragged row: 2 columns, expected 3 as on line 2"},
        {"row with more cells", "a,b,label\n1,2,0\n3,4,1,5\n", 0,
         ":3: ragged row: 4 columns, expected 3 as on line 2"},
        {"trailing delimiter", "a,b,label\n1,2,0,\n", 0, ":2:4: not a number: ''"},
        {"NUL byte", "a,b,label\n1,2,0\n\0\n", 18, "byte offset 16: NUL byte"},
        {"NUL byte inside a cell", "a,b,label\n1\0,2,0\n", 17, "byte offset 11: NUL byte"},
        {"nan", "a,b,label\n1,nan,0\n", 0, ":2:2: not a finite number: 'nan'"},
        {"NaN with payload", "a,b,label\nNAN(123),1,0\n", 0, ":2:1: not a finite number"},
        {"inf", "a,b,label\ninf,1,0\n", 0, ":2:1: not a finite number: 'inf'"},
        {"-infinity", "a,b,label\n1,-Infinity,0\n", 0, ":2:2: not a finite number"},
        {"beyond the double range", "a,b,label\n1,2,0\n1e999,2,1\n", 0,
         ":3:1: not a finite number: '1e999'"},
        {"beyond the float range (F32)", "a,b,label\n1,-3.5e38,0\n", 0,
         ":2:2: out of the f32 range: '-3.5e38'"},
        {"nan label", "a,b,label\n1,2,nan\n", 0, ":2:3: not a finite number"},
        {"fractional label", "a,b,label\n1,2,0.5\n", 0, ":2:3: class label is not an integer in the int32 range: '0.5' (column 'label')"},
        {"label beyond int32", "a,b,label\n1,2,3e9\n", 0, ":2:3: class label is not an integer in the int32 range: '3e9'"},
        {"label below int32", "a,b,label\n1,2,-2147483649\n", 0, "is not an integer"},
        {"non-numeric label", "a,b,label\n1,2,cat\n", 0, ":2:3: not a number: 'cat'"},
        {"label column beyond the last", "a,b\n1,2\n", 0, "label column 2 but only 2 columns"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_tensor *x = (tg_tensor *)&x, *y = (tg_tensor *)&y;
        const char *path = put("bad.csv", bad[i].text, bad[i].n ? bad[i].n : strlen(bad[i].text), false);
        tg_status s = tg_csv_load(path, &o, &x, &y);
        CHECK(s == TG_EFORMAT && !x && !y && strstr(tg_last_error(), bad[i].msg) &&
                  strstr(tg_last_error(), path),
              "csv %s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
    }
    /* a value the F64 features hold is still out of the float range for F32 only */
    tg_tensor *x = NULL, *y = NULL;
    o.dtype = TG_F64;
    tg_status s = tg_csv_load(put("big.csv", "a,b,label\n1,-3.5e38,0\n", 22, false), &o, &x, &y);
    CHECK(s == TG_OK && x && tg_tensor_get_flat(x, 1) == -3.5e38, "F64 holds -3.5e38: %s",
          tg_last_error());
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    o.dtype = TG_F32;

    x = (tg_tensor *)&x;
    y = (tg_tensor *)&y;
    s = tg_csv_load(dir, &o, &x, &y);
    CHECK(s == TG_EIO && !x && !y && strstr(tg_last_error(), "Is a directory") &&
              strstr(tg_last_error(), dir),
          "csv directory: %s '%s'", tg_status_name(s), tg_last_error());
    s = tg_csv_load("/nonexistent/data.csv", &o, &x, &y);
    CHECK(s == TG_EIO && strstr(tg_last_error(), "cannot open /nonexistent/data.csv"),
          "csv missing file: %s '%s'", tg_status_name(s), tg_last_error());
    const char *ok = put("ok.csv", "a,b,label\n1,2,0\n", 16, false);
    struct {
        const char *what;
        tg_csv_opts o;
    } opts[] = {
        {"delimiter NUL", {.label_column = -1, .delimiter = 0, .dtype = TG_F32}},
        {"delimiter newline", {.label_column = -1, .delimiter = '\n', .dtype = TG_F32}},
        {"label column -2", {.label_column = -2, .delimiter = ',', .dtype = TG_F32}},
        {"I32 features", {.label_column = -1, .delimiter = ',', .dtype = TG_I32}},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        s = tg_csv_load(ok, &opts[i].o, &x, NULL);
        CHECK(s == TG_EINVAL && strstr(tg_last_error(), "invalid options"), "csv %s: %s '%s'",
              opts[i].what, tg_status_name(s), tg_last_error());
    }
    s = tg_csv_load(ok, &o, &x, NULL);
    CHECK(s == TG_EINVAL && strstr(tg_last_error(), "NULL argument"),
          "csv label column without a labels pointer: %s '%s'", tg_status_name(s), tg_last_error());
}

/* The options added later (skip_lines, names, float targets) and gzip input: each error
 * names the file's line (counting skipped and header lines), the column and the text. */
static void csv_more(void)
{
    static const char *const ab[] = {"a", "b"}, *const ba_twice[] = {"b", "a", "b"},
                             *const ghost[] = {"a", "ghost"}, *const dup[] = {"dup"},
                             *const with_y[] = {"a", "y"};
    static const struct {
        const char *what, *text;
        int skip;
        const char *label_name;
        int label_column;
        const char *const *features;
        int nfeat;
        tg_dtype label_dtype;
        bool gz;
        tg_status status;
        const char *msg[3]; /* every one must be in the message */
    } bad[] = {
        {"non-numeric after skipped lines", "# title\n# units\na,b,y\n1,2,3\n4,x,6\n", 2, "y", -1,
         NULL, 0, TG_F32, false, TG_EFORMAT, {":5:2: not a number: 'x'", "(column 'b')"}},
        {"non-numeric in gzip", "a,b,y\n1,2,3\n\n4,5,seven\n", 0, "y", -1, NULL, 0, TG_F64, true,
         TG_EFORMAT, {":4:3: not a number: 'seven'", "(column 'y')", ".csv.gz"}},
        {"unknown label name", "a,b,y\n1,2,3\n", 0, "target", -1, NULL, 0, TG_F32, false,
         TG_EFORMAT, {":1: no column named 'target' (the label)", "3 columns"}},
        {"unknown label name after skipped lines", "stamp\na,b,y\n1,2,3\n", 1, "Y", -1, NULL, 0,
         TG_F32, false, TG_EFORMAT, {":2: no column named 'Y'"}},
        {"unknown feature name", "a,b,y\n1,2,3\n", 0, "y", -1, ghost, 2, TG_F32, false,
         TG_EFORMAT, {":1: no column named 'ghost' (the feature)"}},
        {"ambiguous label name", "dup,b,dup\n1,2,3\n", 0, "dup", -1, NULL, 0, TG_I32, false,
         TG_EFORMAT, {":1: label name 'dup' is ambiguous: columns 1 and 3"}},
        {"ambiguous feature name", "x,dup,y,dup\n1,2,3,4\n", 0, "y", -1, dup, 1, TG_F32, false,
         TG_EFORMAT, {":1: feature name 'dup' is ambiguous: columns 2 and 4"}},
        {"feature listed twice", "a,b,y\n1,2,3\n", 0, "y", -1, ba_twice, 3, TG_F32, false,
         TG_EINVAL, {"feature name 'b' is listed twice (0 and 2)"}},
        {"label also a feature (by name)", "a,b,y\n1,2,3\n", 0, "y", -1, with_y, 2, TG_F32, false,
         TG_EINVAL, {"'y' is both the label and feature 1"}},
        {"label also a feature (by index)", "a,b,y\n1,2,3\n", 0, NULL, 0, ab, 2, TG_F32, false,
         TG_EFORMAT, {":1: label column 0 is also feature 'a'"}},
        {"row shorter than the header", "a,b,y\n1,2,3\n4,5\n", 0, "y", -1, ab, 2, TG_F32, false,
         TG_EFORMAT, {":3: ragged row: 2 columns, expected 3 as on line 1 (the header)"}},
        {"row longer than the header", "t\na,b,y\n1,2,3,4\n", 1, "y", -1, NULL, 0, TG_F32, false,
         TG_EFORMAT, {":3: ragged row: 4 columns, expected 3 as on line 2 (the header)"}},
        {"ragged row without names", "skip\nskip\n1,2\n\n3\n", 2, NULL, 1, NULL, 0, TG_F32, false,
         TG_EFORMAT, {":5: ragged row: 1 columns, expected 2 as on line 3"}},
        {"float target nan", "a,b,y\n1,2,nan\n", 0, "y", -1, NULL, 0, TG_F64, false, TG_EFORMAT,
         {":2:3: not a finite number: 'nan'", "(column 'y')"}},
        {"float target beyond f32", "a,b,y\n1,2,1e39\n", 0, "y", -1, NULL, 0, TG_F32, false,
         TG_EFORMAT, {":2:3: out of the f32 range: '1e39'"}},
        {"class label fractional (by name)", "a,b,y\n1,2,3\n1,2,0.5\n", 0, "y", -1, NULL, 0,
         TG_I32, false, TG_EFORMAT,
         {":3:3: class label is not an integer in the int32 range: '0.5' (column 'y')"}},
        {"selected feature not a number", "a,name,b\n1,setosa,2\n3,virginica,x\n", 0, NULL, -1,
         ab, 2, TG_F32, false, TG_EFORMAT, {":3:3: not a number: 'x' (column 'b')"}},
        {"header row missing", "only a title\n", 3, "y", -1, NULL, 0, TG_F32, false, TG_EFORMAT,
         {"no header row after the skipped lines"}},
        {"empty file with names", "", 0, "y", -1, NULL, 0, TG_F32, false, TG_EFORMAT,
         {"empty file"}},
        {"empty gzip stream", "", 0, NULL, -1, NULL, 0, TG_I32, true, TG_EFORMAT, {"empty file"}},
        {"only skipped lines", "a\nb\n", 2, NULL, -1, NULL, 0, TG_I32, false, TG_EFORMAT,
         {"no data rows in its 2 lines"}},
        {"names without a header", "a,b\n1,2\n", 0, NULL, -1, ab, 2, TG_F32, false, TG_EINVAL,
         {"need header = true"}},
        {"label_name and label_column", "a,b\n1,2\n", 0, "b", 1, NULL, 0, TG_F32, false,
         TG_EINVAL, {"both label_name 'b' and label_column 1"}},
        {"feature_count 0 with names", "a,b\n1,2\n", 0, NULL, -1, ab, 0, TG_F32, false, TG_EINVAL,
         {"invalid options"}},
        {"negative skip_lines", "a,b\n1,2\n", -1, NULL, -1, NULL, 0, TG_F32, false, TG_EINVAL,
         {"invalid options"}},
        {"label dtype 7", "a,b\n1,2\n", 0, NULL, 1, NULL, 0,
         (tg_dtype)7, false, TG_EINVAL, {"invalid options"}},
    };
    static const char *const no_header[] = {"ragged row without names", "names without a header",
                                            "empty gzip stream", "only skipped lines"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_csv_opts o = tg_csv_defaults();
        o.header = true;
        for (size_t h = 0; h < sizeof no_header / sizeof no_header[0]; h++)
            if (strcmp(bad[i].what, no_header[h]) == 0)
                o.header = false;
        o.skip_lines = bad[i].skip;
        o.label_name = bad[i].label_name;
        o.label_column = bad[i].label_column;
        o.feature_names = bad[i].features;
        o.feature_count = bad[i].nfeat;
        o.label_dtype = bad[i].label_dtype;
        tg_tensor *x = (tg_tensor *)&x, *y = (tg_tensor *)&y;
        const char *path = put(bad[i].gz ? "bad.csv.gz" : "bad.csv", bad[i].text,
                               strlen(bad[i].text), bad[i].gz);
        tg_status s = tg_csv_load(path, &o, &x, &y);
        bool all = s == bad[i].status && !x && (!y || s == TG_EINVAL);
        for (int m = 0; m < 3 && bad[i].msg[m]; m++)
            all = all && strstr(tg_last_error(), bad[i].msg[m]);
        if (s == TG_EFORMAT)
            all = all && strstr(tg_last_error(), path);
        CHECK(all, "csv %s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
    }

    /* the gzip stream itself corrupt or cut: the line reached is named */
    static char text[40000];
    size_t len = 0;
    for (int r = 0; r < 3000; r++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%d,%d.5,%d\n", r, r * 7 % 13, r % 3);
    static unsigned char gz[40000], copy[40000];
    size_t n = gzip_bytes(text, len, gz, sizeof gz);
    struct {
        const char *what;
        size_t at, len;
        const char *msg[2];
    } stream[] = {
        {"gzip CRC wrong", n - 8, n, {"after line ", "incorrect data check"}},
        {"gzip length wrong", n - 4, n, {"after line ", "incorrect length check"}},
        {"gzip stream cut", (size_t)-1, n / 2, {"unexpected end of file", "after line "}},
        {"gzip stream cut in its header", (size_t)-1, 5, {"unexpected end of file", "after line 0"}},
        {"gzip deflate data garbled", 12, n, {"corrupt or truncated gzip data after line ", ""}},
    };
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++) {
        memcpy(copy, gz, n);
        if (stream[i].at != (size_t)-1)
            copy[stream[i].at] ^= 0xff;
        tg_csv_opts o = tg_csv_defaults();
        o.label_column = 2;
        tg_tensor *x = (tg_tensor *)&x, *y = (tg_tensor *)&y;
        const char *path = put("bad.csv.gz", copy, stream[i].len, false);
        tg_status s = tg_csv_load(path, &o, &x, &y);
        CHECK(s == TG_EFORMAT && !x && !y && strstr(tg_last_error(), "gzip data") &&
                  strstr(tg_last_error(), stream[i].msg[0]) &&
                  strstr(tg_last_error(), stream[i].msg[1]) && strstr(tg_last_error(), path),
              "csv %s: %s '%s'", stream[i].what, tg_status_name(s), tg_last_error());
        /* the line named is one that was read whole: within the file, and for an error
         * past the first 4 KiB of text (the first three cases), not line 0 */
        const char *at = strstr(tg_last_error(), "after line ");
        long line = at ? strtol(at + 11, NULL, 10) : -1;
        CHECK(line >= 0 && line <= 3000 && (line > 0) == (i < 3),
              "csv %s: line %ld named", stream[i].what, line);
    }
    /* the uncorrupted stream loads: the check above is about the corruption */
    tg_csv_opts o = tg_csv_defaults();
    o.label_column = 2;
    tg_tensor *x = NULL, *y = NULL;
    tg_status s = tg_csv_load(put("good.csv.gz", gz, n, false), &o, &x, &y);
    CHECK(s == TG_OK && x && x->shape[0] == 3000 &&
              tg_tensor_get_flat(x, 2 * 2999 + 1) == 2999 * 7 % 13 + 0.5,
          "csv intact gzip: %s '%s'", tg_status_name(s), tg_last_error());
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    idx();
    csv();
    csv_more();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
