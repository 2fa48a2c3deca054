#!/usr/bin/env python3
"""Same seed -> same parameter fingerprint, run after run and with 1 and 2 threads;
another seed -> another fingerprint.

usage: check_determinism.py PROGRAM [ARGS...]"""
import subprocess
import sys


def fingerprint(cmd):
    p = subprocess.run(cmd + ["--print-hash"], capture_output=True, text=True, timeout=600)
    if p.returncode == 2 and "no data" in p.stderr:
        print(p.stderr.strip())
        sys.exit(77)  # skipped: the data set is not installed
    if p.returncode != 0:
        print(f"{cmd} exited {p.returncode}: {p.stderr}")
        sys.exit(1)
    return p.stdout.split()[-1]


def main():
    cmd = sys.argv[1:]
    runs = {
        "threads 1": fingerprint(cmd + ["--threads", "1", "--seed", "5"]),
        "threads 1 again": fingerprint(cmd + ["--threads", "1", "--seed", "5"]),
        "threads 2": fingerprint(cmd + ["--threads", "2", "--seed", "5"]),
        "seed 6": fingerprint(cmd + ["--threads", "1", "--seed", "6"]),
    }
    for k, v in runs.items():
        print(f"{k}: {v}")
    checks = [runs["threads 1"] == runs["threads 1 again"], runs["threads 1"] == runs["threads 2"],
              runs["threads 1"] != runs["seed 6"]]
    failed = checks.count(False)
    print(f"{3 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
