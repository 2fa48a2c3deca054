#!/usr/bin/env python3
"""The examples' command line: --help and a table of bad flags.

usage: check_flags.py NAME=PATH ... (every example binary)

For each example: --help exits 0 and lists every flag on stdout (one line per flag,
with its default where it has one). For each row of BAD: the example exits 2 before
training anything (no stdout, and well within a second's work), and stderr names the
flag (and the accepted range where there is one). Rows that apply only to some
examples say which.
"""
import os
import subprocess
import sys
import tempfile

COMMON = ["--epochs", "--seed", "--threads", "--json", "--print-hash", "--save",
          "--save-every", "--resume", "--log", "--help"]
OWN = {"spiral": ["--lr", "--dropout"], "xor": ["--lr"], "sine": ["--lr"],
       "binary": ["--lr"], "mnist": ["--lr", "--dropout", "--batch", "--data", "--limit"],
       "cnn": ["--lr", "--batch", "--data", "--limit", "--decay", "--batch-norm"],
       "audio": ["--lr", "--batch", "--data", "--no-augment", "--arch", "--patience"],
       "music": ["--lr", "--batch", "--data", "--test-library", "--augment", "--arch",
                 "--confusion", "--dump-features", "--predict"]}

ro = tempfile.mkdtemp(prefix="tg-ro-")
os.chmod(ro, 0o500)
# (args, words stderr must contain, examples it applies to or None for all)
BAD = [
    (["--epochs", "-1"], ["--epochs", "1..1000000"], None),
    (["--epochs", "0"], ["--epochs"], None),
    (["--epochs", "2.5"], ["--epochs", "integer"], None),
    (["--epochs"], ["--epochs", "needs a value"], None),
    (["--threads", "0"], ["--threads"], None),
    (["--threads", "100000"], ["--threads", "4 per processor"], None),
    (["--threads", "1e10"], ["--threads"], None),
    (["--threads", "-3"], ["--threads"], None),
    (["--seed", "-3"], ["--seed", "0..2^53"], None),
    (["--seed", "abc"], ["--seed"], None),
    (["--save-every", "2"], ["--save-every", "--save"], None),
    (["--save-every", "0", "--save", "/tmp/x.st"], ["--save-every"], None),
    (["--save", "/nonexistent-dir/ck.safetensors"], ["--save", "/nonexistent-dir"], None),
    (["--bogus"], ["unknown option --bogus"], None),
    (["--lr", "0"], ["--lr", "> 0"], None),
    (["--lr", "nan"], ["--lr"], None),
    (["--dropout", "1"], ["--dropout", "[0, 1)"], ["spiral", "mnist"]),
    (["--dropout", "0.1"], ["unknown option --dropout"], ["xor", "sine", "binary", "cnn", "audio"]),
    (["--log"], ["--log", "needs a file"], None),
    (["--log", "/nonexistent-dir/log.csv"], ["/nonexistent-dir/log.csv"], None),
    (["--batch", "0"], ["--batch", "1..1000000"], ["mnist", "cnn", "audio", "music"]),
    (["--arch", "3d"], ["--arch", "1d, 2d or 2d-global"], ["audio", "music"]),
    (["--test-library", "gm"], ["--test-library", "fluidr3, timgm6mb or musescore"], ["music"]),
    (["--predict"], ["--predict", "sound file"], ["music"]),
    (["--predict", "x.wav"], ["--predict", "--resume"], ["music"]),
    (["--patience", "0"], ["--patience", "1..1000"], ["audio"]),
    (["--limit", "abc"], ["--limit", "integer"], ["mnist", "cnn"]),
    (["--limit", "-5"], ["--limit"], ["mnist", "cnn"]),
    (["--decay", "-1"], ["--decay"], ["cnn"]),
    (["--data", "/nonexistent-data-dir"], ["/nonexistent-data-dir"], ["mnist", "cnn", "audio",
                                                                      "music"]),
]
if os.geteuid() != 0:  # root can write anywhere: the read-only directory means nothing
    BAD.append((["--save", ro + "/ck.safetensors"], ["--save", "cannot write"], None))


def run(path, args):
    return subprocess.run([path] + args, capture_output=True, text=True, timeout=60)


def main():
    fails = passed = 0
    for spec in sys.argv[1:]:
        name, path = spec.split("=", 1)
        r = run(path, ["--help"])
        want = COMMON + OWN.get(name, [])
        missing = [f for f in want if f not in r.stdout]
        if r.returncode != 0 or missing or r.stderr:
            print(f"FAIL {name} --help: exit {r.returncode}, missing {missing}, stderr {r.stderr!r}")
            fails += 1
        else:
            passed += 1
        for args, words, only in BAD:
            if only and name not in only:
                continue
            r = run(path, args)
            bad = [w for w in words if w not in r.stderr]
            # exit 2 for a bad flag; the data check of mnist/cnn also exits 2
            if r.returncode != 2 or bad or r.stdout:
                print(f"FAIL {name} {' '.join(args)}: exit {r.returncode}, stderr lacks {bad}: "
                      f"{r.stderr.strip()!r}, stdout {r.stdout[:80]!r}")
                fails += 1
            elif r.stderr.count("\n") > 3:
                print(f"FAIL {name} {' '.join(args)}: {r.stderr.count(chr(10))} lines of errors")
                fails += 1
            else:
                passed += 1
    os.rmdir(ro)
    print(f"{passed} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
