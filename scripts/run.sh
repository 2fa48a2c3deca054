#!/usr/bin/env bash
# The README's two quick-start commands:
#   scripts/run.sh example [ARGS...]  install what is missing, build, train the default example
#   scripts/run.sh test               install what is missing, build, run the whole test suite
# The build directory is ./build (override with BUILD=dir).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
shift || true
build=${BUILD:-build}
scripts/deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release
meson compile -C "$build"
case "$what" in
    example) exec "$build/examples/spiral" "$@" ;;
    test) exec meson test -C "$build" --print-errorlogs "$@" ;;
    *) echo "usage: scripts/run.sh example|test" >&2; exit 2 ;;
esac
