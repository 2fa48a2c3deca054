/* The shared utilities of util.h: allocation through the user's hook, the thread-local
 * error of calls outside a tape, status and dtype names, shape strings and checked
 * element counts. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---------------------------------------------------------------- allocation */

static tg_allocator g_alloc; /* process-wide configuration, see tg_set_allocator */

void tg_set_allocator(const tg_allocator *a)
{
    if (a)
        g_alloc = *a;
    else
        memset(&g_alloc, 0, sizeof g_alloc);
}

void *tg__malloc(size_t n)
{
    if (n == 0)
        n = 1;
    return g_alloc.alloc ? g_alloc.alloc(n, g_alloc.ctx) : malloc(n);
}

void *tg__calloc(size_t n)
{
    void *p = tg__malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void tg__mfree(void *p)
{
    if (!p)
        return;
    if (g_alloc.free)
        g_alloc.free(p, g_alloc.ctx);
    else
        free(p);
}

/* -------------------------------------------------------------------- errors */

/* the message and status of the thread's last failed call, set together */
static _Thread_local char tl_err[TG_ERRMSG];
static _Thread_local tg_status tl_status;

const char *tg_last_error(void) { return tl_err; }

tg_status tg_last_status(void) { return tl_status; }

static void set_error_v(tg_status s, const char *fmt, va_list ap)
{
    /* the arguments may point into tl_err itself (a message wrapped with context) */
    char msg[TG_ERRMSG];
    vsnprintf(msg, sizeof msg, fmt, ap);
    memcpy(tl_err, msg, sizeof msg);
    tl_status = s;
}

void *tg__error(tg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(s, fmt, ap);
    va_end(ap);
    return NULL;
}

tg_status tg__error_status(tg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(s, fmt, ap);
    va_end(ap);
    return s;
}

const char *tg_status_name(tg_status s)
{
    static const char *const names[] = {"TG_OK",     "TG_EINVAL", "TG_ESHAPE",
                                        "TG_EDTYPE", "TG_ERANGE", "TG_ENOMEM",
                                        "TG_ESTATE", "TG_EIO",    "TG_EFORMAT", "TG_ENUMERIC"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "TG_E?";
}

const char *tg_dtype_name(tg_dtype d)
{
    switch (d) {
    case TG_F32: return "f32";
    case TG_F64: return "f64";
    case TG_I32: return "i32";
    }
    return "?";
}

size_t tg_dtype_size(tg_dtype d)
{
    return d == TG_F64 ? 8 : d == TG_F32 || d == TG_I32 ? 4 : 0;
}

bool tg__is_float(tg_dtype d) { return d == TG_F32 || d == TG_F64; }

/* -------------------------------------------------------------------- shapes */

tg__shapebuf tg__dims_str(int ndim, const int64_t *shape)
{
    tg__shapebuf b;
    size_t n = 0;
    b.s[n++] = '[';
    for (int i = 0; i < ndim && n < sizeof b.s - 24; i++)
        n += (size_t)snprintf(b.s + n, sizeof b.s - n, "%s%lld", i ? "," : "",
                              (long long)shape[i]);
    snprintf(b.s + n, sizeof b.s - n, "]");
    return b;
}

tg__shapebuf tg__shape_str(const tg_tensor *t) { return tg__dims_str(t->ndim, t->shape); }

bool tg__numel(int ndim, const int64_t *shape, int64_t *n)
{
    /* the product of the nonzero sizes must fit too, even when a size is 0: it is the
     * largest stride of a contiguous layout ([0, 2^62, 4] has strides 2^64, 4, 1) */
    int64_t c = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return false;
        if (shape[i] == 0) {
            empty = true;
            continue;
        }
        if (c > INT64_MAX / shape[i])
            return false;
        c *= shape[i];
    }
    *n = empty ? 0 : c;
    return true;
}

