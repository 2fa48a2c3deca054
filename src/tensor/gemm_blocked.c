/* The built-in GEMM used without BLAS: B is packed into KC x NR column panels and A
 * into MR x KC row panels (transposes are absorbed by the packing), and an MR x NR
 * register block accumulates each panel product. The micro-kernel is plain C that the
 * compiler vectorizes; on x86-64 copies compiled for AVX-512 (6x32 floats) and
 * AVX2+FMA (6x16) are chosen at run time when the CPU has them.
 *
 * The packing buffers (400 KiB for f64) are a per-thread workspace on the heap,
 * allocated on the thread's first product and freed when the thread exits: no shared
 * state, so threads may call it concurrently; no allocation in steady state; and no
 * large stack frame (they lived on the stack, which overflowed a 256 KiB thread stack).
 * Like a BLAS library's own buffers, and unlike every other allocation of tapegrad, the
 * workspace comes from malloc, not the tg_set_allocator hook: it outlives any allocator
 * configuration (a thread may exit after the hook changed) and belongs to no call. If it
 * cannot be allocated the product runs the unpacked reference loop. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

#define KC 256
#define MC 72
#define NC 128

#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 16")
#else
#define UNROLL
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_X86_CLONE 1
#define ATTR_AVX2 __attribute__((target("avx2,fma")))
#define ATTR_AVX512 __attribute__((target("avx512f,fma")))
#else
#define HAVE_X86_CLONE 0
#endif

/* the workspace holds Bp (KC x NC) and Ap (KC x MC) of any build: NC and MC are
 * already multiples of every NR (8, 16, 32) and MR (6) */
#define WS_ELEMS ((size_t)KC * (NC + MC))
_Static_assert(NC % 32 == 0 && MC % 6 == 0, "panel sizes must divide the blocks");

static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static pthread_key_t ws_key; /* for the destructor at thread exit */
static bool ws_key_ok;
static _Thread_local void *tl_ws; /* this thread's buffer (also keeps it reachable) */

static void ws_init(void) { ws_key_ok = pthread_key_create(&ws_key, free) == 0; }

/* this thread's workspace of WS_ELEMS doubles, allocated on first use; NULL if that
 * fails (the caller then runs without packing) */
static void *ws_get(void)
{
    if (tl_ws)
        return tl_ws;
    pthread_once(&ws_once, ws_init);
    if (!ws_key_ok)
        return NULL;
    void *w = aligned_alloc(64, WS_ELEMS * sizeof(double));
    if (!w)
        return NULL;
    if (pthread_setspecific(ws_key, w) != 0) {
        free(w);
        return NULL;
    }
    tl_ws = w;
    return w;
}

/* packs rows r0..r0+rows of op(M) (columns p0..p0+kc) as panels of W rows, each panel
 * k-major and zero-padded to W; op(M) is M, or M transposed when t. A's panels are
 * pack(ta, A, ...) over its rows; B's are pack(!tb, B, ...) over its columns, which
 * are the rows of op(B) transposed. */
#define PACK(T, W)                                                                     \
    static void pack_##T##W(bool t, const T *M, int64_t ld, int64_t r0, int64_t p0,    \
                            int64_t rows, int64_t kc, T *dst0)                         \
    {                                                                                  \
        for (int64_t rp = 0; rp < rows; rp += W) {                                     \
            int64_t h = rows - rp < W ? rows - rp : W;                                 \
            T *dst = dst0 + rp * kc;                                                   \
            for (int64_t k = 0; k < kc; k++) {                                         \
                for (int64_t r = 0; r < h; r++)                                        \
                    dst[k * W + r] = t ? M[(p0 + k) * ld + r0 + rp + r]                \
                                       : M[(r0 + rp + r) * ld + p0 + k];               \
                for (int64_t r = h; r < W; r++)                                        \
                    dst[k * W + r] = 0;                                                \
            }                                                                          \
        }                                                                              \
    }

/* C[0:mr, 0:nr] = alpha * Ap Bp + beta * C (beta == 0: C is not read) */
#define MICRO(T, MR, NR, SUFFIX, ATTR)                                                 \
    ATTR static void micro_##T##SUFFIX(int64_t kc, const T *restrict Ap,                 \
                                       const T *restrict Bp, T *C, int64_t ldc,         \
                                       int64_t mr, int64_t nr, T alpha, T beta)        \
    {                                                                                  \
        T acc[MR][NR];                                                                 \
        memset(acc, 0, sizeof acc);                                                    \
        for (int64_t k = 0; k < kc; k++) {                                             \
            const T *b = Bp + k * NR;                                                  \
            UNROLL for (int r = 0; r < MR; r++)                                        \
            {                                                                          \
                T a = Ap[k * MR + r];                                                  \
                UNROLL for (int j = 0; j < NR; j++) acc[r][j] += a * b[j];             \
            }                                                                          \
        }                                                                              \
        for (int64_t r = 0; r < mr; r++)                                               \
            for (int64_t j = 0; j < nr; j++)                                           \
                C[r * ldc + j] = alpha * acc[r][j] + (beta == 0 ? 0 : beta * C[r * ldc + j]); \
    }

#define DRIVER(T, MR, NR, SUFFIX, ATTR)                                                \
    ATTR static void gemm_##T##SUFFIX(bool ta, bool tb, int64_t M, int64_t N, int64_t K, \
                                      T alpha, const T *A, int64_t lda, const T *B,     \
                                      int64_t ldb, T beta, T *C, int64_t ldc)           \
    {                                                                                  \
        T *Bp = ws_get();                                                              \
        if (!Bp) {                                                                     \
            REF_##T(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);             \
            return;                                                                    \
        }                                                                              \
        T *Ap = Bp + KC * NC;                                                          \
        for (int64_t j0 = 0; j0 < N; j0 += NC) {                                       \
            int64_t nc = N - j0 < NC ? N - j0 : NC;                                    \
            for (int64_t p0 = 0; p0 < K; p0 += KC) {                                   \
                int64_t kc = K - p0 < KC ? K - p0 : KC;                                \
                T b_eff = p0 == 0 ? beta : (T)1;                                       \
                pack_##T##NR(!tb, B, ldb, j0, p0, nc, kc, Bp);                         \
                for (int64_t i0 = 0; i0 < M; i0 += MC) {                               \
                    int64_t mc = M - i0 < MC ? M - i0 : MC;                            \
                    pack_##T##MR(ta, A, lda, i0, p0, mc, kc, Ap);                      \
                    for (int64_t jp = 0; jp < nc; jp += NR)                            \
                        for (int64_t ip = 0; ip < mc; ip += MR)                        \
                            micro_##T##SUFFIX(kc, Ap + ip * kc, Bp + jp * kc,           \
                                              C + (i0 + ip) * ldc + j0 + jp, ldc,      \
                                              mc - ip < MR ? mc - ip : MR,             \
                                              nc - jp < NR ? nc - jp : NR, alpha, b_eff); \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    }

#define REF_float tg__gemm_f32_ref
#define REF_double tg__gemm_f64_ref
PACK(float, 16)
PACK(float, 6)
PACK(double, 8)
PACK(double, 6)
#if HAVE_X86_CLONE
PACK(float, 32)
PACK(double, 16)
#endif
MICRO(float, 6, 16, _portable, )
MICRO(double, 6, 8, _portable, )
DRIVER(float, 6, 16, _portable, )
DRIVER(double, 6, 8, _portable, )
#if HAVE_X86_CLONE
MICRO(float, 6, 16, _avx2, ATTR_AVX2)
MICRO(double, 6, 8, _avx2, ATTR_AVX2)
DRIVER(float, 6, 16, _avx2, ATTR_AVX2)
DRIVER(double, 6, 8, _avx2, ATTR_AVX2)
MICRO(float, 6, 32, _avx512, ATTR_AVX512)
MICRO(double, 6, 16, _avx512, ATTR_AVX512)
DRIVER(float, 6, 32, _avx512, ATTR_AVX512)
DRIVER(double, 6, 16, _avx512, ATTR_AVX512)
#endif

/* the widest kernel set this CPU runs: 2 AVX-512, 1 AVX2, 0 portable (all need FMA) */
static int simd_level(void)
{
#if HAVE_X86_CLONE
    if (!__builtin_cpu_supports("fma"))
        return 0;
    return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* K == 0 or empty C: C = beta C (zeros for beta == 0, never reading C) */
#define DEGENERATE(T)                                                                  \
    static bool degenerate_##T(int64_t M, int64_t N, int64_t K, T beta, T *C, int64_t ldc) \
    {                                                                                  \
        if (M > 0 && N > 0 && K > 0)                                                   \
            return false;                                                              \
        for (int64_t i = 0; i < M && K == 0; i++)                                      \
            for (int64_t j = 0; j < N; j++)                                            \
                C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];                \
        return true;                                                                   \
    }
DEGENERATE(float)
DEGENERATE(double)

/* the dispatcher: the widest build the CPU runs */
#if HAVE_X86_CLONE
#define PICK(T)                                                                        \
    (simd_level() == 2   ? gemm_##T##_avx512                                          \
     : simd_level() == 1 ? gemm_##T##_avx2                                            \
                         : gemm_##T##_portable)
#else
#define PICK(T) gemm_##T##_portable
#endif
#define DISPATCH(T, NAME)                                                              \
    void NAME(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A,   \
              int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc)          \
    {                                                                                  \
        if (!degenerate_##T(M, N, K, beta, C, ldc))                                    \
            PICK(T)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);             \
    }
DISPATCH(float, tg__gemm_f32_blocked)
DISPATCH(double, tg__gemm_f64_blocked)

/* each build of the kernel on its own, for the variant test; an ISA the CPU lacks
 * falls back to the portable build */
#if HAVE_X86_CLONE
#define CLONE(T, ISA) gemm_##T##_##ISA
#define SUPPORTED(LEVEL) (simd_level() >= (LEVEL))
#else
#define CLONE(T, ISA) gemm_##T##_portable
#define SUPPORTED(LEVEL) false
#endif
#define ONE_BUILD(T, NAME, ISA, TEST)                                                  \
    void NAME(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A,  \
              int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc)         \
    {                                                                                  \
        if (degenerate_##T(M, N, K, beta, C, ldc))                                     \
            return;                                                                    \
        (TEST ? CLONE(T, ISA) : gemm_##T##_portable)(ta, tb, M, N, K, alpha, A, lda, B, ldb, \
                                                     beta, C, ldc);                    \
    }
ONE_BUILD(float, tg__gemm_f32_blocked_portable, portable, false)
ONE_BUILD(double, tg__gemm_f64_blocked_portable, portable, false)
ONE_BUILD(float, tg__gemm_f32_blocked_avx2, avx2, SUPPORTED(1))
ONE_BUILD(double, tg__gemm_f64_blocked_avx2, avx2, SUPPORTED(1))
ONE_BUILD(float, tg__gemm_f32_blocked_avx512, avx512, SUPPORTED(2))
ONE_BUILD(double, tg__gemm_f64_blocked_avx512, avx512, SUPPORTED(2))
