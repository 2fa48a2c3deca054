#!/usr/bin/env bash
# Installs the Debian packages tapegrad needs to build, test and run its examples, and
# what CI adds: clang with its sanitizer and libFuzzer runtimes and LLVM's OpenMP
# (ThreadSanitizer build, fuzz targets).
# Only missing packages are installed; uses sudo when not root.
set -euo pipefail
pkgs=(gcc pkg-config meson ninja-build libxxhash-dev libopenblas-dev zlib1g-dev
      libjansson-dev dataset-fashion-mnist
      libsndfile1-dev libsamplerate0-dev libfftw3-dev # the audio module (src/audio)
      espeak-ng # scripts/make_digits.py: the spoken-digit corpus of examples/audio
      # examples/music_render (the instrument corpus of examples/music) and the smallest
      # of its three sound fonts (5.4 MB; the full run also needs fluid-soundfont-gm and
      # musescore-general-soundfont-small, see README)
      libfluidsynth-dev timgm6mb-soundfont
      xxhash # xxhsum, for tests/io/golden/make_golden.py
      gnuplot-nox # scripts/plot_log.sh (learning curves)
      clang libclang-rt-dev libomp-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
