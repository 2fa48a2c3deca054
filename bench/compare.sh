#!/usr/bin/env bash
# Runs every workload (or the ones named) in tapegrad (1 and 2 threads) and in PyTorch
# (T:B = 1:1, 1:2, 2:1) in one go and prints a markdown table of the best of each, with
# the ratio.
#   bench/compare.sh [BUILD_DIR] [SECONDS] [WORKLOAD...]
# (BUILD_DIR: a release build, default build-release; e.g. bench/compare.sh build-release 3 lenet)
# Needs Debian's python3-torch and ../shared/bench/torch_ref.py beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
secs=${2:-4}
ref=../shared/bench/torch_ref.py
out=$(mktemp)
# the reference's list read once (grep -q on a pipe can close it before python flushes,
# and with pipefail the workload's reference run was then skipped)
refs=$(/usr/bin/python3 "$ref" --list)
names=("${@:3}")
if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <("$build/bench/tg-bench" --list)
fi
for w in "${names[@]}"; do
    for t in 1 2; do
        "$build/bench/tg-bench" "$w" --threads "$t" --seconds "$secs" >>"$out"
    done
    if grep -qx -- "$w" <<<"$refs"; then
        for tb in 1:1 1:2 2:1; do
            /usr/bin/python3 "$ref" "$w" --threads "${tb%:*}" --blas-threads "${tb#*:}" \
                --seconds "$secs" >>"$out"
        done
    fi
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = []
for r in rows:
    if r["name"] not in names:
        names.append(r["name"])
print("| workload | tapegrad 1T ms | tapegrad 2T ms | torch 1:1 | torch 1:2 | torch 2:1 | best tapegrad vs best torch | tapegrad peak RSS MB |")
print("|---|---|---|---|---|---|---|---|")
for n in names:
    tg = {r["threads"]: r for r in rows if r["name"] == n and r["impl"] == "tapegrad"}
    pt = {f'{r["threads"]}:{r["blas_threads"]}': r for r in rows
          if r["name"] == n and r["impl"].startswith("pytorch")}
    f = lambda r: f'{r["ms_per_step_median"]:.3f}' if r else "–"
    best_tg = min(r["ms_per_step_median"] for r in tg.values())
    cells = [f(tg.get(1)), f(tg.get(2)), f(pt.get("1:1")), f(pt.get("1:2")), f(pt.get("2:1"))]
    ratio = "–"
    if pt:
        best_pt = min(r["ms_per_step_median"] for r in pt.values())
        ratio = f"{best_pt / best_tg:.2f}x faster" if best_pt >= best_tg else f"{best_tg / best_pt:.2f}x slower"
    rss = max(r["peak_rss_mb"] for r in tg.values())
    print(f"| {n} | " + " | ".join(cells) + f" | {ratio} | {rss:.0f} |")
PY
rm -f "$out"
