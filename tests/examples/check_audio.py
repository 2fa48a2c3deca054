#!/usr/bin/env python3
"""The spoken-digit corpus and examples/audio, short: makes the small corpus with
scripts/make_digits.py (into the build directory, reused when already there), checks its
manifest (240 clips of 16 kHz mono WAV, every digit in every voice, no test or validation
voice in training), checks that the generator is deterministic (the first 12 clips made
twice are byte-identical), then runs the example twice: one augmented epoch (the whole
path runs; the confusion matrix covers every test clip) and 8 epochs without
augmentation, which must beat chance (0.1) by far on the unseen voices; and 2 epochs
saved then resumed to 3 give the model of 3 straight epochs (same fingerprint).

usage: check_audio.py MAKE_DIGITS AUDIO_RESAMPLE AUDIO_EXAMPLE WORKDIR
Exit 0 on success, 1 on failure, 77 when espeak-ng is not installed."""
import csv
import filecmp
import json
import os
import shutil
import subprocess
import sys
import wave


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def run_example(example, data, args):
    p = subprocess.run([example, "--data", data, "--json"] + args, capture_output=True,
                       text=True, timeout=900)
    if p.returncode != 0:
        fail(f"audio {' '.join(args)} exited {p.returncode}\n{p.stderr}")
    print(p.stderr.strip())
    out = json.loads(p.stdout.strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in out.items() if k not in ("confusion",)}))
    return out


def main():
    make, tool, example, work = sys.argv[1:5]
    if not shutil.which("espeak-ng"):
        print("espeak-ng is not installed (scripts/deps.sh installs it)")
        return 77
    data = os.path.join(work, "digits-small")
    gen = [sys.executable, make, "--tool", tool, "--small", "--seed", "1"]
    subprocess.run(gen + ["--out", data], check=True)
    with open(os.path.join(data, "manifest.csv")) as f:
        stamp = f.readline()
        rows = list(csv.DictReader(f))
    if not stamp.startswith("# make_digits seed=1 small=1") or len(rows) != 240:
        fail(f"manifest: {stamp!r}, {len(rows)} rows")
    voices = {s: {r["voice"] for r in rows if r["split"] == s} for s in ("train", "val", "test")}
    if not all(voices.values()) or voices["train"] & (voices["val"] | voices["test"]):
        fail(f"voices overlap between splits: {voices}")
    for v in set().union(*voices.values()):
        labels = sorted(int(r["label"]) for r in rows if r["voice"] == v)
        if labels != list(range(10)):
            fail(f"voice {v} has digits {labels}")
    for r in rows[:20]:
        with wave.open(os.path.join(data, r["file"])) as w:
            if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
                fail(f"{r['file']}: {w.getframerate()} Hz, {w.getnchannels()} channels")
            if not 0.2 < w.getnframes() / 16000 < 2:
                fail(f"{r['file']}: {w.getnframes()} samples")
    # determinism: the same seed makes the same bytes
    for d in ("det-a", "det-b"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        subprocess.run(gen + ["--limit", "12", "--out", os.path.join(work, d)], check=True)
    names = [r["file"] for r in rows[:12]] + ["manifest.csv"]
    _, mismatch, errors = filecmp.cmpfiles(os.path.join(work, "det-a"), os.path.join(work, "det-b"),
                                           names, shallow=False)
    if mismatch or errors:
        fail(f"not deterministic: {mismatch} differ, {errors} missing")
    _, mismatch, errors = filecmp.cmpfiles(os.path.join(work, "det-a"), data, names[:-1],
                                           shallow=False)
    if mismatch or errors:
        fail(f"the first clips differ from the full small corpus's: {mismatch} {errors}")

    out = run_example(example, data, ["--epochs", "1"])
    n_test = sum(r["split"] == "test" for r in rows)
    if sum(map(sum, out["confusion"])) != n_test or out["augment"] != 1 or out["epochs_run"] != 1:
        fail(f"augmented epoch: confusion covers {sum(map(sum, out['confusion']))} of {n_test}")
    out = run_example(example, data, ["--epochs", "8", "--no-augment"])
    if not out["test_acc"] > 0.5 or len(out["recall"]) != 10:
        fail(f"8 epochs without augmentation: test accuracy {out['test_acc']}")
    # --save after 2 epochs, --resume to 3: the same model as 3 epochs straight
    ck = os.path.join(work, "audio-resume.safetensors")
    base = [example, "--data", data, "--no-augment", "--seed", "2", "--print-hash"]
    subprocess.run(base + ["--epochs", "2", "--save", ck], check=True, capture_output=True)
    hashes = [subprocess.run(base + ["--epochs", "3"] + extra, check=True, capture_output=True,
                             text=True).stdout.split()[-1] for extra in ([], ["--resume", ck])]
    if hashes[0] != hashes[1]:
        fail(f"resumed model {hashes[1]} differs from straight {hashes[0]}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
