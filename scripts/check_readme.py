#!/usr/bin/env python3
"""Runs the README's install, compile and training commands exactly as written.

Every block preceded by `<!-- readme-test: NAME -->` is used: `file F` blocks are
written to F, the others are shell commands. A copy of the source tree (the files git
tracks) is installed into a private prefix with HOME pointing at a fresh directory,
then the README's program is compiled outside the tree and run; its last validation
accuracy must reach 0.9. With --system (CI, as root) the system-wide block runs too.

usage: scripts/check_readme.py [--system] [--keep]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks(readme):
    """{name: text} of the marked blocks"""
    out = {}
    pat = re.compile(r"<!-- readme-test: ([^>]+?) -->\s*\n```[a-z]*\n(.*?)```", re.S)
    for m in pat.finditer(readme):
        out[m.group(1).strip()] = m.group(2)
    return out


def copy_tree(dst):
    r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True)
    if r.returncode == 0:
        files = r.stdout.decode().split("\0")
    else:  # not a git checkout (an unpacked tarball): every file outside build dirs
        files = []
        for d, subdirs, names in os.walk(ROOT):
            subdirs[:] = [s for s in subdirs if not s.startswith(("build", ".git"))]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    for f in filter(None, files):
        src = os.path.join(ROOT, f)
        if not os.path.isfile(src):
            continue  # deleted in the work tree
        os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, f))


def shell(script, cwd, env):
    """runs script in one bash (so exports carry over); returns its stdout"""
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"check_readme: commands failed (exit {r.returncode}):\n{script}")
    return r.stdout


def check_accuracy(out, what):
    accs = [float(a) for a in re.findall(r"validation accuracy ([0-9.]+)", out)]
    print(f"{what}: {out.strip().splitlines()[-1] if out.strip() else '(no output)'}")
    if len(accs) != 3 or accs[-1] < 0.9:
        raise SystemExit(f"check_readme: {what}: want 3 accuracy lines ending >= 0.9, got {accs}")


def main():
    system = "--system" in sys.argv
    keep = "--keep" in sys.argv
    with open(os.path.join(ROOT, "README.md")) as f:
        b = blocks(f.read())
    need = ["private-install", "private-compile", "system-install", "file train.c", "run"]
    missing = [n for n in need if n not in b]
    if missing:
        raise SystemExit(f"check_readme: README blocks missing: {missing}")
    work = tempfile.mkdtemp(prefix="tg-readme-")
    passed = 0
    try:
        src, home, prog = (os.path.join(work, d) for d in ("tapegrad", "home", "prog"))
        for d in (home, prog):
            os.makedirs(d)
        copy_tree(src)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
        env["HOME"] = home
        with open(os.path.join(prog, "train.c"), "w") as f:
            f.write(b["file train.c"])
        script = (b["private-install"] + f"cd {prog}\n" + b["private-compile"] + b["run"])
        check_accuracy(shell(f"cd {src}\n" + script, src, env), "private prefix")
        passed += 1
        if system:
            sysprog = os.path.join(work, "sysprog")
            os.makedirs(sysprog)
            shutil.copy(os.path.join(prog, "train.c"), sysprog)
            shim = ""
            if os.geteuid() == 0 and shutil.which("sudo") is None:
                shim = 'sudo() { "$@"; }\n'  # root without sudo (a fresh CI machine)
            lines = b["system-install"].splitlines(keepends=True)
            build = "".join(l for l in lines if not l.startswith("cc "))
            compile_ = "".join(l for l in lines if l.startswith("cc "))
            script = shim + f"cd {src}\n" + build + f"cd {sysprog}\n" + compile_ + b["run"]
            check_accuracy(shell(script, src, env), "system prefix")
            passed += 1
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
