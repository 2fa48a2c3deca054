#!/usr/bin/env python3
"""Mutation check: applies each fault of scripts/mutants.txt, one at a time, to a scratch
copy of the tree, rebuilds it incrementally and runs the test suites. A mutant is
killed when a test fails (or the run times out), survived when every test passes,
invalid when it does not compile, stale when its snippet no longer occurs exactly once,
equivalent when the list says so (with a reason; such mutants are not run unless asked).
Score = killed / (killed + survived).

  nice -n 10 scripts/mutate.py                  all mutants (about an hour on 2 cores)
  scripts/mutate.py --only relu                 mutants whose id/file/description match
  scripts/mutate.py --list                      the list, each snippet checked, no build
  scripts/mutate.py --check                     exit 1 if any mutant is stale

The real tree is never written: the scratch copy (tracked and untracked, non-ignored
files, as they are in the worktree now) lives in build-mutate/tree, its release build
(no sanitizers, ccache if installed) in build-mutate/build, a log per mutant in
build-mutate/logs and the results in build-mutate/results.json. The mutated file is
restored in the copy after each mutant, also on Ctrl-C or an error, and every run
re-syncs the copy from the worktree first.

Snippets are matched literally, except that a run of whitespace in the snippet matches
any run of whitespace (or backslash-newline line continuations) in the source, so one
line in the list can name a fault that spans lines of a macro. Python 3 stdlib only."""

import argparse
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIST = os.path.join(ROOT, 'scripts', 'mutants.txt')
FIELDS = ('id', 'file', 'what', 'find', 'repl', 'equivalent')


# ------------------------------------------------------------------ the list

def parse_list(path):
    """Blocks of `key: value` lines separated by blank lines; '#' starts a comment line."""
    mutants, cur, lineno_of = [], {}, {}

    def flush():
        if not cur:
            return
        for k in ('id', 'file', 'what', 'find'):
            if k not in cur:
                sys.exit(f'{path}:{lineno_of.get("id", "?")}: mutant without "{k}:"')
        cur.setdefault('repl', '')
        mutants.append(dict(cur))
        cur.clear()

    with open(path, encoding='utf-8') as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip('\n')
            if line.startswith('#'):
                continue
            if not line.strip():
                flush()
                continue
            key, sep, val = line.partition(':')
            key = key.strip()
            if not sep or key not in FIELDS:
                sys.exit(f'{path}:{n}: expected one of {", ".join(FIELDS)} followed by ":"')
            if key in cur:
                sys.exit(f'{path}:{n}: "{key}:" given twice in one mutant')
            if key == 'id':
                lineno_of['id'] = n
            cur[key] = val.strip()
    flush()
    seen = set()
    for m in mutants:
        if m['id'] in seen:
            sys.exit(f'{path}: mutant id {m["id"]} is used twice')
        seen.add(m['id'])
        if m['find'] == m['repl']:
            sys.exit(f'{path}: mutant {m["id"]}: the replacement equals the snippet')
    return mutants


def snippet_regex(find):
    parts = [re.escape(tok) for tok in find.split()]
    return re.compile(r'(?:\s|\\\n)+'.join(parts))


def locate(m, tree):
    """(status, source text, match) of mutant m in the tree rooted at `tree`"""
    path = os.path.join(tree, m['file'])
    try:
        with open(path, encoding='utf-8') as f:
            src = f.read()
    except OSError:
        return 'stale', None, None
    hits = list(snippet_regex(m['find']).finditer(src))
    if len(hits) != 1:
        return ('stale' if not hits else 'ambiguous'), src, None
    return 'ok', src, hits[0]


# -------------------------------------------------------------- scratch tree

def git_files():
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout
    return sorted({p for p in out.decode().split('\0') if p})


def sync_tree(tree):
    """Makes `tree` hold exactly the worktree's files; rewrites only files that differ,
    with a fresh mtime, so the build stays incremental and never trusts an old object."""
    files = git_files()
    wanted = set()
    for rel in files:
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src) or os.path.islink(src):
            continue
        wanted.add(rel)
        dst = os.path.join(tree, rel)
        with open(src, 'rb') as f:
            data = f.read()
        try:
            with open(dst, 'rb') as f:
                same = f.read() == data
        except OSError:
            same = False
        if not same:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'wb') as f:
                f.write(data)
    for dirpath, _, names in os.walk(tree):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), tree)
            if rel not in wanted:
                os.remove(os.path.join(dirpath, name))
    # tests find shared data at <source root>/../shared; the copy sees the same
    shared, link = os.path.join(os.path.dirname(ROOT), 'shared'), os.path.join(os.path.dirname(tree), 'shared')
    if os.path.isdir(shared) and not os.path.lexists(link):
        os.symlink(shared, link)


# ------------------------------------------------------------------- running

class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def run(cmd, log, timeout, cwd=None):
    """(returncode or None on timeout, seconds); output appended to log. The command
    runs in its own process group, which is killed whole on timeout or interruption."""
    t0 = time.monotonic()
    with open(log, 'a') as lf:
        lf.write('$ ' + ' '.join(cmd) + '\n')
        lf.flush()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=lf, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        except BaseException:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
        if rc is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            lf.write(f'\n*** timed out after {timeout:.0f} s\n')
    return rc, time.monotonic() - t0


FAIL_RE = re.compile(r'^\s*\d+/\d+ \S+:(\S+) / (\S+)\s+(FAIL|TIMEOUT|UNEXPECTEDPASS|ERROR)', re.M)


def failed_tests(log):
    try:
        with open(log, encoding='utf-8', errors='replace') as f:
            text = f.read()
    except OSError:
        return []
    return sorted({f'{m.group(2)} ({m.group(3).lower()})' for m in FAIL_RE.finditer(text)})


def build_and_test(build, log, args, timeout):
    rc, _ = run(['meson', 'compile', '-C', build], log, args.build_timeout)
    if rc != 0:
        return 'build-error', []
    cmd = ['meson', 'test', '-C', build, '--no-rebuild', '--print-errorlogs',
           '--num-processes', str(args.processes)]
    if args.maxfail:
        cmd += ['--maxfail', '1']
    for s in args.suite:
        cmd += ['--suite', s]
    rc, secs = run(cmd, log, timeout)
    args.last_test_seconds = secs
    if rc is None:
        return 'killed', ['(timeout of the whole run)'] + failed_tests(log)
    return ('survived', []) if rc == 0 else ('killed', failed_tests(log))


# ---------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--list', action='store_true', help='list the mutants and check each snippet')
    ap.add_argument('--check', action='store_true', help='exit 1 if any mutant is stale')
    ap.add_argument('--only', metavar='PATTERN',
                    help='regex over "id file what": run only the mutants it matches')
    ap.add_argument('--mutants', default=DEFAULT_LIST, help='the list (default scripts/mutants.txt)')
    ap.add_argument('--work', default=os.path.join(ROOT, 'build-mutate'),
                    help='scratch directory (default build-mutate)')
    ap.add_argument('--suite', action='append',
                    help='meson test suite to run (repeatable; default unit and gradcheck)')
    ap.add_argument('--timeout', type=float, default=0,
                    help='seconds for one mutant\'s tests (default max(180, 5 x baseline))')
    ap.add_argument('--build-timeout', type=float, default=900)
    ap.add_argument('--processes', type=int, default=2, help='meson test --num-processes')
    ap.add_argument('--no-maxfail', dest='maxfail', action='store_false',
                    help='run every test of a mutant, not only up to the first failure')
    ap.add_argument('--run-equivalent', action='store_true',
                    help='also run the mutants marked equivalent (they should survive)')
    args = ap.parse_args()
    args.suite = args.suite or ['unit', 'gradcheck']

    mutants = parse_list(args.mutants)
    if args.only:
        pat = re.compile(args.only)
        mutants = [m for m in mutants if pat.search(f'{m["id"]} {m["file"]} {m["what"]}')]

    if args.list or args.check:
        bad = 0
        for m in mutants:
            st, _, _ = locate(m, ROOT)
            bad += st != 'ok'
            tag = st if st != 'ok' else ('equivalent' if 'equivalent' in m else 'ok')
            if args.list or st != 'ok':
                print(f'{m["id"]:28} {tag:10} {m["file"]:28} {m["what"]}')
        print(f'{len(mutants)} mutants, {bad} stale or ambiguous')
        return 1 if (args.check and bad) else 0

    signal.signal(signal.SIGTERM, on_signal)
    work = os.path.abspath(args.work)
    tree, build, logs = (os.path.join(work, d) for d in ('tree', 'build', 'logs'))
    os.makedirs(tree, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    lock = open(os.path.join(work, 'lock'), 'w')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(f'another mutate.py run is using {work}')
    sync_tree(tree)
    if not os.path.exists(os.path.join(build, 'build.ninja')):
        rc, _ = run(['meson', 'setup', build, tree, '--buildtype=release', '-Db_sanitize=none'],
                    os.path.join(logs, 'setup.log'), args.build_timeout)
        if rc != 0:
            sys.exit(f'meson setup failed: see {logs}/setup.log')

    t_start = time.monotonic()
    base_log = os.path.join(logs, 'baseline.log')
    if os.path.exists(base_log):
        os.remove(base_log)
    saved_maxfail, args.maxfail = args.maxfail, False
    status, failed = build_and_test(build, base_log, args, 3600)
    args.maxfail = saved_maxfail
    base_time = getattr(args, "last_test_seconds", 0)
    if status != 'survived':
        sys.exit(f'baseline ({status}): the unmutated tree does not pass {failed}; see {base_log}')
    timeout = args.timeout or max(180.0, 5 * base_time)
    print(f'baseline passes (tests {base_time:.0f} s); {len(mutants)} mutants, '
          f'{timeout:.0f} s per mutant at most', flush=True)

    results = []
    try:
        for i, m in enumerate(mutants, 1):
            st, src, hit = locate(m, tree)
            r = {'id': m['id'], 'file': m['file'], 'what': m['what'], 'failed': []}
            if st != 'ok':
                r['status'] = st
            elif 'equivalent' in m and not args.run_equivalent:
                r['status'] = 'equivalent'
                r['reason'] = m['equivalent']
            else:
                path = os.path.join(tree, m['file'])
                log = os.path.join(logs, m['id'] + '.log')
                if os.path.exists(log):
                    os.remove(log)
                t1 = time.monotonic()
                try:
                    with open(path, 'w', encoding='utf-8') as f:
                        f.write(src[:hit.start()] + m['repl'] + src[hit.end():])
                    r['status'], r['failed'] = build_and_test(build, log, args, timeout)
                finally:
                    with open(path, 'w', encoding='utf-8') as f:
                        f.write(src)
                r['seconds'] = round(time.monotonic() - t1, 1)
                if 'equivalent' in m:
                    r['reason'] = m['equivalent']
            results.append(r)
            extra = ', '.join(r['failed'][:3])
            print(f'[{i:3}/{len(mutants)}] {r["status"]:11} {m["id"]:28} '
                  f'{r.get("seconds", 0):5.0f} s  {extra}', flush=True)
    except (KeyboardInterrupt, Interrupted) as e:
        print(f'\ninterrupted ({e or "Ctrl-C"}); the scratch copy is restored; partial results:')
    total = time.monotonic() - t_start

    count = {}
    for r in results:
        count[r['status']] = count.get(r['status'], 0) + 1
    killed, survived = count.get('killed', 0), count.get('survived', 0)
    valid = killed + survived
    print(f'\n{len(results)} mutants: ' +
          ', '.join(f'{count[k]} {k}' for k in
                    ('killed', 'survived', 'equivalent', 'build-error', 'stale', 'ambiguous')
                    if k in count))
    if valid:
        print(f'score: {killed}/{valid} = {100.0 * killed / valid:.1f}% of the valid, '
              f'non-equivalent mutants killed ({total / 60:.0f} min)')
    for k in ('survived', 'build-error', 'stale', 'ambiguous'):
        rows = [r for r in results if r['status'] == k]
        if rows:
            print(f'\n{k}:')
            for r in rows:
                print(f'  {r["id"]:28} {r["file"]:28} {r["what"]}')
    with open(os.path.join(work, 'results.json'), 'w') as f:
        json.dump({'suites': args.suite, 'seconds': round(total), 'counts': count,
                   'results': results}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
