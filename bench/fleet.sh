#!/bin/sh
# Fleet render benchmark (issue 2). N nodes (default 10000), each with 4 PFs x 64 VFs (per-VF settings),
# 8 VLANs, 2 OVS bridges (one a bond) and 4 addresses of its own (a template per node), rendered by
#   plumber-render --distro D --nodes nodes.yaml --inventories DIR --out OUT templates/
# Measured, in one run, median of RUNS (default 5) after a warm-up:
#   render    --no-write: parse, select, merge and render every node, write nothing (the CPU part)
#   tmpfs     the whole job into /dev/shm
#   disk      the whole job onto the repository's disk (.cache/bench)
#   floor     `cp -r` of the same output tree on the same filesystem: creating those files and
#             directories at all, with no rendering (single-threaded)
# Peak RSS is the largest of the runs. Needs GNU time (installed if missing).
#   usage: [POOLS=1] bench/fleet.sh [N] [DISTRO] [RUNS] [DISK_RUNS=RUNS]
# POOLS=1: the same fleet with device plugin pools on every PF (gen_fleet.py's `pools`), which adds
# the device plugin's config.json to every node.
# DISK_RUNS: runs of the two disk rows (at 10,000 nodes each disk run and its removal take 0.5-1 min here).
set -eu
cd "$(dirname "$0")/.."
N=${1:-10000}
DISTRO=${2:-ubuntu}
RUNS=${3:-5}
DISK_RUNS=${4:-$RUNS}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
cargo build --release -q -p plumber-render
BIN=$PWD/target/release/plumber-render
if [ "${POOLS:-0}" = 1 ]; then
    IN=$PWD/.cache/bench/fleet-$N-pools
    [ -f "$IN/nodes.yaml" ] || python3 bench/gen_fleet.py "$N" "$IN" pools
else
    IN=$PWD/.cache/bench/fleet-$N
    [ -f "$IN/nodes.yaml" ] || python3 bench/gen_fleet.py "$N" "$IN"
fi
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

# measure NAME 'SHELL COMMAND': warm-up, then RUNS timed runs; prints the median, range and peak RSS.
measure() {
    name=$1
    sh -c "$2" >/dev/null 2>&1 || { echo "bench: $name failed: $2" >&2; sh -c "$2"; exit 1; }
    i=1
    : >"$LOG/$name"
    while [ "$i" -le "$RUNS" ]; do
        /usr/bin/time -f "%e %M" -a -o "$LOG/$name" sh -c "$2" >/dev/null 2>&1
        i=$((i + 1))
    done
    sort -n "$LOG/$name" | awk -v n="$name" '{ t[NR] = $1; if ($2 > m) m = $2 }
        END { printf "%-7s median %6.2f s  (min %.2f, max %.2f)  peak RSS %6.1f MB\n", n, t[int((NR + 1) / 2)], t[1], t[NR], m / 1024 }'
}


JOB="\"$BIN\" --distro $DISTRO --nodes $IN/nodes.yaml --inventories $IN/inventories"
# into BASE: the whole job into a new directory under BASE, remembered for removal (not timed).
into() {
    echo "d=$1/out.\$\$; $JOB --out \"\$d\" $IN/templates && echo \"\$d\" >>$LOG/cleanup"
}

cleanup() {
    [ -f "$LOG/cleanup" ] && xargs rm -rf <"$LOG/cleanup"
    : >"$LOG/cleanup"
}

echo "fleet render: $N nodes, $DISTRO, $(nproc) cores, $(date -u +%Y-%m-%d)"
measure render "$JOB --no-write $IN/templates"
mkdir -p /dev/shm/plumber-bench .cache/bench/disk
measure tmpfs "$(into /dev/shm/plumber-bench)"
cleanup
R=$RUNS RUNS=$DISK_RUNS
measure disk "$(into "$PWD/.cache/bench/disk")"
RUNS=$R
last=$(tail -1 "$LOG/cleanup")
files=$(find "$last" -type f | wc -l)
dirs=$(find "$last" -type d | wc -l)
cp -r "$last" /dev/shm/plumber-bench/src
cleanup
measure floor-tmpfs "d=/dev/shm/plumber-bench/cp.\$\$; cp -r /dev/shm/plumber-bench/src \"\$d\"; echo \"\$d\" >>$LOG/cleanup"
cleanup
cp -r /dev/shm/plumber-bench/src .cache/bench/disk/src
RUNS=$DISK_RUNS
measure floor-disk "d=$PWD/.cache/bench/disk/cp.\$\$; cp -r $PWD/.cache/bench/disk/src \"\$d\"; echo \"\$d\" >>$LOG/cleanup"
RUNS=$R
cleanup
rm -rf /dev/shm/plumber-bench .cache/bench/disk
echo "output tree: $files files, $dirs directories"
