#!/usr/bin/env python3
"""The instrument corpus renderer and examples/music, short (issue 20's acceptance):

- the family mapping, a known-answer table of GM programs -> families (music_render
  --families, and the family column of a rendered manifest);
- the renderer is deterministic: the first clips of a seed hash the same in two renders
  and in a render of more programs; another seed gives other clips; every clip is 1 s of
  16 kHz mono 16-bit sound;
- a bad or missing sound font, and unreadable, empty or non-audio files given to
  --predict, fail with exit 1 and a message naming the file; a manifest row whose family
  is not its program's is refused;
- one augmented epoch on a tiny corpus (two libraries, one held out): the JSON's keys,
  a confusion matrix covering every test clip, drawn by scripts/plot_confusion.sh;
  2 augmented epochs saved and resumed to 3 give the model of 3 straight epochs;
  --dump-features writes the three sets' shapes and library indices (for
  bench/music_torch.py);
- a small overfit run (no augmentation, the default) saved, then --predict on training clips of every
  family (as rendered, and as 44.1 kHz stereo copies: resampled and mixed down) must name
  each clip's family first, with three distinct families and falling probabilities.

The tiny corpus uses TimGM6mb (the sound font CI installs) for training and MuseScore
General for testing when it is installed; without it, TimGM6mb is rendered a second time
under the name fluidr3 with other notes (a smoke test of the held-out-library path, not
a measurement).

usage: check_music.py MUSIC_RENDER MUSIC PLOT_CONFUSION WORKDIR
Exit 0 on success, 1 on failure, 77 when MUSIC_RENDER is "none" (built without
libfluidsynth) or TimGM6mb is not installed."""
import csv
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import wave

TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"
MUSESCORE = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"
# GM 1: programs 8k..8k+7 are one family; checked at both ends of every family
KNOWN = {0: "piano", 7: "piano", 8: "chromatic_percussion", 15: "chromatic_percussion",
         16: "organ", 23: "organ", 24: "guitar", 31: "guitar", 32: "bass", 39: "bass",
         40: "strings", 47: "strings", 48: "ensemble", 55: "ensemble", 56: "brass",
         63: "brass", 64: "reed", 71: "reed", 72: "pipe", 79: "pipe", 80: "synth_lead",
         87: "synth_lead", 88: "synth_pad", 95: "synth_pad"}
# one program of each of 8 families: piano, chromatic percussion, organ, guitar, bass,
# strings, brass, pipe
PROGRAMS = "0,11,19,24,33,40,56,73"


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def run(cmd, expect=0):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode != expect:
        fail(f"{' '.join(cmd)} exited {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    return p


def manifest(d):
    with open(os.path.join(d, "manifest.csv")) as f:
        stamp = f.readline()
        return stamp, list(csv.DictReader(f))


def digest(d, files):
    h = hashlib.sha256()
    for name in files:
        with open(os.path.join(d, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def write_wav(path, rate, channels, frames):
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(frames)}h", *frames))


def read_wav(path):
    with wave.open(path) as w:
        n = w.getnframes()
        return list(struct.unpack(f"<{n}h", w.readframes(n)))


def stereo_44k(src, dst):
    """src (16 kHz mono) as 44.1 kHz stereo, linear interpolation, right = 0.8 * left"""
    x = read_wav(src)
    n = int(len(x) * 44100 / 16000)
    left = []
    for i in range(n):
        t = i * 16000 / 44100
        k = int(t)
        f = t - k
        b = x[k + 1] if k + 1 < len(x) else 0
        left.append(int(round((1 - f) * x[k] + f * b)))
    frames = []
    for v in left:
        frames += [v, int(0.8 * v)]
    write_wav(dst, 44100, 2, frames)


def main():
    render, music, plot, work = sys.argv[1:5]
    if render == "none":
        print("built without libfluidsynth (libfluidsynth-dev): no music_render, skipped")
        return 77
    if not os.access(TIMGM, os.R_OK):
        print(f"{TIMGM} is not installed (timgm6mb-soundfont): skipped")
        return 77
    os.makedirs(work, exist_ok=True)

    # ---- the family mapping: a known-answer table
    rows = run([render, "--families"]).stdout.splitlines()
    if rows[0] != "program,family_index,family" or len(rows) != 97:
        fail(f"--families: {rows[:2]} ... {len(rows)} lines")
    table = {int(r.split(",")[0]): r.split(",")[2] for r in rows[1:]}
    for p, fam in KNOWN.items():
        if table[p] != fam:
            fail(f"program {p} is in family {table[p]}, GM says {fam}")
    if [int(r.split(",")[1]) for r in rows[1:]] != [p // 8 for p in range(96)]:
        fail("family indices are not program / 8")

    # ---- determinism
    det = [os.path.join(work, d) for d in ("det-a", "det-b", "det-c", "det-seed2")]
    for d in det:
        shutil.rmtree(d, ignore_errors=True)
    base = [render, "--libraries", "timgm6mb", "--notes", "2"]
    run(base + ["--out", det[0], "--programs", "0,33"])
    run(base + ["--out", det[1], "--programs", "0,33"])
    run(base + ["--out", det[2], "--programs", "0-40"])
    run(base + ["--out", det[3], "--programs", "0,33", "--seed", "2"])
    stamp, rows = manifest(det[0])
    first = [r["file"] for r in rows]
    if len(first) != 4 or not stamp.startswith("# music_render v2 seed=1 notes=2 programs=0,33"):
        fail(f"manifest {stamp!r} with {len(first)} rows")
    h = [digest(d, first) for d in det]
    print(f"hash of the first {len(first)} clips, seed 1: {h[0][:16]}; seed 2: {h[3][:16]}")
    if not h[0] == h[1] == h[2]:
        fail(f"the same clips differ between renders: {h[:3]}")
    if h[3] == h[0]:
        fail("seed 2 renders the same clips as seed 1")
    if manifest(det[3])[1][0]["pitch"] == rows[0]["pitch"] and \
            manifest(det[3])[1][1]["pitch"] == rows[1]["pitch"]:
        fail("seed 2 drew the same pitches")
    for r in rows:
        if r["family"] != KNOWN.get(int(r["program"]), r["family"]) or \
                r["family"] != table[int(r["program"])]:
            fail(f"manifest row {r}: wrong family")
        with wave.open(os.path.join(det[0], r["file"])) as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) != \
                    (16000, 1, 2, 16000):
                fail(f"{r['file']}: {w.getparams()}")
        if max(map(abs, read_wav(os.path.join(det[0], r["file"])))) < 100:
            fail(f"{r['file']} is silent")
    if run(base + ["--out", det[0], "--programs", "0,33"]).stdout.strip() != det[0] + ": cached":
        fail("a second render with the same parameters did not reuse the cache")

    # ---- bad sound fonts
    bad = os.path.join(work, "not-a-font.sf2")
    with open(bad, "wb") as f:
        f.write(b"RIFF\x10\x00\x00\x00WAVEthis is no sound font")
    for font in (bad, os.path.join(work, "missing.sf2")):
        p = run(base + ["--out", os.path.join(work, "bad-out"), "--programs", "0",
                        "--soundfont", "timgm6mb=" + font], expect=1)
        if font not in p.stderr:
            fail(f"the error for sound font {font} does not name it: {p.stderr!r}")
        print(p.stderr.strip())

    # ---- the tiny corpus: TimGM6mb to train on, another library to test on
    data = os.path.join(work, "music-small")
    if os.access(MUSESCORE, os.R_OK):
        test_lib, extra = "musescore", []
    else:
        test_lib, extra = "fluidr3", ["--soundfont", "fluidr3=" + TIMGM]
        print("MuseScore General is not installed: TimGM6mb stands in for the test library")
    run([render, "--out", data, "--programs", PROGRAMS, "--notes", "6", "--libraries",
         "timgm6mb," + test_lib] + extra)
    stamp, rows = manifest(data)
    if len(rows) != 2 * 8 * 6:
        fail(f"tiny corpus: {len(rows)} clips")
    n_test = sum(r["library"] == test_lib for r in rows)

    # one augmented epoch: the whole path, the JSON, the confusion matrix and its plot
    conf = os.path.join(work, "confusion.csv")
    p = run([music, "--data", data, "--test-library", test_lib, "--epochs", "1", "--batch", "8",
             "--augment", "--json", "--confusion", conf])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    print(p.stderr.strip())
    if list(out)[:3] != ["test_library", "test_acc", "same_library_acc"] or \
            out["test_library"] != test_lib or out["augment"] != 1 or out["epochs_run"] != 1:
        fail(f"JSON {out}")
    if sum(map(sum, out["confusion"])) != n_test or out["n_test"] != n_test or \
            out["n_same"] != 8 or out["n_train"] != 40:
        fail(f"sets: {out['n_train']} / {out['n_same']} / {out['n_test']} clips, confusion "
             f"covers {sum(map(sum, out['confusion']))}")
    if len(out["precision"]) != 12 or len(out["recall"]) != 12 or not 0 <= out["test_acc"] <= 1:
        fail(f"per-family figures: {out}")
    with open(conf) as f:
        crow = list(csv.reader(f))
    if crow[0][1:] != out["families"] or [list(map(int, r[1:])) for r in crow[1:]] != \
            out["confusion"]:
        fail("the confusion CSV differs from the JSON")
    if shutil.which("gnuplot"):
        run(["bash", plot, conf, os.path.join(work, "confusion"), "music smoke test"])
        png = open(os.path.join(work, "confusion.png"), "rb").read()
        svg = open(os.path.join(work, "confusion.svg")).read()
        if png[:8] != b"\x89PNG\r\n\x1a\n" or "synth_pad" not in svg or "predicted" not in svg:
            fail("confusion heatmap")

    # the features for the PyTorch reference: a safetensors file of the three sets
    feat = os.path.join(work, "features.safetensors")
    run([music, "--data", data, "--test-library", test_lib, "--dump-features", feat])
    with open(feat, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    shapes = {k: v["shape"] for k, v in header.items() if k != "__metadata__"}
    if shapes != {"x_train": [40, 1, 64, 98], "y_train": [40], "l_train": [40],
                  "x_same": [8, 1, 64, 98], "y_same": [8], "l_same": [8],
                  "x_test": [48, 1, 64, 98], "y_test": [48], "l_test": [48]} or \
            header["__metadata__"]["test_library"] != test_lib:
        fail(f"--dump-features: {shapes} {header['__metadata__']}")
    # the library indices (fluidr3 0, timgm6mb 1, musescore 2): TimGM6mb trained on, the
    # held-out library tested on
    with open(feat, "rb") as f:
        f.read(struct.unpack("<Q", f.read(8))[0])
        body = f.read()
    def lib_of(name):
        lo, hi = header[name]["data_offsets"]
        return set(struct.unpack(f"<{(hi - lo) // 4}i", body[lo:hi]))
    want_test = ["fluidr3", "timgm6mb", "musescore"].index(test_lib)
    if lib_of("l_train") != {1} or lib_of("l_same") != {1} or lib_of("l_test") != {want_test}:
        fail(f"--dump-features library indices: {lib_of('l_train')} {lib_of('l_same')} "
             f"{lib_of('l_test')} (test library {test_lib})")

    # a small overfit run, saved; --predict on training clips must give their families
    model = os.path.join(work, "music-small.safetensors")
    p = run([music, "--data", data, "--test-library", test_lib, "--epochs", "25", "--batch", "8",
             "--json", "--save", model])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    print(json.dumps({k: out[k] for k in ("test_acc", "same_library_acc", "train_acc")}))
    if out["train_acc"] != 1:
        fail(f"the overfit run did not learn its training set: train acc {out['train_acc']}")
    train_clips = [r for r in rows if r["library"] == "timgm6mb" and r["file"].endswith("_n000.wav")]
    files = [os.path.join(data, r["file"]) for r in train_clips]
    for r in train_clips[:4]:
        copy = os.path.join(work, "stereo44k-" + os.path.basename(r["file"]))
        stereo_44k(os.path.join(data, r["file"]), copy)
        files.append(copy)
    want = [r["family"] for r in train_clips] + [r["family"] for r in train_clips[:4]]
    p = run([music, "--resume", model, "--json", "--predict"] + files)
    preds = [json.loads(line) for line in p.stdout.strip().splitlines()]
    if len(preds) != len(files):
        fail(f"{len(preds)} predictions for {len(files)} files")
    for f, fam, pr in zip(files, want, preds):
        top = pr["top"]
        print(f"{os.path.basename(f)}: {fam} -> {[(t['family'], t['p']) for t in top]}")
        if pr["file"] != f or len(top) != 3 or len({t["family"] for t in top}) != 3 or \
                not 1 >= top[0]["p"] >= top[1]["p"] >= top[2]["p"] >= 0 or \
                sum(t["p"] for t in top) > 1.0001:
            fail(f"prediction format: {pr}")
        if top[0]["family"] != fam:
            fail(f"{f} is {fam}, predicted {top[0]['family']}")
    # the text form names the same family first
    p = run([music, "--resume", model, "--predict", files[0]])
    if not p.stdout.startswith(files[0] + ": " + want[0] + " "):
        fail(f"text prediction: {p.stdout!r}")

    # ---- --save after 2 augmented epochs, --resume to 3: the model of 3 straight epochs
    ck = os.path.join(work, "music-resume.safetensors")
    hb = [music, "--data", data, "--test-library", test_lib, "--batch", "8", "--augment",
          "--seed", "2", "--print-hash"]
    run(hb + ["--epochs", "2", "--save", ck])
    hashes = [run(hb + ["--epochs", "3"] + extra).stdout.split()[-1]
              for extra in ([], ["--resume", ck])]
    if hashes[0] != hashes[1]:
        fail(f"resumed model {hashes[1]} differs from straight {hashes[0]}")

    # ---- files --predict cannot use: each named, exit 1, the good file still predicted
    empty = os.path.join(work, "empty.wav")
    write_wav(empty, 16000, 1, [])
    zero = os.path.join(work, "zero-bytes.wav")
    open(zero, "wb").close()
    text = os.path.join(work, "text.wav")
    with open(text, "w") as f:
        f.write("not a sound file\n")
    missing = os.path.join(work, "missing.wav")
    for bad_file in (empty, zero, text, missing):
        p = run([music, "--resume", model, "--predict", bad_file, files[0]], expect=1)
        if bad_file not in p.stderr or not p.stdout.startswith(files[0] + ": " + want[0]):
            fail(f"--predict {bad_file}: {p.stderr!r} {p.stdout!r}")
        print(p.stderr.strip())
    # --predict without a model, or without files: a usage error
    run([music, "--predict", files[0]], expect=2)
    run([music, "--resume", model, "--predict"], expect=2)

    # ---- a manifest whose family column contradicts the program is refused
    broken = os.path.join(work, "music-broken")
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(data, broken)
    lines = open(os.path.join(broken, "manifest.csv")).read().splitlines(True)
    lines[2] = lines[2].replace(",piano,", ",organ,", 1)
    open(os.path.join(broken, "manifest.csv"), "w").writelines(lines)
    p = run([music, "--data", broken, "--test-library", test_lib, "--epochs", "1"], expect=1)
    if "manifest.csv:3: bad row" not in p.stderr:
        fail(f"a wrong family was accepted: {p.stderr!r}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
