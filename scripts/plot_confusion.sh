#!/usr/bin/env bash
# A confusion matrix as a heatmap: the CSV of examples/music --confusion FILE (a header
# "true\predicted,NAME,...", then one row per true class: NAME,count,...) drawn by
# gnuplot (gnuplot-nox) as SVG and PNG. Each cell is coloured by the fraction of its row
# (the recall of that true class going to that prediction) and labelled with its count.
#
# usage: scripts/plot_confusion.sh CONFUSION.csv OUT_PREFIX [TITLE]
#   writes OUT_PREFIX.svg and OUT_PREFIX.png; exits 1 on a malformed matrix, 2 on bad usage
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 CONFUSION.csv OUT_PREFIX [TITLE]" >&2
    exit 2
fi
csv=$1 out=$2 title=${3:-$(basename "$1")}
command -v gnuplot >/dev/null || { echo "$0: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
[ -r "$csv" ] || { echo "$0: cannot read $csv" >&2; exit 2; }
# square: as many data rows as class columns, every count a non-negative integer
awk -F, 'NR == 1 { n = NF - 1; if (n < 1) bad = 1; next }
         { rows++; if (NF != n + 1) bad = 1; for (i = 2; i <= NF; i++) if ($i !~ /^[0-9]+$/) bad = 1 }
         END { exit bad || rows != n || n < 1 }' "$csv" ||
    { echo "$0: $csv: not a square confusion matrix (header of names, rows NAME,count,...)" >&2; exit 1; }
n=$(head -n 1 "$csv" | awk -F, '{print NF - 1}')
# long form for gnuplot: x (predicted), y (true, first row on top), row fraction, count
data=$(mktemp)
trap 'rm -f "$data"' EXIT
awk -F, -v n="$n" 'NR > 1 { s = 0; for (i = 2; i <= NF; i++) s += $i
    for (i = 2; i <= NF; i++) printf "%d %d %g %d\n", i - 2, n - (NR - 1), s ? $i / s : 0, $i
    print "" }' "$csv" >"$data"
tics() { # gnuplot tic list: "name" position, ...
    head -n 1 "$csv" | awk -F, -v n="$n" -v axis="$1" '{ s = ""
        for (i = 2; i <= NF; i++) { p = axis == "y" ? n - (i - 1) : i - 2
            s = s (s ? ", " : "") "\"" $i "\" " p }
        print s }'
}
for fmt in svg png; do
    if [ "$fmt" = svg ]; then term="svg size 900,800 dynamic"; else term="pngcairo size 900,800"; fi
    {
        echo "set terminal $term"
        echo "set output '$out.$fmt'"
        echo "set termoption noenhanced"
        echo "set title '${title//\'/}'"
        echo "set xlabel 'predicted'; set ylabel 'true'"
        echo "set xtics ($(tics x)) rotate by 45 right; set ytics ($(tics y))"
        echo "set xrange [-0.5:$n - 0.5]; set yrange [-0.5:$n - 0.5]"
        echo "set cbrange [0:1]; set cblabel 'fraction of the true class'"
        echo "set palette defined (0 'white', 1 '#08306b')"
        echo "set size ratio -1; unset key"
        echo "plot '$data' using 1:2:3 with image, \\"
        echo "     '$data' using 1:2:(\$4 > 0 ? sprintf('%d', \$4) : '') with labels textcolor rgb '#cc5500' font ',10'"
    } | gnuplot
done
echo "$out.svg $out.png"
