/* R^2, RMSE, MAE and argmax against values worked out by hand. */
#include <math.h>

#include "check.h"
#include "tapegrad.h"

int main(void)
{
    /* y = 1 2 3 4, pred = 1.5 2 2 5: errors .5 0 -1 1; SSE = 2.25, SAE = 2.5;
     * mean(y) = 2.5, SST = 2.25 + .25 + .25 + 2.25 = 5; R^2 = 1 - 2.25/5 = 0.55;
     * RMSE = sqrt(2.25/4) = 0.75; MAE = 0.625 */
    tg_tensor *y = tg_tensor_from(TG_F64, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
    tg_tensor *p = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 1}, (float[]){1.5f, 2, 2, 5});
    CHECK(fabs(tg_r2_score(p, y) - 0.55) < 1e-12, "R^2 %.15g", tg_r2_score(p, y));
    CHECK(fabs(tg_rmse(p, y) - 0.75) < 1e-12, "RMSE %.15g", tg_rmse(p, y));
    CHECK(fabs(tg_mae_metric(p, y) - 0.625) < 1e-12, "MAE %.15g", tg_mae_metric(p, y));
    CHECK(tg_r2_score(y, y) == 1 && tg_rmse(y, y) == 0 && tg_mae_metric(y, y) == 0, "exact fit");
    tg_tensor *c = tg_full(TG_F64, 1, (int64_t[]){4}, 2.0);
    CHECK(tg_r2_score(c, c) == 1, "constant targets, exact fit: 1");
    CHECK(isnan(tg_r2_score(y, c)) && tg_last_status() == TG_EINVAL, "constant targets: undefined");
    tg_tensor *l = tg_zeros(TG_I32, 1, (int64_t[]){4}), *short3 = tg_zeros(TG_F64, 1, (int64_t[]){3});
    CHECK(isnan(tg_rmse(l, y)) && isnan(tg_mae_metric(short3, y)) && isnan(tg_r2_score(NULL, y)),
          "bad arguments give NaN");
    /* argmax: ties to the first, NaN never wins */
    tg_tensor *s = tg_tensor_from(TG_F64, 2, (int64_t[]){3, 3},
                                  (double[]){0, 5, 5, NAN, -1, -2, 3, 3, 3});
    tg_tensor *a = tg_argmax(s);
    CHECK(a && tg_tensor_get_flat(a, 0) == 1 && tg_tensor_get_flat(a, 1) == 1 &&
              tg_tensor_get_flat(a, 2) == 0,
          "argmax rows: %g %g %g", a ? tg_tensor_get_flat(a, 0) : -1,
          a ? tg_tensor_get_flat(a, 1) : -1, a ? tg_tensor_get_flat(a, 2) : -1);
    CHECK(tg_argmax(y) == NULL && tg_last_status() == TG_EINVAL, "argmax of a vector refused");
    tg_tensor *all[] = {y, p, c, l, short3, s, a};
    for (int i = 0; i < 7; i++)
        tg_tensor_free(&all[i]);
    return check_summary();
}
