#!/usr/bin/env python3
"""A real run's log plotted: examples/mnist --log, then scripts/plot_log.sh.

usage: check_plot.py MNIST PLOT_SCRIPT
Exits 77 (skipped) when gnuplot is not installed; otherwise the SVG must hold both
panels with train and validation curves and the PNG must be a PNG of the asked size.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def main():
    mnist, plot = sys.argv[1], sys.argv[2]
    if shutil.which("gnuplot") is None:
        print("gnuplot not installed (apt-get install gnuplot-nox): skipped")
        return 77
    work = tempfile.mkdtemp(prefix="tg-plot-")
    try:
        log = os.path.join(work, "log.csv")
        r = subprocess.run([mnist, "--epochs", "3", "--limit", "2000", "--log", log],
                           capture_output=True, text=True)
        if r.returncode == 2 and "no data" in r.stderr:
            print("no Fashion-MNIST data: skipped")
            return 77
        assert r.returncode == 0, r.stderr
        rows = open(log).read().splitlines()
        assert rows[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds", rows[0]
        assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"], rows
        assert all(len(row.split(",")) == 7 and "" not in row.split(",")[:6] for row in rows[1:])
        out = os.path.join(work, "curves")
        r = subprocess.run(["bash", plot, log, out, "mnist test run"], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        svg = open(out + ".svg").read()
        for word in ("<svg", "loss", "accuracy", "train", "validation", "mnist test run"):
            assert word in svg, f"SVG lacks {word!r}"
        png = open(out + ".png", "rb").read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        w, h = struct.unpack(">II", png[16:24])
        assert (w, h) == (900, 420), (w, h)
        # a log with no epochs is an error, not an empty picture
        open(log, "w").write(rows[0] + "\n")
        r = subprocess.run(["bash", plot, log, out], capture_output=True, text=True)
        assert r.returncode == 1 and "no epochs" in r.stderr, (r.returncode, r.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("4 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
