/* Proves the gradcheck can fail: backwards with deliberate mistakes are installed in
 * the registry's dispatch table one at a time, and tg_gradcheck must reject each; with
 * the right backward restored the same case must pass again. */
#include <stdio.h>
#include <string.h>

#include "autograd/internal.h"
#include "gradcheck_cases.h"

/* 1% too large */
static void wrong_mul(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg__bwd_mul(t, n, g, gi);
    if (gi[0])
        gi[0] = tg_mul_scalar(t, gi[0], 1.01);
}

/* forgets to reduce the gradient over broadcast axes */
static void wrong_add(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    (void)t;
    (void)n;
    gi[0] = g;
    gi[1] = g;
}

/* drops the -sum(g y) term: right shape, wrong values */
static void wrong_softmax(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, n->out, g);
}

/* second-order mistake: the y-gradient of sigmoid_backward with the wrong sign */
static void wrong_sigmoid_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg__bwd_sigmoid_bwd(t, n, g, gi);
    if (gi[1])
        gi[1] = tg_neg(t, gi[1]);
}

static const gc_case *find_case(const char *op, const char *name)
{
    for (int i = 0; i < gc_count(); i++)
        if (!strcmp(gc_get(i)->op, op) && !strcmp(gc_get(i)->name, name))
            return gc_get(i);
    return NULL;
}

static bool check(const gc_case *c)
{
    tg_tensor *in[4], *params[4];
    if (!gc_make_inputs(c, TG_F64, 7, in))
        return false;
    gc_bound b;
    int np = gc_bind(&b, c, in, params);
    tg_gradcheck_result r = tg_gradcheck(gc_call, &b, np, params, NULL);
    gc_free_inputs(c, in);
    return r.passed && r.status == TG_OK;
}

int main(void)
{
    struct {
        int op;
        tg__bwd_fn wrong;
        const char *opname, *casename;
    } trials[] = {
        {TG_OP_MUL, wrong_mul, "mul", "broadcast [2,3,4]*[3,1]"},
        {TG_OP_ADD, wrong_add, "add", "broadcast [3,4]+[4]"},
        {TG_OP_SOFTMAX, wrong_softmax, "softmax", "axis 0"},
        {TG_OP_SIGMOID_BWD, wrong_sigmoid_bwd, "sigmoid_backward", "g, y in (0,1)"},
    };
    int failed = 0, passed = 0;
    for (size_t i = 0; i < sizeof trials / sizeof trials[0]; i++) {
        const gc_case *c = find_case(trials[i].opname, trials[i].casename);
        if (!c) {
            fprintf(stderr, "FAIL: no case %s [%s]\n", trials[i].opname, trials[i].casename);
            failed++;
            continue;
        }
        tg__bwd_fn right = tg__op_backward[trials[i].op];
        tg__op_backward[trials[i].op] = trials[i].wrong;
        bool wrong_passed = check(c);
        tg__op_backward[trials[i].op] = right;
        bool right_passed = check(c);
        if (wrong_passed || !right_passed) {
            fprintf(stderr, "FAIL: %s: wrong backward %s, right backward %s\n",
                    trials[i].opname, wrong_passed ? "PASSED" : "rejected",
                    right_passed ? "passed" : "FAILED");
            failed++;
        } else {
            printf("ok   wrong %s backward rejected, right one accepted\n", trials[i].opname);
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
