/* The audio functions that need no external library (always built): the HTK mel scale
 * and filterbank against values computed independently, MFCC (DCT-II) known answers,
 * centred fit, and the augmentations' determinism and effects. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "tapegrad.h"

/* The filterbank of n_mels=10, n_fft=64, rate=8000, 0..4000 Hz at a few (mel, bin),
 * computed outside tapegrad with Python's math module from the natural-log form
 * mel = (2595 / ln 10) ln(1 + f/700) and the piecewise triangle
 * w = (f - l)/(c - l) on (l, c], (r - f)/(r - c) on (c, r), 0 elsewhere. */
static const struct { int m, k; double w; } fb_ref[] = {
    {0, 1, 0.944823099}, {0, 2, 0.251769297}, {3, 7, 0.334472394}, {3, 8, 0.0},
    {5, 11, 0.740053409}, {9, 25, 0.796444949}, {9, 28, 0.669256314}, {9, 31, 0.167314079},
    {2, 20, 0.0}, {4, 7, 0.665527606},
};

static void test_mel_scale(void)
{
    /* 2595 log10(1 + 1000/700) */
    CHECK(fabs(tg_hz_to_mel(1000) - 999.9855371396244) < 1e-9, "hz_to_mel(1000) = %.10f",
          tg_hz_to_mel(1000));
    CHECK(fabs(tg_hz_to_mel(700) - 2595 * log10(2.0)) < 1e-9, "hz_to_mel(700)");
    CHECK(tg_hz_to_mel(0) == 0, "hz_to_mel(0)");
    for (double f = 0; f <= 8000; f += 250)
        CHECK(fabs(tg_mel_to_hz(tg_hz_to_mel(f)) - f) < 1e-6, "mel round trip at %g Hz", f);
}

static void test_filterbank(void)
{
    const int nm = 10, nfft = 64, rate = 8000, nb = nfft / 2 + 1;
    tg_tensor *fb = tg_mel_filterbank(nm, nfft, rate, 0, 4000);
    CHECK(fb && fb->dtype == TG_F32 && fb->ndim == 2 && fb->shape[0] == nm && fb->shape[1] == nb,
          "filterbank shape");
    if (!fb)
        return;
    const float *d = fb->data;
    for (size_t i = 0; i < sizeof fb_ref / sizeof fb_ref[0]; i++)
        CHECK(fabs(d[fb_ref[i].m * nb + fb_ref[i].k] - fb_ref[i].w) < 1e-6,
              "fb[%d][%d] = %.9f, reference %.9f", fb_ref[i].m, fb_ref[i].k,
              (double)d[fb_ref[i].m * nb + fb_ref[i].k], fb_ref[i].w);
    /* every element against the piecewise form computed here in double */
    double c[12];
    double k_ = 2595.0 / log(10.0), top = k_ * log1p(4000.0 / 700.0);
    for (int i = 0; i < nm + 2; i++)
        c[i] = 700.0 * expm1(top * i / (nm + 1) / k_);
    double worst = 0;
    int nonzero = 0;
    for (int m = 0; m < nm; m++)
        for (int k = 0; k < nb; k++) {
            double f = (double)k * rate / nfft, l = c[m], ce = c[m + 1], r = c[m + 2], w = 0;
            if (f > l && f <= ce)
                w = (f - l) / (ce - l);
            else if (f > ce && f < r)
                w = (r - f) / (r - ce);
            worst = fmax(worst, fabs(w - d[m * nb + k]));
            nonzero += d[m * nb + k] > 1e-6;
        }
    CHECK(worst < 1e-6, "filterbank differs from the formula by %g", worst);
    CHECK(nonzero == 56, "%d weights above 1e-6, reference (Python) 56", nonzero);
    tg_tensor_free(&fb);

    /* bad arguments are refused with a message */
    CHECK(!tg_mel_filterbank(0, 64, 8000, 0, 4000) &&
              strstr(tg_last_error(), "tg_mel_filterbank"), "n_mels 0");
    CHECK(!tg_mel_filterbank(10, 63, 8000, 0, 4000), "odd n_fft");
    CHECK(!tg_mel_filterbank(10, 64, 8000, 0, 4001) && strstr(tg_last_error(), "fmax 4001"),
          "fmax above Nyquist: %s", tg_last_error());
    CHECK(!tg_mel_filterbank(10, 64, 8000, 500, 500), "fmin == fmax");
}

static void test_mfcc(void)
{
    const int nm = 8, frames = 3;
    tg_tensor *lm = tg_zeros(TG_F32, 2, (int64_t[]){nm, frames});
    float *d = lm->data;
    /* frame 0 constant 2; frame 1 the DCT basis vector q = 3; frame 2 zero */
    for (int m = 0; m < nm; m++) {
        d[m * frames + 0] = 2.0f;
        d[m * frames + 1] = (float)cos(3.14159265358979323846 * 3 * (m + 0.5) / nm);
    }
    tg_tensor *c = tg_mfcc(lm, nm);
    CHECK(c && c->shape[0] == nm && c->shape[1] == frames, "mfcc shape");
    if (c) {
        const float *cd = c->data;
        /* orthonormal: c0 = sqrt(1/nm) * sum = 2 sqrt(nm); basis q: sqrt(2/nm) * nm/2 */
        CHECK(fabs(cd[0] - 2 * sqrt((double)nm)) < 1e-5, "c0 of a constant = %g", (double)cd[0]);
        for (int q = 1; q < nm; q++)
            CHECK(fabs(cd[q * frames]) < 1e-5, "c%d of a constant = %g", q, (double)cd[q * frames]);
        for (int q = 0; q < nm; q++) {
            double want = q == 3 ? sqrt(nm / 2.0) : 0;
            CHECK(fabs(cd[q * frames + 1] - want) < 1e-5, "basis 3: c%d = %g, want %g", q,
                  (double)cd[q * frames + 1], want);
            CHECK(cd[q * frames + 2] == 0, "zero frame");
        }
    }
    tg_tensor_free(&c);
    c = tg_mfcc(lm, 4);
    CHECK(c && c->shape[0] == 4, "first 4 coefficients");
    tg_tensor_free(&c);
    CHECK(!tg_mfcc(lm, nm + 1) && strstr(tg_last_error(), "tg_mfcc"), "n_mfcc > n_mels");
    tg_tensor_free(&lm);
}

static tg_tensor *ramp(int64_t n)
{
    tg_tensor *x = tg_zeros(TG_F32, 1, &n);
    for (int64_t i = 0; i < n; i++)
        ((float *)x->data)[i] = (float)(i + 1);
    return x;
}

static void test_fit(void)
{
    tg_tensor *x = ramp(10);
    tg_tensor *a = tg_audio_fit(x, 4), *b = tg_audio_fit(x, 15);
    CHECK(a && b, "fit");
    const float *ad = a->data, *bd = b->data;
    /* crop: (10 - 4) / 2 = 3 samples dropped at the start: 4 5 6 7 */
    CHECK(ad[0] == 4 && ad[3] == 7, "crop %g..%g", (double)ad[0], (double)ad[3]);
    /* pad: (15 - 10) / 2 = 2 zeros before, 3 after */
    CHECK(bd[0] == 0 && bd[1] == 0 && bd[2] == 1 && bd[11] == 10 && bd[12] == 0 && bd[14] == 0,
          "pad");
    tg_tensor_free(&a);
    tg_tensor_free(&b);
    CHECK(!tg_audio_fit(x, 0), "length 0 refused");
    tg_tensor *m = tg_zeros(TG_F32, 2, (int64_t[]){2, 5});
    CHECK(!tg_audio_fit(m, 4) && strstr(tg_last_error(), "[2,5]"), "2-D refused: %s",
          tg_last_error());
    tg_tensor_free(&m);
    tg_tensor_free(&x);
}

static void test_shift(void)
{
    /* the shift of one index is the same every time; an impulse moves by it */
    int seen_pos = 0, seen_neg = 0;
    for (uint64_t idx = 0; idx < 40; idx++) {
        tg_tensor *x = tg_zeros(TG_F32, 1, (int64_t[]){101});
        ((float *)x->data)[50] = 1;
        tg_tensor *y = tg_tensor_clone(x);
        CHECK(tg_audio_shift(x, 7, 42, idx) == TG_OK, "shift");
        tg_audio_shift(y, 7, 42, idx);
        CHECK(tg_tensor_hash(x) == tg_tensor_hash(y), "same (seed, index), same shift");
        int at = -1, ones = 0;
        for (int i = 0; i < 101; i++)
            if (((float *)x->data)[i] != 0) {
                at = i;
                ones++;
            }
        CHECK(ones == 1 && at >= 43 && at <= 57, "impulse at %d (%d nonzero)", at, ones);
        seen_pos += at > 50;
        seen_neg += at < 50;
        tg_tensor_free(&x);
        tg_tensor_free(&y);
    }
    CHECK(seen_pos > 5 && seen_neg > 5, "shifts both ways (%d right, %d left)", seen_pos, seen_neg);
    /* zeros enter where the signal left */
    tg_tensor *x = ramp(20);
    tg_audio_shift(x, 0, 1, 1);
    CHECK(((float *)x->data)[0] == 1 && ((float *)x->data)[19] == 20, "max_shift 0 is identity");
    CHECK(tg_audio_shift(x, -1, 1, 1) == TG_EINVAL, "negative max_shift");
    tg_tensor_free(&x);
}

static void test_noise(void)
{
    const int64_t n = 32000;
    tg_tensor *x = tg_zeros(TG_F32, 1, &n);
    for (int64_t i = 0; i < n; i++)
        ((float *)x->data)[i] = (float)(0.5 * sin(0.05 * (double)i));
    tg_tensor *a = tg_tensor_clone(x), *b = tg_tensor_clone(x), *c = tg_tensor_clone(x);
    CHECK(tg_audio_add_noise(a, 10, 10, 7, 3) == TG_OK, "noise");
    tg_audio_add_noise(b, 10, 10, 7, 3);
    tg_audio_add_noise(c, 10, 10, 7, 4);
    CHECK(tg_tensor_hash(a) == tg_tensor_hash(b), "same (seed, index), same noise");
    CHECK(tg_tensor_hash(a) != tg_tensor_hash(c), "another index, other noise");
    /* measured SNR: signal power 0.125, noise power 0.0125 at 10 dB */
    double pn = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)((float *)a->data)[i] - ((float *)x->data)[i];
        pn += e * e;
    }
    pn /= (double)n;
    double snr = 10 * log10(0.125 / pn);
    CHECK(fabs(snr - 10) < 0.15, "measured SNR %.3f dB, asked 10", snr);
    /* a range: the SNR of each index lies in it, and varies */
    double lo = 1e9, hi = -1e9;
    for (uint64_t idx = 0; idx < 12; idx++) {
        tg_tensor *d = tg_tensor_clone(x);
        tg_audio_add_noise(d, 5, 20, 9, idx);
        double p = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = (double)((float *)d->data)[i] - ((float *)x->data)[i];
            p += e * e;
        }
        double s = 10 * log10(0.125 / (p / (double)n));
        lo = fmin(lo, s);
        hi = fmax(hi, s);
        tg_tensor_free(&d);
    }
    CHECK(lo > 4.8 && hi < 20.2 && hi - lo > 3, "SNRs in [%.2f, %.2f] for range [5, 20]", lo, hi);
    /* silence stays silent (no division by a zero power) */
    tg_tensor *z = tg_zeros(TG_F32, 1, (int64_t[]){100});
    CHECK(tg_audio_add_noise(z, 10, 10, 1, 1) == TG_OK && ((float *)z->data)[50] == 0, "silence");
    CHECK(tg_audio_add_noise(z, 20, 10, 1, 1) == TG_EINVAL, "min > max refused");
    tg_tensor *all[] = {x, a, b, c, z};
    for (int i = 0; i < 5; i++)
        tg_tensor_free(&all[i]);
}

static void test_spec_augment(void)
{
    const int nm = 20, fr = 50;
    tg_tensor *s = tg_zeros(TG_F32, 2, (int64_t[]){nm, fr});
    for (int i = 0; i < nm * fr; i++)
        ((float *)s->data)[i] = (float)(i % 7); /* mean (over 1000) = 2.997 */
    double mean = 0;
    for (int i = 0; i < nm * fr; i++)
        mean += ((float *)s->data)[i];
    float fill = (float)(mean / (nm * fr));
    tg_tensor *a = tg_tensor_clone(s), *b = tg_tensor_clone(s);
    CHECK(tg_spec_augment(a, 2, 5, 2, 10, 11, 5) == TG_OK, "spec augment");
    tg_spec_augment(b, 2, 5, 2, 10, 11, 5);
    CHECK(tg_tensor_hash(a) == tg_tensor_hash(b), "deterministic");
    /* changed cells all hold the fill value, and form whole rows and columns */
    int changed = 0, full_rows = 0, full_cols = 0;
    for (int i = 0; i < nm * fr; i++)
        if (((float *)a->data)[i] != ((float *)s->data)[i]) {
            changed++;
            CHECK(((float *)a->data)[i] == fill, "masked value");
        }
    for (int m = 0; m < nm; m++) {
        int f = 0;
        for (int t = 0; t < fr; t++)
            f += ((float *)a->data)[m * fr + t] == fill;
        full_rows += f == fr;
    }
    for (int t = 0; t < fr; t++) {
        int f = 0;
        for (int m = 0; m < nm; m++)
            f += ((float *)a->data)[m * fr + t] == fill;
        full_cols += f == nm;
    }
    CHECK(full_rows <= 10 && full_cols <= 20, "at most 2x5 rows, 2x10 columns masked");
    /* over several indices, masks appear */
    int any = 0;
    for (uint64_t idx = 0; idx < 10; idx++) {
        tg_tensor *c = tg_tensor_clone(s);
        tg_spec_augment(c, 2, 5, 2, 10, 11, idx);
        any += tg_tensor_hash(c) != tg_tensor_hash(s);
        tg_tensor_free(&c);
    }
    CHECK(any >= 8, "%d of 10 indices masked something", any);
    (void)changed;
    tg_tensor *c = tg_tensor_clone(s);
    tg_spec_augment(c, 3, 0, 3, 0, 1, 1);
    CHECK(tg_tensor_hash(c) == tg_tensor_hash(s), "zero widths change nothing");
    CHECK(tg_spec_augment(c, -1, 1, 1, 1, 1, 1) == TG_EINVAL, "negative count");
    tg_tensor *all[] = {s, a, b, c};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
}

int main(void)
{
    test_mel_scale();
    test_filterbank();
    test_mfcc();
    test_fit();
    test_shift();
    test_noise();
    test_spec_augment();
    return check_summary();
}
