#!/usr/bin/env python3
"""Training 2N epochs straight and training N, saving, then resuming for N more give
the same parameter fingerprint (model, optimizer state, step and RNG counters restored).

usage: check_resume.py N PROGRAM [ARGS...]"""
import os
import subprocess
import sys
import tempfile


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode == 2 and "no data" in p.stderr:
        print(p.stderr.strip())
        sys.exit(77)
    if p.returncode != 0:
        print(f"{cmd} exited {p.returncode}: {p.stderr}")
        sys.exit(1)
    return p.stdout.split()[-1] if p.stdout.split() else ""


def main():
    n, cmd = int(sys.argv[1]), sys.argv[2:]
    with tempfile.TemporaryDirectory() as d:
        ck = os.path.join(d, "ck.safetensors")
        straight = run(cmd + ["--epochs", str(2 * n), "--print-hash"])
        run(cmd + ["--epochs", str(n), "--save", ck])
        resumed = run(cmd + ["--epochs", str(2 * n), "--resume", ck, "--print-hash"])
        leftovers = [f for f in os.listdir(d) if f != "ck.safetensors"]
    print(f"straight {straight}\nresumed  {resumed}")
    ok = [straight == resumed and len(straight) == 16, not leftovers]
    if leftovers:
        print(f"temporary files left: {leftovers}")
    print(f"{ok.count(True)} passed, {ok.count(False)} failed")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
