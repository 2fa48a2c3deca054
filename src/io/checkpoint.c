/* Checkpoints: a model's parameters and buffers and an optimizer's state in one
 * safetensors file (safetensors.c writes and verifies it), with the epoch, the model's
 * RNG counter and the optimizer's step count in __metadata__. Loading checks that the
 * file holds exactly the model's tensors before it changes anything. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../util.h"
#include "checkpoint.h"
#include "internal.h"

#define MAX_ENTRIES TG__ST_MAX_ENTRIES
#define MAX_NAME TG__ST_MAX_NAME

typedef struct {
    char name[MAX_NAME];
    tg_tensor *t;
} entry;

/* The tensors of a model (+ optimizer), in a fixed order: the one place listing them.
 * Returns the count and *out (free with tg__mfree), or minus a status with the error set. */
static int collect(const tg_model *m, const tg_optim *opt, entry **out, const char *fn)
{
    int np = tg_model_param_count(m), nb = tg_model_buffer_count(m);
    int ns = opt ? tg_optim_state_count(opt) : 0;
    if (np < 0 || nb < 0 || ns < 0 || np + nb + ns > MAX_ENTRIES) {
        tg__error(TG_EINVAL, "%s: more than %d tensors", fn, MAX_ENTRIES);
        return -(int)TG_EINVAL;
    }
    entry *e = tg__malloc(sizeof(entry) * (size_t)(np + nb + ns));
    if (!e) {
        tg__error(TG_ENOMEM, "%s: out of memory", fn);
        return -(int)TG_ENOMEM;
    }
    int n = 0;
    bool ok = true;
    for (int i = 0; ok && i < np; i++) {
        ok = (size_t)snprintf(e[n].name, MAX_NAME, "model.%s", tg_model_param_name(m, i)) < MAX_NAME;
        e[n++].t = tg_model_params(m)[i];
    }
    /* buffers (batch norm's running statistics) follow the parameters */
    for (int i = 0; ok && i < nb; i++) {
        ok = (size_t)snprintf(e[n].name, MAX_NAME, "model.%s", tg_model_buffer_name(m, i)) < MAX_NAME;
        e[n++].t = tg_model_buffers(m)[i];
    }
    for (int i = 0; ok && i < ns; i++) {
        const char *nm = NULL;
        tg_tensor *s = tg_optim_state_tensor((tg_optim *)opt, i, &nm);
        ok = s && nm && (size_t)snprintf(e[n].name, MAX_NAME, "optim.%s", nm) < MAX_NAME;
        e[n++].t = s;
    }
    if (!ok) {
        tg__mfree(e);
        tg__error(TG_EINVAL, "%s: tensor %d unavailable or its name too long", fn, n - 1);
        return -(int)TG_EINVAL;
    }
    *out = e;
    return n;
}

tg_status tg_checkpoint_save(const char *path, const tg_model *m, const tg_optim *opt, int64_t epoch)
{
    const char *fn = "tg_checkpoint_save";
    if (!path || !m)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    if (epoch < 0) /* the loader reads it back as an unsigned count */
        return tg__error_status(TG_EINVAL, "%s: epoch %" PRId64 " is negative", fn, epoch);
    entry *e = NULL;
    int n = collect(m, opt, &e, fn);
    if (n < 0)
        return (tg_status)-n;
    const char **names = tg__malloc(sizeof(char *) * (size_t)n);
    const tg_tensor **ts = tg__malloc(sizeof(tg_tensor *) * (size_t)n);
    tg_status st;
    if (!names || !ts) {
        st = tg__st_oom(fn);
    } else {
        for (int i = 0; i < n; i++) {
            names[i] = e[i].name;
            ts[i] = e[i].t;
        }
        char ep[24], rng[24], steps[24];
        snprintf(ep, sizeof ep, "%" PRId64, epoch);
        snprintf(rng, sizeof rng, "%" PRIu64, tg_model_rng_counter(m));
        snprintf(steps, sizeof steps, "%" PRId64, opt ? tg_optim_steps(opt) : 0);
        const char *kv[] = {"format", TG__CKPT_FORMAT, "epoch", ep, "rng_counter", rng,
                            "optim_steps", steps, "optim", opt ? tg_optim_name(opt) : ""};
        st = tg__st_write(fn, path, n, names, ts, opt ? 5 : 3, kv);
    }
    tg__mfree(names);
    tg__mfree(ts);
    tg__mfree(e);
    return st;
}


static bool meta_u64(json_t *meta, const char *key, uint64_t *v)
{
    const char *txt = json_string_value(json_object_get(meta, key));
    if (!txt || !*txt || txt[0] == '-' || strlen(txt) > 20)
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(txt, &end, 10);
    if (*end || errno)
        return false;
    *v = x;
    return true;
}

/* appends to a message buffer, keeping it NUL-terminated when full */
static void add(char *buf, size_t size, size_t *used, const char *fmt, ...) TG_PRINTF(4, 5);
static void add(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    *used += k > 0 ? (size_t)k : 0;
}

/* Whether the file holds exactly the model's (and optimizer's) tensors with their dtypes
 * and shapes; if not, TG_EFORMAT with one message saying everything that differs: the
 * optimizer, the first missing and unexpected names, dtype and shape differences. */
static tg_status mismatch(const st_file *f, const entry *e, int n, const tg_optim *opt)
{
    enum { SHOW = 3 };
    char msg[768];
    size_t used = 0;
    int missing = 0, unexpected = 0, differ = 0;
    const char *oname = json_string_value(json_object_get(f->meta, "optim"));
    if (opt && (!oname || strcmp(oname, tg_optim_name(opt))))
        add(msg, sizeof msg, &used, "; the file holds %s%s optimizer state, not %s",
            oname && *oname ? oname : "no", oname && *oname ? "" : "", tg_optim_name(opt));
    for (int i = 0; i < n; i++) {
        const st_entry *s = tg__st_find(f, e[i].name);
        if (!s) {
            if (missing++ < SHOW)
                add(msg, sizeof msg, &used, "%s%s", missing == 1 ? "; missing tensors: " : ", ",
                    e[i].name);
            continue;
        }
        const tg_tensor *t = e[i].t;
        bool same = s->ndim == t->ndim && s->code == tg__st_code_of(t->dtype);
        for (int d = 0; same && d < t->ndim; d++)
            same = s->shape[d] == t->shape[d];
        if (!same && differ++ < SHOW)
            add(msg, sizeof msg, &used, "; %s: %s %s in the file, %s %s in the model",
                e[i].name, tg__st_dtype_name(s->code), tg__dims_str(s->ndim, s->shape).s,
                tg_dtype_name(t->dtype), tg__shape_str(t).s);
    }
    int extra_shown = 0;
    for (int i = 0; i < f->n; i++) {
        const char *nm = f->ent[i].name;
        if (!opt && !strncmp(nm, "optim.", 6))
            continue; /* saved optimizer state is not loaded without an optimizer */
        bool known = false;
        for (int k = 0; !known && k < n; k++)
            known = !strcmp(e[k].name, nm);
        if (!known && unexpected++ < SHOW)
            add(msg, sizeof msg, &used, "%s%s", ++extra_shown == 1 ? "; unexpected tensors: " : ", ",
                nm);
    }
    if (unexpected > SHOW)
        add(msg, sizeof msg, &used, " and %d more", unexpected - SHOW);
    if (!used)
        return TG_OK;
    return tg__error_status(TG_EFORMAT, "%s: %s: does not match the model (%d missing, %d "
                                        "unexpected, %d different)%s",
                            f->fn, f->path, missing, unexpected, differ, msg);
}

tg_status tg_checkpoint_load(const char *path, tg_model *m, tg_optim *opt, int64_t *epoch)
{
    const char *fn = "tg_checkpoint_load";
    if (!path || !m)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    st_file f = {.fn = fn, .path = path};
    entry *e = NULL;
    tg_status st = tg__st_open(&f, true);
    int n = st == TG_OK ? collect(m, opt, &e, fn) : 0;
    if (n < 0)
        st = (tg_status)-n;
    if (st != TG_OK)
        goto done;
    if ((st = mismatch(&f, e, n, opt)) != TG_OK)
        goto done;
    uint64_t ep = 0, rng = 0, steps = 0;
    if (!meta_u64(f.meta, "epoch", &ep) || !meta_u64(f.meta, "rng_counter", &rng) ||
        (opt && !meta_u64(f.meta, "optim_steps", &steps)) || ep > INT64_MAX || steps > INT64_MAX) {
        st = tg__st_bad(&f, "__metadata__ epoch, rng_counter or optim_steps missing or invalid", NULL);
        goto done;
    }
    /* everything verified: now change the model */
    for (int i = 0; i < n; i++)
        memcpy(tg__st_bytes(e[i].t), f.buf + 8 + f.hl + tg__st_find(&f, e[i].name)->b, tg__st_nbytes(e[i].t));
    tg_model_set_rng_counter(m, rng);
    if (opt)
        tg_optim_set_steps(opt, (int64_t)steps);
    if (epoch)
        *epoch = (int64_t)ep;
done:
    tg__st_close(&f);
    tg__mfree(e);
    return st;
}

