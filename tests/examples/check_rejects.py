#!/usr/bin/env python3
"""Runs a program with an argument it must refuse and checks that it exits with the
given status (not a crash, not success) and says why on stderr.

usage: check_rejects.py STATUS TEXT PROGRAM [ARGS...]"""
import subprocess
import sys


def main():
    want, text, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr.strip()}")
    if p.returncode != want:
        print(f"want exit {want}")
        return 1
    if text not in p.stderr:
        print(f"want {text!r} in stderr")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
