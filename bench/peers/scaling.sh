#!/usr/bin/env bash
# Scaling (issue 6, goal 6): bench/peers.sh at several sizes, then bench/peers/scaling.svg from the results.
#   usage: bench/peers/scaling.sh [RUNS=3] [SIZES="1000:10:50 3000:30:150 10000:100:500"]   (needs root)
# Each size NODES:SAMPLE:PAIRS is one run of `bench/peers.sh NODES SAMPLE RUNS PAIRS`, its results in
# .cache/bench/scaling/NODES-SAMPLE-PAIRS.txt (or $SCALING_DIR/…) and its table in …/NODES-SAMPLE-PAIRS.md.
# The plot is bench/peers/scaling.svg (or $SCALING_SVG), its subtitle naming the machine and its load average.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
SIZES=${2:-"1000:10:50 3000:30:150 10000:100:500"}
D=${SCALING_DIR:-$PWD/.cache/bench/scaling}
SVG=${SCALING_SVG:-bench/peers/scaling.svg}
mkdir -p "$D"
files=()
for s in $SIZES; do
    IFS=: read -r n k p <<<"$s"
    # SCALING_REUSE=1: keep a size's results from an earlier run (e.g. the main `bench/peers.sh` run
    # made with PEERS_RESULTS=.cache/bench/scaling/10000-100-500.txt)
    if [ -n "${SCALING_REUSE:-}" ] && [ -f "$D/$n-$k-$p.txt" ]; then files+=("$D/$n-$k-$p.txt"); continue; fi
    PEERS_RESULTS=$D/$n-$k-$p.txt bash bench/peers.sh "$n" "$k" "$RUNS" "$p" | tee "$D/$n-$k-$p.md"
    files+=("$D/$n-$k-$p.txt")
done
PLOT_NOTE="$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1 /proc/loadavg) at the end" \
    .cache/peers/venv/bin/python bench/peers/plot.py "$SVG" "${files[@]}"
echo "$SVG written from ${files[*]}"
