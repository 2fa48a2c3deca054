/* Renders the single-note corpus of examples/music with libfluidsynth's C API (no MIDI
 * file, no subprocess): for each sample library (sound font), each General MIDI program
 * 0..95 and each of --notes notes, one note at a pitch in the instrument's range,
 * velocity 70..120, held 0.3..1.2 s, rendered at 16 kHz with reverb and chorus off; the
 * first second from the onset is kept, mixed to mono and written as a 16-bit WAV through
 * libsndfile (tg_audio_save_wav). A manifest.csv lists the clips:
 *     file,family,program,library,pitch,velocity,hold_ms
 * after a "# music_render ..." stamp line holding every parameter. Rendering again with
 * the same parameters finds the stamp and renders nothing ("cached"); the manifest is
 * written last, so an interrupted run is not taken for a finished one.
 *
 * Deterministic: the draws of (library, program, note) come from tapegrad's
 * counter-based RNG under --seed, whatever subset of programs or libraries is rendered,
 * and the synthesizer is reset before each note.
 *
 *   music_render [--out DIR] [--seed S] [--notes N] [--programs LIST] [--libraries LIST]
 *                [--soundfont NAME=PATH] [--families]
 * LIST: comma-separated items, programs also as ranges (0-95, 0,8,16); --soundfont gives
 * a library another file (the default paths are those of the Debian packages);
 * --families prints the program -> family table and exits. Exit 0, 1 on a failure (the
 * message names the file), 2 on a bad command line. */
#include <errno.h>
#include <math.h>
#include <fluidsynth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "music.h"
#include "tapegrad.h"

#define PROG "music_render"
#define SILENT 1e-4f  /* a clip whose peak is below this has no sound */
#define SETTLE 8192  /* samples rendered and dropped between notes */
#define ATTEMPTS 16   /* pitches tried for one note before giving up */

static const char *default_font[MUSIC_LIBRARIES][2] = {
    {"/usr/share/sounds/sf2/FluidR3_GM.sf2", NULL},
    {"/usr/share/sounds/sf2/TimGM6mb.sf2", NULL},
    {"/usr/share/sounds/sf3/MuseScore_General_Lite.sf3", "/usr/share/sounds/sf3/MuseScore_General.sf3"}};

/* MIDI key range of a program: its family's, with the orchestral instruments' own */
static void key_range(int program, int *lo, int *hi)
{
    static const int family[MUSIC_FAMILIES][2] = {
        {33, 93}, {53, 88}, {36, 84}, {40, 79}, {28, 52}, {43, 84},
        {43, 84}, {43, 79}, {50, 84}, {60, 96}, {48, 84}, {36, 84}};
    static const struct { int program, lo, hi; } own[] = {
        {40, 55, 93}, {41, 48, 81}, {42, 36, 69}, {43, 28, 52}, {46, 36, 91}, {47, 40, 55},
        {56, 55, 82}, {57, 40, 72}, {58, 28, 55}, {59, 55, 82}, {60, 41, 77},
        {64, 56, 87}, {65, 49, 80}, {66, 44, 75}, {67, 36, 69}, {68, 58, 91}, {69, 52, 81},
        {70, 34, 72}, {71, 50, 91}, {72, 74, 102}, {76, 60, 84}, {77, 55, 84}, {79, 60, 84}};
    *lo = family[program / 8][0];
    *hi = family[program / 8][1];
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (own[i].program == program) {
            *lo = own[i].lo;
            *hi = own[i].hi;
        }
}

typedef struct {
    int pitch, velocity, hold_ms;
} note;

/* the draws of one clip: stream (library, program, note), counters 0..2; attempt a > 0
 * draws the pitch again from counter 2 + a (a key the font has no sample for) */
static note draw(uint64_t seed, int library, int program, int n, int attempt)
{
    uint64_t stream = ((uint64_t)library << 40) | ((uint64_t)program << 20) | (uint64_t)n;
    int lo, hi;
    key_range(program, &lo, &hi);
    note d;
    d.pitch = lo + (int)(tg_rng_u64(seed, stream, attempt ? 2 + (uint64_t)attempt : 0) %
                         (uint64_t)(hi - lo + 1));
    d.velocity = 70 + (int)(tg_rng_u64(seed, stream, 1) % 51);
    d.hold_ms = 300 + (int)(tg_rng_u64(seed, stream, 2) % 901);
    return d;
}

/* fluidsynth's error messages, kept for ours instead of printed by it */
static char fluid_msg[512];
static void fluid_log_keep(int level, const char *message, void *data)
{
    (void)level, (void)data;
    snprintf(fluid_msg, sizeof fluid_msg, "%s", message);
}
static void fluid_log_quiet(int level, const char *message, void *data)
{
    (void)level, (void)message, (void)data;
}

static void usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (usage: see the top of examples/music_render.c)\n");
    exit(2);
}

/* "0-95" or "0,8,16-23" into want[0..95] */
static void parse_programs(const char *s, bool want[MUSIC_PROGRAMS])
{
    memset(want, 0, sizeof(bool) * MUSIC_PROGRAMS);
    const char *p = s;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            usage_error("--programs: '%s' is not a list of programs 0..95 (e.g. 0-95 or 0,8,16)", s);
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1)
                usage_error("--programs: '%s' is not a list of programs 0..95", s);
            p = end;
        }
        if (a < 0 || b >= MUSIC_PROGRAMS || a > b)
            usage_error("--programs: '%s' is not a list of programs 0..95", s);
        for (long i = a; i <= b; i++)
            want[i] = true;
        if (*p == ',')
            p++;
        else if (*p)
            usage_error("--programs: '%s' is not a list of programs 0..95", s);
    }
}

static int library_index(const char *name, size_t len)
{
    for (int l = 0; l < MUSIC_LIBRARIES; l++)
        if (strlen(music_library_names[l]) == len && !strncmp(name, music_library_names[l], len))
            return l;
    return -1;
}

static void parse_libraries(const char *s, bool want[MUSIC_LIBRARIES])
{
    memset(want, 0, sizeof(bool) * MUSIC_LIBRARIES);
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, ",");
        int l = library_index(p, len);
        if (l < 0)
            usage_error("--libraries: '%s' is not a list of fluidr3, timgm6mb, musescore", s);
        want[l] = true;
        p += len + (p[len] == ',');
    }
}

/* renders one note into x (F32 [MUSIC_CLIP]); false with the reason in fluid_msg (a key
 * the preset has no sample for fails at the note-on, or stays silent) */
static bool render(fluid_synth_t *syn, int sfont, int program, note d, float *x)
{
    enum { BLOCK = 64 };
    float left[BLOCK], right[BLOCK];
    fluid_msg[0] = 0;
    if (fluid_synth_system_reset(syn) != FLUID_OK ||
        fluid_synth_program_select(syn, 0, sfont, 0, program) != FLUID_OK ||
        fluid_synth_noteon(syn, 0, d.pitch, d.velocity) != FLUID_OK)
        return false;
    int hold = d.hold_ms * (MUSIC_RATE / 1000);
    for (int i = 0; i < MUSIC_CLIP; i += BLOCK) {
        int n = MUSIC_CLIP - i < BLOCK ? MUSIC_CLIP - i : BLOCK;
        if (i <= hold && hold < i + n) { /* the note-off falls in this block: split it */
            int k = hold - i;
            if ((k && fluid_synth_write_float(syn, k, left, 0, 1, right, 0, 1) != FLUID_OK) ||
                fluid_synth_noteoff(syn, 0, d.pitch) != FLUID_OK ||
                fluid_synth_write_float(syn, n - k, left, k, 1, right, k, 1) != FLUID_OK)
                return false;
        } else if (fluid_synth_write_float(syn, n, left, 0, 1, right, 0, 1) != FLUID_OK)
            return false;
        for (int j = 0; j < n; j++)
            x[i + j] = 0.5f * (left[j] + right[j]);
    }
    /* silence whatever still sounds, and let the synthesizer settle (the voices it
     * kills fade out over the following blocks) before the next note */
    if (fluid_synth_all_sounds_off(syn, -1) != FLUID_OK)
        return false;
    for (int i = 0; i < SETTLE; i += BLOCK)
        if (fluid_synth_write_float(syn, BLOCK, left, 0, 1, right, 0, 1) != FLUID_OK)
            return false;
    float peak = 0;
    for (int i = 0; i < MUSIC_CLIP; i++)
        peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
    if (!(peak > SILENT)) {
        snprintf(fluid_msg, sizeof fluid_msg, "silent (peak %g)", (double)peak);
        return false;
    }
    return true;
}

/* a synthesizer of `set` with the font of library l loaded (*sf: its id); NULL after
 * printing the reason, naming the font */
static fluid_synth_t *open_synth(fluid_settings_t *set, const char *font, int l, int *sf)
{
    fluid_msg[0] = 0;
    fluid_synth_t *syn = new_fluid_synth(set);
    if (!syn) {
        fprintf(stderr, PROG ": cannot make a fluidsynth synthesizer at %d Hz: %s\n", MUSIC_RATE,
                fluid_msg);
        return NULL;
    }
    *sf = fluid_synth_sfload(syn, font, 1);
    if (*sf == FLUID_FAILED) {
        fprintf(stderr, PROG ": %s (library %s) is not a sound font fluidsynth can load%s%s\n",
                font, music_library_names[l], fluid_msg[0] ? ": " : "", fluid_msg);
        delete_fluid_synth(syn);
        return NULL;
    }
    return syn;
}

static bool mkdir_ok(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

/* renders the notes of library l (font) for the programs in want into out/NAME/, one
 * manifest row each into mf (x: the F32 [MUSIC_CLIP] buffer); false after printing the
 * reason */
static bool render_library(fluid_settings_t *set, const char *font, int l, uint64_t seed,
                           const bool want[MUSIC_PROGRAMS], int notes, const char *out, FILE *mf,
                           tg_tensor *x, int *clips)
{
    /* a synthesizer holding the font for the whole library keeps its samples in
     * fluidsynth's sample cache; each program gets a fresh synthesizer (loading the font
     * again from the cache), since one that has played other programs renders a note
     * slightly differently: a clip then depends only on its program's earlier notes,
     * whatever subset of programs is rendered */
    char path[4096 + 256];
    int sf;
    fluid_synth_t *holder = open_synth(set, font, l, &sf);
    if (!holder)
        return false;
    snprintf(path, sizeof path, "%s/%s", out, music_library_names[l]);
    bool ok = mkdir_ok(path);
    for (int p = 0; p < MUSIC_PROGRAMS && ok; p++) {
        if (!want[p])
            continue;
        fluid_synth_t *syn = open_synth(set, font, l, &sf);
        ok = syn != NULL;
        for (int n = 0; n < notes && ok; n++) {
            note d = draw(seed, l, p, n, 0);
            for (int a = 1; !(ok = render(syn, sf, p, d, x->data)) && a < ATTEMPTS; a++)
                d = draw(seed, l, p, n, a);
            if (!ok) {
                fprintf(stderr, PROG ": %s (library %s): program %d, key %d: %s\n", font,
                        music_library_names[l], p, d.pitch,
                        fluid_msg[0] ? fluid_msg : "fluidsynth failed");
                break;
            }
            char file[128];
            snprintf(file, sizeof file, "%s/p%02d_n%03d.wav", music_library_names[l], p, n);
            snprintf(path, sizeof path, "%s/%s", out, file);
            if (!(ok = tg_audio_save_wav(path, x, MUSIC_RATE) == TG_OK)) {
                fprintf(stderr, PROG ": %s\n", tg_last_error());
                break;
            }
            fprintf(mf, "%s,%s,%d,%s,%d,%d,%d\n", file, music_family_names[p / 8], p,
                    music_library_names[l], d.pitch, d.velocity, d.hold_ms);
            (*clips)++;
        }
        if (syn)
            delete_fluid_synth(syn);
    }
    delete_fluid_synth(holder);
    return ok;
}

int main(int argc, char **argv)
{
    static char out[4096];
    const char *home = getenv("HOME");
    snprintf(out, sizeof out, "%s/.cache/tapegrad/music", home ? home : ".");
    uint64_t seed = 1;
    long notes = 20;
    const char *programs = "0-95", *libraries = "fluidr3,timgm6mb,musescore";
    const char *font[MUSIC_LIBRARIES] = {NULL, NULL, NULL};
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--families")) {
            printf("program,family_index,family\n");
            for (int p = 0; p < MUSIC_PROGRAMS; p++)
                printf("%d,%d,%s\n", p, music_family_of(p), music_family_names[music_family_of(p)]);
            return 0;
        }
        if (!v)
            usage_error("%s needs a value", o);
        char *end;
        if (!strcmp(o, "--out"))
            snprintf(out, sizeof out, "%s", v);
        else if (!strcmp(o, "--seed")) {
            seed = strtoull(v, &end, 10);
            if (end == v || *end || v[0] == '-')
                usage_error("--seed: '%s' is not an integer >= 0", v);
        } else if (!strcmp(o, "--notes")) {
            notes = strtol(v, &end, 10);
            if (end == v || *end || notes < 1 || notes > 1000)
                usage_error("--notes: '%s' is not an integer in 1..1000", v);
        } else if (!strcmp(o, "--programs"))
            programs = v;
        else if (!strcmp(o, "--libraries"))
            libraries = v;
        else if (!strcmp(o, "--soundfont")) {
            const char *eq = strchr(v, '=');
            int l = eq ? library_index(v, (size_t)(eq - v)) : -1;
            if (l < 0 || !eq[1])
                usage_error("--soundfont: '%s' is not NAME=PATH with NAME fluidr3, timgm6mb or "
                            "musescore", v);
            font[l] = eq + 1;
        } else
            usage_error("unknown option %s", o);
    }
    bool want_p[MUSIC_PROGRAMS], want_l[MUSIC_LIBRARIES];
    parse_programs(programs, want_p);
    parse_libraries(libraries, want_l);
    if (!tg_audio_available()) {
        fprintf(stderr, PROG ": tapegrad was built without audio support (libsndfile)\n");
        return 1;
    }
    /* the stamp: every parameter that changes the corpus */
    char stamp[1024];
    snprintf(stamp, sizeof stamp, "# music_render v2 seed=%llu notes=%ld programs=%s libraries=%s "
             "rate=%d fluidsynth=%s", (unsigned long long)seed, notes, programs, libraries,
             MUSIC_RATE, fluid_version_str());
    for (int l = 0; l < MUSIC_LIBRARIES; l++)
        if (font[l])
            snprintf(stamp + strlen(stamp), sizeof stamp - strlen(stamp), " %s=%s",
                     music_library_names[l], font[l]);
    char path[4096 + 256], line[2048];
    snprintf(path, sizeof path, "%s/manifest.csv", out);
    FILE *f = fopen(path, "r");
    if (f) {
        bool same = fgets(line, sizeof line, f) && !strncmp(line, stamp, strlen(stamp)) &&
                    line[strlen(stamp)] == '\n';
        fclose(f);
        if (same) {
            printf("%s: cached\n", out);
            return 0;
        }
    }
    for (int l = 0; l < MUSIC_LIBRARIES; l++) /* every font is checked before any work */
        if (want_l[l] && !font[l])
            font[l] = access(default_font[l][0], R_OK) == 0 || !default_font[l][1] ||
                      access(default_font[l][1], R_OK) != 0 ? default_font[l][0]
                                                            : default_font[l][1];
    for (int l = 0; l < MUSIC_LIBRARIES; l++)
        if (want_l[l] && access(font[l], R_OK) != 0) {
            fprintf(stderr, PROG ": cannot read the sound font %s of library %s: %s\n", font[l],
                    music_library_names[l], strerror(errno));
            return 1;
        }
    if (!mkdir_ok(out))
        return 1;
    fluid_set_log_function(FLUID_PANIC, fluid_log_keep, NULL);
    fluid_set_log_function(FLUID_ERR, fluid_log_keep, NULL);
    fluid_set_log_function(FLUID_WARN, fluid_log_quiet, NULL);
    fluid_set_log_function(FLUID_INFO, fluid_log_quiet, NULL);
    fluid_set_log_function(FLUID_DBG, fluid_log_quiet, NULL);
    char tmp[4096 + 64];
    snprintf(tmp, sizeof tmp, "%s/manifest.csv.tmp", out);
    FILE *mf = fopen(tmp, "w");
    tg_tensor *x = tg_zeros(TG_F32, 1, (int64_t[]){MUSIC_CLIP});
    if (!mf || !x) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", tmp, strerror(errno));
        if (mf)
            fclose(mf);
        tg_tensor_free(&x);
        return 1;
    }
    fprintf(mf, "%s\nfile,family,program,library,pitch,velocity,hold_ms\n", stamp);
    int clips = 0;
    fluid_settings_t *set = new_fluid_settings();
    if (!set || fluid_settings_setnum(set, "synth.sample-rate", MUSIC_RATE) != FLUID_OK ||
        fluid_settings_setint(set, "synth.reverb.active", 0) != FLUID_OK ||
        fluid_settings_setint(set, "synth.chorus.active", 0) != FLUID_OK ||
        fluid_settings_setint(set, "synth.cpu-cores", 1) != FLUID_OK ||
        fluid_settings_setnum(set, "synth.gain", 1.0) != FLUID_OK) {
        fprintf(stderr, PROG ": cannot set up fluidsynth at %d Hz: %s\n", MUSIC_RATE, fluid_msg);
        delete_fluid_settings(set);
        fclose(mf);
        remove(tmp);
        tg_tensor_free(&x);
        return 1;
    }
    bool ok = true;
    for (int l = 0; l < MUSIC_LIBRARIES && ok; l++)
        if (want_l[l])
            ok = render_library(set, font[l], l, seed, want_p, (int)notes, out, mf, x, &clips);
    delete_fluid_settings(set);
    if (!ok) {
        fclose(mf);
        remove(tmp);
        tg_tensor_free(&x);
        return 1;
    }
    snprintf(path, sizeof path, "%s/manifest.csv", out);
    if (fclose(mf) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    tg_tensor_free(&x);
    printf("%s: %d clips\n", out, clips);
    return 0;
}
