/* tg__k_matmul: batched products of the last two axes handed to GEMM (gemm.c), with
 * transposes as flags, strided operands copied only when GEMM cannot take them, and the
 * bias added in the same pass. */
#include <string.h>

#include "gemm.h"
#include "kernels.h"

/* ------------------------------------------------------------------ matmul */

/* how a [rows, cols] matrix with strides (sr, sc) can be handed to GEMM */
static bool mat_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, bool *trans,
                       int64_t *ld)
{
    int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
    if (cols <= 1 || sc == 1) {
        *trans = false;
        *ld = rows <= 1 ? c1 : sr;
        if (*ld >= c1)
            return true;
    }
    if (rows <= 1 || sr == 1) {
        *trans = true;
        *ld = cols <= 1 ? r1 : sc;
        if (*ld >= r1)
            return true;
    }
    return false;
}

/* a contiguous copy of t in a heap buffer (for layouts GEMM cannot take) */
static tg_tensor *packed_copy(tg_tensor *hdr, const tg_tensor *t)
{
    tg__init_header(hdr, t->dtype, t->ndim, t->shape);
    hdr->data = tg__malloc((size_t)tg_tensor_numel(t) * tg_dtype_size(t->dtype));
    if (!hdr->data)
        return NULL;
    tg__k_unary(hdr, t, TG_U_COPY, 0);
    return hdr;
}

/* one output matrix of a (broadcast) batched product: entry e of the batch dims */
typedef struct {
    tg_tensor *out;
    const tg_tensor *A, *B;
    bool acc; /* beta 1 (the output holds the bias) */
    bool ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
    int nb;
    const int64_t *bshape, *sa, *sb;
} mm_batch;

static void mm_entry(const mm_batch *m, int64_t e)
{
    int64_t oo = m->out->offset, oa = m->A->offset, ob = m->B->offset, r = e;
    for (int d = m->nb - 1; d >= 0; d--) {
        int64_t i = r % m->bshape[d];
        r /= m->bshape[d];
        oo += i * m->out->stride[d];
        oa += i * m->sa[d];
        ob += i * m->sb[d];
    }
    if (m->out->dtype == TG_F32)
        tg__gemm_f32(m->ta, m->tb, m->M, m->N, m->K, 1.0f, (const float *)m->A->data + oa, m->lda,
                     (const float *)m->B->data + ob, m->ldb, m->acc ? 1.0f : 0.0f,
                     (float *)m->out->data + oo, m->ldc);
    else
        tg__gemm_f64(m->ta, m->tb, m->M, m->N, m->K, 1.0, (const double *)m->A->data + oa, m->lda,
                     (const double *)m->B->data + ob, m->ldb, m->acc ? 1.0 : 0.0,
                     (double *)m->out->data + oo, m->ldc);
}

bool tg__k_matmul(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, const tg_tensor *bias)
{
    if (tg_tensor_numel(out) == 0)
        return true; /* nothing to write: but the batch of an empty output may be 2^40 long */
    int nd = out->ndim, an = a->ndim, bn = b->ndim;
    int64_t M = a->shape[an - 2], K = a->shape[an - 1], N = b->shape[bn - 1];
    bool ta, tb;
    int64_t lda, ldb;
    tg_tensor ca, cb;
    bool okA = mat_layout(M, K, a->stride[an - 2], a->stride[an - 1], &ta, &lda);
    bool okB = mat_layout(K, N, b->stride[bn - 2], b->stride[bn - 1], &tb, &ldb);
    const tg_tensor *A = a, *B = b;
    if (!okA) {
        if (!packed_copy(&ca, a))
            return false;
        A = &ca;
        ta = false;
        lda = K > 1 ? K : 1;
    }
    if (!okB) {
        if (!packed_copy(&cb, b)) {
            if (!okA)
                tg__mfree(ca.data);
            return false;
        }
        B = &cb;
        tb = false;
        ldb = N > 1 ? N : 1;
    }
    /* the broadcast batch dims: batch entry e has offsets sum_d idx_d * stride_d */
    int64_t bshape[TG_MAX_DIMS], sa[TG_MAX_DIMS] = {0}, sb[TG_MAX_DIMS] = {0};
    int nb = nd - 2;
    int64_t batch = 1;
    for (int d = 0; d < nb; d++) {
        int ka = d - (nb - (an - 2)), kb = d - (nb - (bn - 2));
        bshape[d] = out->shape[d];
        sa[d] = (ka >= 0 && A->shape[ka] == bshape[d]) ? A->stride[ka] : 0;
        sb[d] = (kb >= 0 && B->shape[kb] == bshape[d]) ? B->stride[kb] : 0;
        batch *= bshape[d];
    }
    int64_t ldc = N > 1 ? N : 1;
    if (bias) /* fused bias: every output row starts as the bias, GEMM adds with beta 1 */
        tg__k_unary(out, bias, TG_U_COPY, 0);
    /* many small products (a convolution's per-sample GEMMs) are shared out whole
     * across threads; a large one is split inside tg__gemm_*. Each output matrix is
     * computed by one call either way: results do not depend on the thread count. */
    mm_batch mb = {out, A, B, bias != NULL, ta, tb, M, N, K, lda, ldb, ldc, nb, bshape, sa, sb};
#ifdef TG_HAVE_OPENMP
    /* (with one thread no region at all: an inactive one around a GEMM that splits
     * would make its region nested, whose threads libgomp creates afresh each time) */
    if (tg_num_threads() > 1 && batch > 1 && !tg__gemm_splits(M, N, K) &&
        tg__mul_sat(tg__mul_sat(batch, M * N), K) >= TG__PAR_MIN_FLOPS) {
        int nt = (int)(batch < tg_num_threads() ? batch : tg_num_threads());
#pragma omp parallel for num_threads(nt)
        for (int64_t e = 0; e < batch; e++)
            mm_entry(&mb, e);
    } else
#endif
    {
        for (int64_t e = 0; e < batch; e++)
            mm_entry(&mb, e);
    }
    if (!okA)
        tg__mfree(ca.data);
    if (!okB)
        tg__mfree(cb.data);
    return true;
}
