#!/usr/bin/env python3
"""Measures the README's example results table: every example with its defaults for
seeds 1, 2 and 3 (release build), printed as the table's markdown rows with the date,
the CPU and the command, ready to paste.

usage: scripts/readme_results.py [BUILD_DIR] [--only NAME,NAME] [--threads T]
"""
import datetime
import json
import os
import subprocess
import sys

# example -> (extra arguments, metric key and label)
EXAMPLES = {
    "spiral": ([], "val_acc"),
    "xor": ([], "val_acc"),
    "sine": ([], "val_mse"),
    "binary": ([], "val_acc"),
    "mnist": (["--threads", "2"], "test_acc"),
    "cnn": ([], "test_acc"),
    "cnn --batch-norm": (["--batch-norm"], "test_acc"),
}


def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip() + f", {os.cpu_count()} CPUs"
    return "unknown CPU"


def main():
    args = [a for a in sys.argv[1:]]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1].split(",")
        del args[i:i + 2]
    build = args[0] if args else "build"
    print(f"<!-- measured {datetime.date.today()} on {cpu()} by scripts/readme_results.py "
          f"{build}: release build, defaults, seeds 1/2/3 -->")
    for name, (extra, key) in EXAMPLES.items():
        if only and name.split()[0] not in only and name not in only:
            continue
        exe = os.path.join(build, "examples", name.split()[0])
        vals, secs = [], []
        for seed in (1, 2, 3):
            r = subprocess.run([exe, "--json", "--seed", str(seed)] + extra,
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{name} seed {seed}: exit {r.returncode}: {r.stderr[-500:]}")
            j = json.loads(r.stdout.strip().splitlines()[-1])
            vals.append(j[key])
            secs.append(j["seconds"])
        fmt = "{:.2g}" if key == "val_mse" else "{:.3f}"
        shown = " / ".join(fmt.format(v) for v in vals)
        print(f"| `{name}` | {key} {shown} for seeds 1 / 2 / 3 "
              f"({sum(secs) / 3:.1f} s of training each) |")


if __name__ == "__main__":
    main()
