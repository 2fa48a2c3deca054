#!/usr/bin/env python3
"""Generates docs/ops.md, the op reference, from the registry src/autograd/ops.def.

  scripts/gen_ops_doc.py [ROOT]           rewrite ROOT/docs/ops.md
  scripts/gen_ops_doc.py --check [ROOT]   exit 1 if docs/ops.md is not what this script
                                          writes, or if a registered op lacks a piece

Per op it finds, and --check requires: the public function tg_<name> declared in a
public header and defined in src/, the backward defined in src/, and at least one
gradcheck case naming the op in tests/autograd/gradcheck_cases*.c (the gradcheck
suite checks the same at run time, by running them)."""
import pathlib
import re
import sys

args = [a for a in sys.argv[1:] if a != '--check']
check = '--check' in sys.argv[1:]
root = pathlib.Path(args[0] if args else pathlib.Path(__file__).resolve().parent.parent)
src = root / 'src'

ENTRY = re.compile(r'X\(\s*(\w+)\s*,\s*"([^"]+)"\s*,\s*(-?\d+)\s*,\s*(\w+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)',
                   re.S)
ops = [m.groups() for m in ENTRY.finditer((src / 'autograd' / 'ops.def').read_text())]

headers = {p: p.read_text() for p in sorted(src.rglob('*.h')) if 'internal' not in p.name
           and p.name != 'kernels.h' and p.name != 'util.h'}
sources = {p: p.read_text() for p in sorted(src.rglob('*.c'))}
cases_text = ''.join(p.read_text() for p in sorted((root / 'tests' / 'autograd').glob('gradcheck_cases*.c')))


def rel(p):
    return p.relative_to(root).as_posix()


def where(texts, pattern):
    rx = re.compile(pattern, re.M)
    return [rel(p) for p, t in texts.items() if rx.search(t)]


problems = []
rows = []
for enum, name, arity, bwd, summary in ops:
    fn = 'tg_' + name
    decl = where(headers, r'^TG_API\b[^;]*\b' + fn + r'\(')
    fwd = where(sources, r'^tg_tensor \*' + fn + r'\(')
    bw = where(sources, r'^void ' + bwd + r'\(')
    ncases = len(re.findall(r'\{"' + re.escape(name) + r'",', cases_text))
    if not decl:
        problems.append(f'{name}: {fn} is not declared (TG_API) in a public header')
    if not fwd:
        problems.append(f'{name}: {fn} is not defined in src/')
    if not bw:
        problems.append(f'{name}: its backward {bwd} is not defined in src/')
    if ncases == 0:
        problems.append(f'{name}: no gradcheck case in tests/autograd/gradcheck_cases*.c')
    rows.append(f'| `{name}` | `{fn}` | {"n" if arity == "-1" else arity} | '
                f'{fwd[0] if fwd else "?"} | {ncases} | {summary.replace(chr(92), "").replace("|", chr(92) + "|")} |')

doc = '\n'.join([
    '# Registered ops',
    '',
    'Generated from `src/autograd/ops.def` by `scripts/gen_ops_doc.py`; do not edit by hand',
    '(the test `ops-doc` fails when this page is stale). Every op below has a backward',
    'written with ops, at least one case in the gradcheck suite (column "cases"), and a',
    'public function declared in a header. How to add one: [adding-an-op.md](adding-an-op.md).',
    '',
    f'{len(ops)} ops; arity n = any number of inputs.',
    '',
    '| op | function | arity | defined in | cases | what it computes |',
    '|---|---|---|---|---|---|',
    *rows,
    '',
])

out = root / 'docs' / 'ops.md'
if check:
    if not out.exists() or out.read_text() != doc:
        problems.append('docs/ops.md is stale: run scripts/gen_ops_doc.py')
    for p in problems:
        print(p)
    print(f'{len(ops)} ops: ' + ('ok' if not problems else f'{len(problems)} problem(s)'))
    sys.exit(1 if problems else 0)
out.write_text(doc)
for p in problems:
    print('warning:', p)
print(f'wrote {rel(out)} ({len(ops)} ops)')
