#!/usr/bin/env bash
# Every number of BENCHMARKS.md from one command:  sudo bash bench/all.sh
# Runs, in order, each script's raw output into RESULTS (default .cache/bench/results/<UTC date-time>/,
# ignored by git; printed at the start and the end):
#   fleet.sh 10000 ubuntu 5 1, fleet.sh 1000 ubuntu 3, fleet.sh 1000 rhel9 3   Fleet render (issue 2)
#     (at 10,000 nodes the two disk rows get 1 run after the warm-up: with 5, writing and removing
#     170,000 files 12 times onto this disk made fleet.sh alone take 17 min)
#   apply.sh 500 5, apply.sh 20 10                                             Applier (issue 3)
#   profile_apply.sh 500 3, 20 10, 500 20 noop (perf, ≈ 1.5 min)                Applier, issue 17
#   peers.sh 10000 100 5 500                                                   Peers (issue 6)
#   peers/scaling.sh 3 (the 10000:100:500 point taken from the peers.sh run    Peers, scaling; writes
#     above; 1000:10:50 and 3000:30:150 run here)                               bench/peers/scaling.svg
#   agent.sh (its defaults), if it exists                                      Agent footprint (issue 4)
#   cluster.sh 20 300 (20 agents, 300 s idle; ≈ 5.5 min)                       Fleet load (issue 14)
# and the machine: nproc, kernel, CPU model, memory, load average at the start and the end of every step.
# A step that fails is reported and the others still run (exit status 1 at the end).
# Duration on the project's 2-core machine: ≈ 29 min (≈ 21 min before cluster.sh, 5.5 min, and the 1.5 min of profile_apply.sh). The run of
# 2026-11-23 23:34 took 34.5 min, with the 10,000-node disk rows still at 5 runs (fleet.sh 10000 alone
# 17 min; 3.7 min with 1); the other steps: build 2 min, fleet.sh 1000 ×2 2.3 min, apply.sh ×2 2 min, peers.sh 6.3 min, scaling 3.6 min,
# agent.sh 1.2 min. The peers (cloud-init, nmstatectl gc, netplan generate) are timed on 100 nodes and
# extrapolated to 10,000: at 10,000 nodes one run of each would take ≈ 20 min, ≈ 2 h with the warm-up
# and 5 runs (see BENCHMARKS.md,
# "Peers (issue 6)").
#   usage: sudo bash bench/all.sh [RESULTS]
#   ALL_QUICK=1: every script at a tenth of its size and 3 runs, the plot into RESULTS (≈ 10 min; to check
#   the scripts, not for numbers).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/all.sh: needs root (network namespaces)" >&2; exit 1; }
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
RESULTS=${1:-$PWD/.cache/bench/results/$STAMP}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

machine() {
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "nproc:    $(nproc)"
    echo "kernel:   $(uname -r)"
    echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "memory:   $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "userland: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "commit:   $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
}

failed=()
# step NAME COMMAND...: run it, output to RESULTS/NAME.txt (and the terminal), timed, load before and after.
step() {
    local name=$1
    shift
    local t0 t1
    echo
    echo "== $name: $* (load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S) UTC)"
    t0=$(date +%s)
    "$@" 2>&1 | tee "$RESULTS/$name.txt"
    local rc=${PIPESTATUS[0]}
    t1=$(date +%s)
    echo "== $name: exit $rc after $((t1 - t0)) s (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$RESULTS/$name.txt"
    echo "$name $rc $((t1 - t0)) s" >>"$RESULTS/steps.txt"
    [ "$rc" = 0 ] || failed+=("$name")
}

{ echo "bench/all.sh, results in $RESULTS"; machine; } | tee "$RESULTS/machine-start.txt"
: >"$RESULTS/steps.txt"
T0=$(date +%s)

# Build once, niced, before anything is timed (each script's own `cargo build` is then a no-op).
step build sh -c 'nice cargo build --release -q -p plumber-render && nice cargo build --release -q -p plumber'

# sizes: fleet nodes, small fleet nodes, apply pairs, typical node's pairs, peers NODES SAMPLE RUNS PAIRS, scaling sizes
if [ -n "${ALL_QUICK:-}" ]; then
    F=1000 FS=100 FR=3 FD=3 A=50 AR=3 PN=1000 PS=10 PR=3 PP=50 SIZES="100:10:20 1000:10:50" AGENT=(10) CLUSTER=(20 60)
    SVG=$RESULTS/scaling.svg    # not the committed plot
else
    F=10000 FS=1000 FR=5 FD=1 A=500 AR=5 PN=10000 PS=100 PR=5 PP=500 SIZES="1000:10:50 3000:30:150 10000:100:500" AGENT=() CLUSTER=(20 300)
    SVG=bench/peers/scaling.svg
fi
step fleet-$F-ubuntu bash bench/fleet.sh $F ubuntu $FR $FD
step fleet-$FS-ubuntu bash bench/fleet.sh $FS ubuntu 3
step fleet-$FS-rhel9 bash bench/fleet.sh $FS rhel9 3
step apply-$A bash bench/apply.sh $A $AR
step apply-20 bash bench/apply.sh 20 10
# where an apply's CPU goes, plumber next to ip -batch, and the no-op's (issue 17)
step profile-apply-$A env TOP=3 bash bench/profile_apply.sh $A 3
step profile-apply-20 env TOP=3 bash bench/profile_apply.sh 20 10
step profile-noop-$A env TOP=3 bash bench/profile_apply.sh $A 20 noop
mkdir -p "$RESULTS/scaling"
step peers env PEERS_RESULTS="$RESULTS/scaling/$PN-$PS-$PP.txt" bash bench/peers.sh $PN $PS $PR $PP
# the other sizes of the plot; the NODES:SAMPLE:PAIRS point of the peers.sh run above is reused
step scaling env SCALING_DIR="$RESULTS/scaling" SCALING_REUSE=1 SCALING_SVG="$SVG" bash bench/peers/scaling.sh 3 "$SIZES"
if [ -f bench/agent.sh ]; then
    step agent bash bench/agent.sh "${AGENT[@]}"
else
    echo "bench/agent.sh: not there, skipped" | tee -a "$RESULTS/steps.txt"
fi
step cluster bash bench/cluster.sh "${CLUSTER[@]}"

T1=$(date +%s)
echo
{ echo "bench/all.sh done after $(((T1 - T0) / 60)) min $(((T1 - T0) % 60)) s"; machine; } | tee "$RESULTS/machine-end.txt"
echo "steps (name, exit status, duration):"
sed 's/^/  /' "$RESULTS/steps.txt"
echo "raw output of every step: $RESULTS/*.txt; the scaling plot: $SVG"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
