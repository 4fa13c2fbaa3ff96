#!/bin/bash
# bench.sh - install the dependencies (gnuplot included), make a release
# build in _build/bench and run the paper's experiments on this machine
# with bench/run: CSVs, PNGs and a report in bench-results/.  About a
# minute and a half on a 2-vCPU machine (build ~20 s, runs ~70 s; 43 s in
# all with --reps 3).  Never part of the tests.
#   scripts/bench.sh [bench/run options, e.g. --reps 5 --update-doc]
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

if [ "$(id -u)" -eq 0 ]; then
	scripts/deps.sh --bench
else
	echo "bench.sh: not root: skipping apt-get; assuming the dependencies are there"
fi
build=$top/_build/bench
mkdir -p "$build"
[ -x configure ] || autoreconf -fi
(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)")
exec bench/run --builddir "$build" --out "$top/bench-results" "$@"
