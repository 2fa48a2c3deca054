#!/usr/bin/env python3
"""Synthesises a spoken-digit corpus with espeak-ng (Debian package espeak-ng): the words
"zero" .. "nine" in many voices, speeds and pitches, as 16 kHz mono 16-bit WAV files
plus a manifest, for examples/audio.

A voice is an English accent with an espeak-ng variant (en-us+m3, en-gb-scotland+f2,
...). The split is by VARIANT: the variants of the test set (and of the validation set)
never occur in training, in any accent, so test accuracy measures how well the model
generalises to voices it never heard, not memory.

For every voice and digit, --takes renditions are made, each with a speaking speed
(words per minute) and a pitch (0..99) drawn from a random.Random(seed); the same seed
gives the same manifest and the same audio (espeak-ng is deterministic). espeak-ng
writes 22050 Hz; audio_resample (built with tapegrad's examples when the audio module
is) converts to 16 kHz with libsamplerate's windowed-sinc resampler.

    scripts/make_digits.py --tool build/examples/audio_resample [--out DIR] [--seed S]
                           [--small] [--jobs N] [--limit N]

DIR (default ~/.cache/tapegrad/digits, or digits-small with --small) receives the WAVs
and manifest.csv (file,label,voice,speed,pitch,split). An existing DIR whose manifest
was made with the same parameters is reused as it is (printed as "cached"). --small is
the version the tests use: fewer accents, variants and takes.
"""
import argparse
import concurrent.futures
import csv
import os
import random
import subprocess
import sys
import tempfile

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4", "croak", "john", "linda"]
# held-out variants: chosen by hand to span male, female and klatt-synthesised voices
TEST_VARIANTS = ["m3", "f2", "klatt2", "john"]
VAL_VARIANTS = ["m6", "f4", "klatt4"]
SMALL_ACCENTS = ["en-us", "en-gb", "en-gb-scotland"]
SMALL_VARIANTS = ["m1", "m2", "f1", "f3", "klatt", "m3", "f2", "m6"]
RATE = 16000
SPEED = (120, 220)   # words per minute
PITCH = (25, 75)


def split_of(variant):
    return "test" if variant in TEST_VARIANTS else "val" if variant in VAL_VARIANTS else "train"


def plan(seed, small, takes):
    """The manifest rows, in a fixed order, with draws from one random.Random(seed)."""
    rng = random.Random(seed)
    accents = SMALL_ACCENTS if small else ACCENTS
    variants = SMALL_VARIANTS if small else VARIANTS
    rows = []
    for accent in accents:
        for variant in variants:
            voice = f"{accent}+{variant}"
            for label, word in enumerate(WORDS):
                for take in range(takes):
                    speed = rng.randint(*SPEED)
                    pitch = rng.randint(*PITCH)
                    name = f"{label}_{accent}_{variant}_{take}.wav"
                    rows.append({"file": name, "label": label, "voice": voice, "speed": speed,
                                 "pitch": pitch, "split": split_of(variant)})
    return rows


def synth(args):
    """espeak-ng for a batch of rows into tmp, then one audio_resample call to 16 kHz."""
    rows, out, tool, tmp = args
    pairs = []
    for r in rows:
        raw = os.path.join(tmp, r["file"])
        subprocess.run(["espeak-ng", "-v", r["voice"], "-s", str(r["speed"]), "-p",
                        str(r["pitch"]), "-w", raw, WORDS[r["label"]]], check=True)
        pairs += [raw, os.path.join(out, r["file"])]
    subprocess.run([tool, str(RATE)] + pairs, check=True)
    for raw in pairs[::2]:
        os.unlink(raw)
    return len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True, help="path of tapegrad's audio_resample")
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--small", action="store_true", help="the small version for tests")
    ap.add_argument("--takes", type=int, help="renditions per voice and digit "
                    "(default 2, 1 with --small)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, help="only the first N clips of the plan (tests)")
    a = ap.parse_args()
    takes = a.takes or (1 if a.small else 2)
    out = a.out or os.path.expanduser("~/.cache/tapegrad/" + ("digits-small" if a.small
                                                              else "digits"))
    rows = plan(a.seed, a.small, takes)[:a.limit]
    stamp = f"# make_digits seed={a.seed} small={int(a.small)} takes={takes} rows={len(rows)}\n"
    manifest = os.path.join(out, "manifest.csv")
    if os.path.exists(manifest):
        with open(manifest) as f:
            if f.readline() == stamp and all(os.path.exists(os.path.join(out, r["file"]))
                                             for r in rows):
                print(f"cached: {len(rows)} clips in {out}")
                return 0
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        batches = [(rows[i:i + 50], out, a.tool, tmp) for i in range(0, len(rows), 50)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            done = 0
            for n in ex.map(synth, batches):
                done += n
                print(f"\r{done}/{len(rows)} clips", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    # the manifest last, so an interrupted run is not taken for a finished one
    with open(manifest + ".tmp", "w", newline="") as f:
        f.write(stamp)
        w = csv.DictWriter(f, fieldnames=["file", "label", "voice", "speed", "pitch", "split"])
        w.writeheader()
        w.writerows(rows)
    os.replace(manifest + ".tmp", manifest)
    counts = {s: sum(r["split"] == s for r in rows) for s in ("train", "val", "test")}
    print(f"wrote {len(rows)} clips to {out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
