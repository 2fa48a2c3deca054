#!/usr/bin/env bash
# Learning curves from a per-epoch CSV log (tg_fit's log_csv, the examples' --log):
# loss and accuracy against epoch, training and validation, as SVG and PNG, drawn by
# gnuplot (Debian package gnuplot-nox; scripts/deps.sh installs it).
#
# usage: scripts/plot_log.sh LOG.csv OUT_PREFIX [TITLE]
#   writes OUT_PREFIX.svg and OUT_PREFIX.png
# The log's columns: epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds (empty cell:
# not measured). Exits 1 on a log without data rows, 2 on bad usage.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 LOG.csv OUT_PREFIX [TITLE]" >&2
    exit 2
fi
log=$1 out=$2 title=${3:-$(basename "$1")}
command -v gnuplot >/dev/null || { echo "$0: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
[ -r "$log" ] || { echo "$0: cannot read $log" >&2; exit 2; }
head -n 1 "$log" | grep -q '^epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds$' ||
    { echo "$0: $log: not a tapegrad epoch log (header)" >&2; exit 1; }
[ "$(wc -l <"$log")" -ge 2 ] || { echo "$0: $log: no epochs logged" >&2; exit 1; }
# a column with no value at all (accuracy of a regression, no validation data) is
# left out of the plot rather than drawn empty
has() { awk -F, -v c="$1" 'NR > 1 && $c != "" { f = 1 } END { exit !f }' "$log"; }
loss="" acc=""
has 2 && loss+="'$log' using 1:2 with linespoints title 'train', "
has 4 && loss+="'$log' using 1:4 with linespoints title 'validation', "
has 3 && acc+="'$log' using 1:3 with linespoints title 'train', "
has 5 && acc+="'$log' using 1:5 with linespoints title 'validation', "
plots=0
[ -n "$loss" ] && plots=$((plots + 1))
[ -n "$acc" ] && plots=$((plots + 1))
for fmt in svg png; do
    if [ "$fmt" = svg ]; then term="svg size 900,420 dynamic"; else term="pngcairo size 900,420"; fi
    {
        echo "set terminal $term"
        echo "set output '$out.$fmt'"
        echo "set datafile separator ','"
        echo "set datafile missing ''"
        echo "set key autotitle columnhead"
        echo "set multiplot layout 1,$plots title '${title//\'/}'"
        echo "set grid; set xlabel 'epoch'"
        [ -n "$loss" ] && echo "set ylabel 'loss'; set title 'loss'; plot ${loss%, }"
        [ -n "$acc" ] && echo "set ylabel 'accuracy'; set title 'accuracy'; plot ${acc%, }"
        echo "unset multiplot"
    } | gnuplot
done
echo "$out.svg $out.png"
