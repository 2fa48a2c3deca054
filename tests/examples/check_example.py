#!/usr/bin/env python3
"""Runs an example with --json and checks its final JSON line.

usage: check_example.py PROGRAM [ARGS...] -- KEY>VALUE|KEY<VALUE|KEY=VALUE ...
Exit 0 when every condition holds, 1 otherwise, 77 (skipped) when the example exits 2
for missing data."""
import json
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    split = argv.index("--")
    cmd, conds = argv[:split], argv[split + 1:]
    p = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=600)
    if p.returncode == 2 and "no data" in p.stderr:
        print(p.stderr.strip())
        return 77
    if p.returncode != 0:
        print(f"{cmd[0]} exited {p.returncode}\n{p.stderr}")
        return 1
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    try:
        out = json.loads(lines[-1])
    except (IndexError, ValueError):
        print(f"no JSON on the last line of stdout: {p.stdout!r}")
        return 1
    print(json.dumps(out))
    for key in ("epochs", "seconds"):
        if key not in out:
            print(f"missing key {key}")
            return 1
    failed = 0
    for c in conds:
        for op in (">", "<", "="):
            if op in c:
                key, value = c.split(op, 1)
                break
        got = out.get(key)
        ok = got is not None and {">": got > float(value), "<": got < float(value),
                                  "=": got == float(value)}[op]
        print(f"{'ok  ' if ok else 'FAIL'} {key} = {got} (want {op} {value})")
        failed += not ok
    print(f"{len(conds) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
