#!/usr/bin/env python3
"""The layering rules of docs/architecture.md, checked on the source tree:
- no module includes another module's private header (src/<m>/internal.h);
- the tensor layer's private interface (src/tensor/kernels.h) is included only by
  src/tensor and src/autograd (the op files);
- every module may include src/util.h;
- no file in src/ over 700 lines unless its opening comment says why ("Over 700 lines:");
- a failed tape is tested with TG__FAILED(t) only (no open-coded t->status != TG_OK);
- no comma-operator returns (`return tg__error(...), -1;`): the error call is a statement
  of its own, or a helper returns the value (tg__error_status).
Prints each violation with file:line; exits 1 if there is one."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve()
src = root / 'src'
bad = []
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
for f in sorted(src.rglob('*.[ch]')):
    mod = f.relative_to(src).parts[0] if len(f.relative_to(src).parts) > 1 else None
    for n, line in enumerate(f.read_text().splitlines(), 1):
        m = inc.match(line)
        if not m:
            continue
        target = (f.parent / m.group(1)).resolve()
        try:
            rel = target.relative_to(src).parts
        except ValueError:
            continue
        if len(rel) < 2:
            continue  # src/util.h, src/tapegrad.h
        tmod, name = rel[0], rel[-1]
        where = f'{f.relative_to(root)}:{n}'
        if name == 'internal.h' and tmod != mod:
            bad.append(f'{where}: includes {tmod}/internal.h, private to src/{tmod}')
        if name == 'kernels.h' and tmod == 'tensor' and mod not in ('tensor', 'autograd'):
            bad.append(f'{where}: includes tensor/kernels.h (only src/tensor and src/autograd '
                       f'may; use src/util.h)')
def top_level_comma(expr):
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expr)
    depth = 0
    for ch in expr:
        if ch in '([{':
            depth += 1
        elif ch in ')]}':
            depth -= 1
        elif ch == ',' and depth == 0:
            return True
    return False


for f in sorted(src.rglob('*.c')):
    text = f.read_text()
    for m in re.finditer(r'\breturn\s+([^;]*);', text):
        if top_level_comma(m.group(1)):
            line = text.count('\n', 0, m.start()) + 1
            bad.append(f'{f.relative_to(root)}:{line}: comma-operator return')
MAX_LINES = 700
for f in sorted(src.rglob('*.[ch]')):
    text = f.read_text()
    lines = text.count('\n')
    head = '\n'.join(text.splitlines()[:12])
    if lines > MAX_LINES and 'Over 700 lines:' not in head:
        bad.append(f'{f.relative_to(root)}: {lines} lines, over {MAX_LINES} without a reason at its top')
    if f.parent.name == 'autograd':
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r'->status\s*[!=]=\s*TG_OK', line) and '#define TG__FAILED' not in line:
                bad.append(f'{f.relative_to(root)}:{n}: open-coded tape status test (use TG__FAILED)')
for b in bad:
    print(b)
print(f'{len(bad)} layering violation(s)' if bad else 'layering: ok')
sys.exit(1 if bad else 0)
