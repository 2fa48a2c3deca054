/* Learning-rate schedules (functions of the epoch) and reduce-on-plateau. */
#include <math.h>

#include "../util.h"
#include "internal.h"
#include "optim.h"

tg_lr_schedule tg_lr_inverse_time(double decay)
{
    return (tg_lr_schedule){.kind = TG_SCHED_INVERSE_TIME, .decay = decay};
}

tg_lr_schedule tg_lr_step(int64_t step_size, double gamma)
{
    return (tg_lr_schedule){.kind = TG_SCHED_STEP, .step_size = step_size, .gamma = gamma};
}

tg_lr_schedule tg_lr_exponential(double gamma)
{
    return (tg_lr_schedule){.kind = TG_SCHED_EXPONENTIAL, .gamma = gamma};
}

tg_lr_schedule tg_lr_cosine(int64_t t_max, double eta_min)
{
    return (tg_lr_schedule){.kind = TG_SCHED_COSINE, .t_max = t_max, .eta_min = eta_min};
}

/* s and epoch valid for s's kind; else TG_EINVAL naming fn */
static tg_status check_schedule(const tg_lr_schedule *s, int64_t epoch, const char *fn)
{
    if (!s)
        return tg__error_status(TG_EINVAL, "%s: NULL schedule", fn);
    if (epoch < 0)
        return tg__error_status(TG_EINVAL, "%s: epoch = %lld, need >= 0", fn, (long long)epoch);
    switch (s->kind) {
    case TG_SCHED_CONSTANT:
        return TG_OK;
    case TG_SCHED_INVERSE_TIME:
        if (!tg__nonneg(s->decay))
            return tg__error_status(TG_EINVAL, "%s: decay = %g, need a finite value >= 0", fn,
                                    s->decay);
        return TG_OK;
    case TG_SCHED_STEP:
    case TG_SCHED_EXPONENTIAL:
        if (s->kind == TG_SCHED_STEP && s->step_size < 1)
            return tg__error_status(TG_EINVAL, "%s: step_size = %lld, need >= 1", fn,
                                    (long long)s->step_size);
        if (!tg__nonneg(s->gamma))
            return tg__error_status(TG_EINVAL, "%s: gamma = %g, need a finite value >= 0", fn,
                                    s->gamma);
        return TG_OK;
    case TG_SCHED_COSINE:
        if (s->t_max < 1)
            return tg__error_status(TG_EINVAL, "%s: t_max = %lld, need >= 1", fn,
                                    (long long)s->t_max);
        if (!tg__nonneg(s->eta_min))
            return tg__error_status(TG_EINVAL, "%s: eta_min = %g, need a finite value >= 0", fn,
                                    s->eta_min);
        return TG_OK;
    }
    return tg__error_status(TG_EINVAL, "%s: unknown schedule kind %d", fn, (int)s->kind);
}

double tg_lr_schedule_at(const tg_lr_schedule *s, int64_t epoch, double base_lr)
{
    if (check_schedule(s, epoch, "tg_lr_schedule_at") != TG_OK)
        return NAN;
    double e = (double)epoch;
    switch (s->kind) {
    case TG_SCHED_CONSTANT: return base_lr;
    case TG_SCHED_INVERSE_TIME: return base_lr / (1 + s->decay * e);
    case TG_SCHED_STEP: return base_lr * pow(s->gamma, (double)(epoch / s->step_size));
    case TG_SCHED_EXPONENTIAL: return base_lr * pow(s->gamma, e);
    case TG_SCHED_COSINE: {
        int64_t c = epoch < s->t_max ? epoch : s->t_max;
        const double pi = 3.14159265358979323846;
        return s->eta_min +
               (base_lr - s->eta_min) * (1 + cos(pi * (double)c / (double)s->t_max)) / 2;
    }
    }
    return NAN; /* (checked above) */
}

tg_plateau tg_plateau_defaults(void)
{
    return (tg_plateau){.factor = 0.1, .patience = 10, .threshold = 1e-4,
                        .threshold_abs = false, .min_lr = 0, .cooldown = 0,
                        .best = INFINITY, .num_bad = 0, .cooldown_left = 0, .reductions = 0};
}

/* p's settings valid; else TG_EINVAL naming fn */
static tg_status check_plateau(const tg_plateau *p, const char *fn)
{
    if (!p)
        return tg__error_status(TG_EINVAL, "%s: NULL plateau", fn);
    if (!(p->factor > 0 && p->factor < 1))
        return tg__error_status(TG_EINVAL, "%s: factor = %g outside (0, 1)", fn, p->factor);
    if (p->patience < 0)
        return tg__error_status(TG_EINVAL, "%s: patience = %d, need >= 0", fn, p->patience);
    if (!tg__nonneg(p->threshold))
        return tg__error_status(TG_EINVAL, "%s: threshold = %g, need a finite value >= 0", fn,
                                p->threshold);
    if (!tg__nonneg(p->min_lr))
        return tg__error_status(TG_EINVAL, "%s: min_lr = %g, need a finite value >= 0", fn,
                                p->min_lr);
    if (p->cooldown < 0)
        return tg__error_status(TG_EINVAL, "%s: cooldown = %d, need >= 0", fn, p->cooldown);
    return TG_OK;
}

double tg_plateau_update(tg_plateau *p, double metric, double current_lr)
{
    if (check_plateau(p, "tg_plateau_update") != TG_OK)
        return NAN;
    double bar = p->threshold_abs ? p->best - p->threshold : p->best * (1 - p->threshold);
    if (metric < bar) {
        p->best = metric;
        p->num_bad = 0;
    } else {
        p->num_bad++;
    }
    if (p->cooldown_left > 0) {
        p->cooldown_left--;
        p->num_bad = 0;
    }
    if (p->num_bad > p->patience) {
        double lr = fmax(current_lr * p->factor, p->min_lr);
        p->cooldown_left = p->cooldown;
        p->num_bad = 0;
        if (current_lr - lr > 1e-8) {
            p->reductions++;
            return lr;
        }
    }
    return current_lr;
}
