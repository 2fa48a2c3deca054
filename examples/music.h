/* The General MIDI families shared by examples/music_render and examples/music: program p
 * (0..95 here; 96..127 are effects and are not rendered) belongs to family p / 8. */
#ifndef TG_EXAMPLES_MUSIC_H
#define TG_EXAMPLES_MUSIC_H

#define MUSIC_FAMILIES 12
#define MUSIC_PROGRAMS (8 * MUSIC_FAMILIES)
#define MUSIC_RATE 16000
#define MUSIC_CLIP MUSIC_RATE /* 1 s from the onset */
#define MUSIC_LIBRARIES 3

/* the GM 1 family names, in program order (one word each: they are CSV cells) */
static const char *const music_family_names[MUSIC_FAMILIES] = {
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings",
    "ensemble", "brass", "reed", "pipe", "synth_lead", "synth_pad"};

/* the three sample libraries (Debian packages fluid-soundfont-gm, timgm6mb-soundfont,
 * musescore-general-soundfont-small) by the names the examples use */
static const char *const music_library_names[MUSIC_LIBRARIES] = {"fluidr3", "timgm6mb",
                                                                 "musescore"};

/* family index of a GM program 0..95, -1 outside */
static inline int music_family_of(int program)
{
    return program >= 0 && program < MUSIC_PROGRAMS ? program / 8 : -1;
}

#endif
