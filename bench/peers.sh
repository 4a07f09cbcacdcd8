#!/usr/bin/env bash
# plumber side by side with its peers (issue 6), every ratio from one run of this script.
#   usage: bench/peers.sh [NODES=10000] [SAMPLE=100] [RUNS=5] [PAIRS=500]      (needs root)
# Peers from bench/peers/setup.sh (run first; cached in .cache/peers): nmstatectl 2.2 (crates.io),
# cloud-init 22.4.2 (Debian 12's .deb, its sysconfig and netplan renderers in a venv), netplan.io 0.106
# (Debian's, /usr/lib/netplan/generate), iproute2.
# Inputs: bench/gen_fleet.py (the fleet) and bench/peers/gen_peers.py (the same nodes as network-config
# v2 and nmstate YAML; the apply template as nmstate YAML), bench/gen_apply.py (namespaces).
#
# 1. fleet render, on tmpfs (/dev/shm), the first SAMPLE nodes of the fleet for every tool:
#    common  the part all three express (2 PFs with MTU 9000, 8 VLANs, 4 addresses; no routes):
#            plumber-render --distro rhel8 (ifcfg)   vs cloud-init sysconfig (flavor rhel, ifcfg)
#            plumber-render --distro ubuntu (netplan) vs cloud-init netplan renderer
#            plumber-render --distro rhel9 (keyfile)  vs `nmstatectl gc NODE.yaml` once per node
#            plumber-render --distro debian (networkd) vs `netplan generate --root-dir` once per node, on
#                                                        the node's netplan file (plumber's ubuntu output)
#    full    the whole node (also SR-IOV 4x64 VFs and 2 OVS bridges, one over an LACP bond):
#            plumber-render --distro rhel9            vs `nmstatectl gc` (cloud-init has neither)
#    plumber runs as one fleet-mode process (2 threads; also RAYON_NUM_THREADS=1), timed whole by
#    hyperfine; cloud-init times its own loop (bench/peers/cloudinit_render.py: YAML load, parse,
#    render, write; Python's start not counted); nmstatectl gc is one process per node, its keyfiles
#    written to tmpfs. Then plumber alone at NODES nodes; the peers' cost there is their per-node
#    cost at SAMPLE times NODES (extrapolated, marked so).
# 2. show: 1000 links / 2000 addresses / 5000 routes (bench/gen_apply.py's show.batch):
#    `plumber show -o json` vs `nmstatectl show --kernel --json` vs `ip -j link; ip -j addr; ip -j route`.
# 3. apply PAIRS veth pairs in a fresh namespace per run (MTU 9000, 2 addresses, 1 route each):
#    `plumber apply --runtime-only` vs `ip -batch` vs `nmstatectl apply --kernel`, with and without the MTU
#    (nmstate's kernel mode and MTU: see the result line it prints), then the no-op re-apply of each.
# Median and min of RUNS runs after a warm-up (hyperfine); peak RSS of one run (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-10000}
SAMPLE=${2:-100}
RUNS=${3:-5}
PAIRS=${4:-500}
[ "$(id -u)" = 0 ] || { echo "bench/peers.sh: needs root (network namespaces)" >&2; exit 1; }
bash bench/peers/setup.sh | sed 's/^/  /' >"${TMPDIR:-/tmp}/peers-versions.$$"
P=$PWD/.cache/peers
NMSTATECTL=$P/cargo/bin/nmstatectl
PY=$P/venv/bin/python
CI_SITE=$P/cloud-init/usr/lib/python3/dist-packages
# PLUMBER_BIN_DIR: use plumber and plumber-render from there instead of building the work tree (to
# measure a given commit while the tree changes under you: `git archive` it and build that).
if [ -z "${PLUMBER_BIN_DIR:-}" ]; then
    # separately, as bench/fleet.sh and bench/apply.sh do (one artifact set each)
    cargo build --release -q -p plumber-render && cargo build --release -q -p plumber
    PLUMBER_BIN_DIR=$PWD/target/release
fi
RENDER=$PLUMBER_BIN_DIR/plumber-render
PLUMBER=$PLUMBER_BIN_DIR/plumber

LOG=$(mktemp -d /tmp/plumber-peers-bench.XXXXXX)
SHM=/dev/shm/plumber-peers.$$
mkdir -p "$SHM"
: >"$LOG/namespaces"
cleanup() {
    while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$LOG/namespaces"
    rm -rf "$LOG" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mv "${TMPDIR:-/tmp}/peers-versions.$$" "$LOG/versions"

echo "plumber peers bench: NODES=$NODES SAMPLE=$SAMPLE RUNS=$RUNS PAIRS=$PAIRS; $(nproc) cores," \
    "kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$LOG/versions"

# ---- inputs (cached in .cache/bench: the fleet as bench/fleet.sh makes it, the peers' at SAMPLE) ----
FLEET=$PWD/.cache/bench/fleet-$NODES
[ -f "$FLEET/nodes.yaml" ] || python3 bench/gen_fleet.py "$NODES" "$FLEET"
FLEETS=$PWD/.cache/bench/fleet-$SAMPLE
[ -f "$FLEETS/nodes.yaml" ] || python3 bench/gen_fleet.py "$SAMPLE" "$FLEETS"
PEERS=$PWD/.cache/bench/peers-$SAMPLE-$PAIRS
[ -f "$PEERS/apply/nmstate.yaml" ] || python3 bench/peers/gen_peers.py "$SAMPLE" "$PEERS" "$PAIRS"
COMMON=$PWD/.cache/bench/peers-common-$NODES      # the common part's plumber input at NODES
[ -f "$COMMON/common/plumber/nodes.yaml" ] || python3 bench/peers/gen_peers.py "$NODES" "$COMMON" 1 --plumber-only
python3 bench/gen_apply.py "$PAIRS" "$LOG/in"

: >"$LOG/results"
get() { awk -v n="$1" -v f="$2" '$1 == n { v = $f } END { print v }' "$LOG/results"; }
# measure NAME PREPARE COMMAND: hyperfine, RUNS runs after a warm-up; "NAME median_ms min_ms" to results.
measure() {
    local name=$1 prep=$2 cmd=$3
    [ -n "$prep" ] && sh -c "$prep"
    sh -c "$cmd" >/dev/null 2>"$LOG/warmup.err" || { echo "bench: $name failed: $cmd" >&2; cat "$LOG/warmup.err" >&2; exit 1; }
    local args=(-N --style none --warmup 1 --runs "$RUNS" --export-json "$LOG/$name.json")
    [ -n "$prep" ] && args+=(--prepare "$prep")
    hyperfine "${args[@]}" "$cmd" >/dev/null 2>"$LOG/hyperfine.err" || { cat "$LOG/hyperfine.err" >&2; exit 1; }
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]
print(sys.argv[2], "%.1f" % (r["median"]*1e3), "%.1f" % (r["min"]*1e3))' "$LOG/$name.json" "$name" >>"$LOG/results"
    tail -1 "$LOG/results" | awk '{ printf "  %-22s median %10.1f ms   min %10.1f ms\n", $1, $2, $3 }'
}
# rss NAME COMMAND: peak RSS (KiB) of one run, to results as "NAME-rss KiB".
rss() {
    /usr/bin/time -f %M -o "$LOG/rss" sh -c "$2 >/dev/null 2>&1"
    echo "$1-rss $(tail -1 "$LOG/rss")" >>"$LOG/results"
}

# ---- 1. fleet render ----
echo "1. fleet render, $SAMPLE nodes (tmpfs)"
# A fresh output directory per run, removed before the next run (not timed).
cat >"$LOG/fresh" <<EOF
#!/bin/sh
rm -rf "$SHM/out"
EOF
chmod +x "$LOG/fresh"
pl() { # NAME DISTRO INPUT-DIR [THREADS]
    local env=""
    [ -n "${4:-}" ] && env="env RAYON_NUM_THREADS=$4 "
    measure "$1" "$LOG/fresh" "$env$RENDER --distro $2 --nodes $3/nodes.yaml $( [ -d "$3/inventories" ] && echo "--inventories $3/inventories") --out $SHM/out $3/templates"
}
CS=$PEERS/common/plumber
pl pl-rhel8 rhel8 "$CS"
pl pl-rhel8-1t rhel8 "$CS" 1
pl pl-ubuntu ubuntu "$CS"
pl pl-ubuntu-1t ubuntu "$CS" 1
pl pl-rhel9 rhel9 "$CS"
pl pl-rhel9-1t rhel9 "$CS" 1
pl pl-full rhel9 "$FLEETS"
pl pl-full-1t rhel9 "$FLEETS" 1
rss pl-rhel8 "$RENDER --distro rhel8 --nodes $CS/nodes.yaml --out $SHM/rss.$$ $CS/templates"
rss pl-full "$RENDER --distro rhel9 --nodes $FLEETS/nodes.yaml --inventories $FLEETS/inventories --out $SHM/rss2.$$ $FLEETS/templates"
rm -rf "$SHM"/rss*

for r in sysconfig netplan; do
    /usr/bin/time -f %M -o "$LOG/rss" "$PY" bench/peers/cloudinit_render.py "$CI_SITE" "$r" "$PEERS/common/v2" "$SHM/ci-$r" "$RUNS" >"$LOG/ci-$r.json"
    echo "ci-$r-rss $(tail -1 "$LOG/rss")" >>"$LOG/results"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); t=sorted(r["times"]); n=len(t)
m=t[(n-1)//2] if n%2 else (t[n//2-1]+t[n//2])/2
print(sys.argv[2], "%.1f" % (m*1e3), "%.1f" % (t[0]*1e3))' "$LOG/ci-$r.json" "ci-$r" >>"$LOG/results"
    tail -1 "$LOG/results" | awk '{ printf "  %-22s median %10.1f ms   min %10.1f ms\n", $1, $2, $3 }'
    echo "    phases of the median pass: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(", ".join("%s %.2f s" % kv for kv in r["median_phases"].items()), "|", r["files"], "files")' "$LOG/ci-$r.json")"
done
rm -rf "$SHM"/ci-*

# netplan generate: what a netplan host runs at boot, netplan YAML -> systemd-networkd files (+ udev rules)
# under ROOT/run. One process per node, as on a host, each on that node's netplan file as plumber-render
# --distro ubuntu writes it (made once, not timed); its output removed before each run (not timed).
NETPLAN_GEN=/usr/lib/netplan/generate
"$RENDER" --distro ubuntu --nodes "$CS/nodes.yaml" --out "$SHM/np" "$CS/templates" 2>/dev/null
cat >"$LOG/np-fresh" <<EOF
#!/bin/sh
rm -rf "$SHM"/np/*/run
EOF
cat >"$LOG/np-loop" <<EOF
#!/bin/sh
for d in "$SHM"/np/*/; do
    "$NETPLAN_GEN" --root-dir "\$d" || exit 1
done
EOF
chmod +x "$LOG/np-fresh" "$LOG/np-loop"
pl pl-networkd debian "$CS"
pl pl-networkd-1t debian "$CS" 1
measure np-gen "$LOG/np-fresh" "$LOG/np-loop"
np_files=$(find "$SHM/np/node-0/run" -type f | wc -l)
pl_nd_files=$(( $(find "$SHM/out/node-0" -type f | wc -l) ))
sh "$LOG/np-fresh"
rss np-gen "$NETPLAN_GEN --root-dir $SHM/np/node-0"
rss pl-networkd "$RENDER --distro debian --nodes $CS/nodes.yaml --out $SHM/rss3.$$ $CS/templates"
rm -rf "$SHM/np" "$SHM"/rss* "$SHM/out"

# nmstatectl gc, one process per node, its output (keyfiles, as YAML) into a file per node.
cat >"$LOG/gc-loop" <<EOF
#!/bin/sh
mkdir -p "$SHM/out"
for f in "\$1"/node-*.yaml; do
    "$NMSTATECTL" gc -q "\$f" >"$SHM/out/\${f##*/}" || exit 1
done
EOF
chmod +x "$LOG/gc-loop"
measure nm-gc "$LOG/fresh" "$LOG/gc-loop $PEERS/common/nmstate"
measure nm-gc-full "$LOG/fresh" "$LOG/gc-loop $PEERS/full/nmstate"
rss nm-gc "$NMSTATECTL gc -q $PEERS/common/nmstate/node-0.yaml"
rss nm-gc-full "$NMSTATECTL gc -q $PEERS/full/nmstate/node-0.yaml"
gc_conns=$("$NMSTATECTL" gc -q "$PEERS/common/nmstate/node-0.yaml" | grep -c 'nmconnection$' || true)
gc_conns_full=$("$NMSTATECTL" gc -q "$PEERS/full/nmstate/node-0.yaml" | grep -c 'nmconnection$' || true)
rm -rf "$SHM/out"

echo "1b. plumber alone, $NODES nodes (tmpfs)"
CN=$COMMON/common/plumber
pl pl-rhel8-N rhel8 "$CN"
pl pl-ubuntu-N ubuntu "$CN"
pl pl-rhel9-N rhel9 "$CN"
pl pl-networkd-N debian "$CN"
pl pl-full-N rhel9 "$FLEET"
measure pl-full-N-nowrite "" "$RENDER --distro rhel9 --nodes $FLEET/nodes.yaml --inventories $FLEET/inventories --no-write $FLEET/templates"
rss pl-full-N "$RENDER --distro rhel9 --nodes $FLEET/nodes.yaml --inventories $FLEET/inventories --out $SHM/rssN $FLEET/templates"
rm -rf "$SHM/out" "$SHM/rssN"

# ---- namespaces ----
echo 0 >"$LOG/counter"
SYSFS=$LOG/sysfs
mkdir -p "$SYSFS/class/net"
ROOT=$LOG/root
mkdir -p "$ROOT"
cat >"$LOG/newns" <<EOF
#!/bin/sh
set -e
n=\$((\$(cat $LOG/counter) + 1)); echo \$n >$LOG/counter
ns=plumber-peers-$$-\$n
ip netns add \$ns
echo \$ns >>$LOG/namespaces
ip -n \$ns -batch "\$1"
ln -sfn /run/netns/\$ns $LOG/cur
rm -rf $ROOT/var
sleep "\${2:-0.3}"
EOF
chmod +x "$LOG/newns"
IN="nsenter --net=$LOG/cur"

# ---- 2. show ----
echo "2. show"
sh -c "$LOG/newns $LOG/in/show.batch 3"
counts=$($IN sh -c 'echo "$(ip -o link | wc -l) links, $(ip -o addr | wc -l) addresses, $(ip route show table all | wc -l) routes (table all)"')
echo "  namespace: $counts"
measure show "" "$IN $PLUMBER show -o json --sysfs $SYSFS --node-name bench"
measure nm-show "" "$IN $NMSTATECTL show --kernel -q --json"
measure nm-show-yaml "" "$IN $NMSTATECTL show --kernel -q"
measure ip-show "" "$IN sh -c 'ip -j link >/dev/null; ip -j addr >/dev/null; ip -j route show table all >/dev/null'"
rss show "$IN $PLUMBER show -o json --sysfs $SYSFS --node-name bench"
rss nm-show "$IN $NMSTATECTL show --kernel -q --json"
rss ip-show "$IN ip -j route show table all"

# ---- 3. apply ----
echo "3. apply $PAIRS veth pairs"
NEW="$LOG/newns $LOG/in/create.batch"
APPLY="$PLUMBER apply --runtime-only --root $ROOT --sysfs $SYSFS --distro debian --node-name bench"
# What nmstate's kernel mode does with the MTU: one apply of the YAML with `mtu: 9000`, then v0's MTU.
sh -c "$NEW"
t0=$(date +%s%N)
if $IN "$NMSTATECTL" apply --kernel "$PEERS/apply/nmstate.yaml" >"$LOG/nm-apply.out" 2>&1; then nm_mtu_result="succeeded"
else nm_mtu_result="failed ($(grep -o 'NmstateError: [A-Za-z]*' "$LOG/nm-apply.out" | tail -1))"; fi
t1=$(date +%s%N)
nm_mtu=$($IN ip -o link show v0 | grep -o 'mtu [0-9]*' | cut -d' ' -f2)
nm_addrs=$($IN ip -4 -o addr | grep -c ' v[0-9]* ' || true)
nm_routes=$($IN ip route | grep -c '^100\.' || true)
nm_mtu_ms=$(((t1 - t0) / 1000000))
nm_mtu_note="\`nmstatectl apply --kernel\` with \`mtu: 9000\`: $nm_mtu_result after $nm_mtu_ms ms; v0 left at MTU $nm_mtu, $nm_addrs IPv4 addresses and $nm_routes routes on the veths"
echo "  $nm_mtu_note"
grep -m1 'Verification failure' "$LOG/nm-apply.out" | sed 's/^.*Verification failure/    verification failure/' || true
measure apply "$NEW" "$IN $APPLY -f $LOG/in/apply.yaml"
measure ip-apply "$NEW" "$IN ip -batch $LOG/in/apply.batch"
measure apply-nomtu "$NEW" "$IN $APPLY -f $PEERS/apply/apply-nomtu.yaml"
measure ip-apply-nomtu "$NEW" "$IN ip -batch $PEERS/apply/apply-nomtu.batch"
measure nm-apply-nomtu "$NEW" "$IN $NMSTATECTL apply --kernel -q $PEERS/apply/nmstate-nomtu.yaml"
# no-op: the same state again on an applied namespace
sh -c "$NEW"
$IN $APPLY -f "$PEERS/apply/apply-nomtu.yaml" >/dev/null
$IN $APPLY -f "$PEERS/apply/apply-nomtu.yaml" -o json >"$LOG/noop.json"
noop_writes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["netlink_writes"])' "$LOG/noop.json")
measure noop "" "$IN $APPLY -f $PEERS/apply/apply-nomtu.yaml"
sh -c "$NEW"
$IN "$NMSTATECTL" apply --kernel -q "$PEERS/apply/nmstate-nomtu.yaml" >/dev/null
measure nm-noop "" "$IN $NMSTATECTL apply --kernel -q $PEERS/apply/nmstate-nomtu.yaml"
sh -c "$NEW"
rss apply "$IN $APPLY -f $PEERS/apply/apply-nomtu.yaml"
sh -c "$NEW"
rss nm-apply "$IN $NMSTATECTL apply --kernel -q $PEERS/apply/nmstate-nomtu.yaml"
sh -c "$NEW"
rss ip-apply "$IN ip -batch $PEERS/apply/apply-nomtu.batch"

# ---- table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.1f×", a / b }'; }
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }' || true; }
ms() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f s", v / 1000; else printf "%.1f ms", v }'; }
pernode() { [ "$2" = 1 ] || awk -v v="$1" -v n="$2" 'BEGIN { printf "%.3f ms", v / n }'; }
# row LABEL NAME PEER-NAME N RSS-NAME: median, min, per node, peer / this, peak RSS
row() {
    local r=""
    [ -n "$3" ] && r=$(ratio "$(get "$3" 2)" "$(get "$2" 2)")
    echo "| $1 | **$(ms "$(get "$2" 2)")** | $(ms "$(get "$2" 3)") | $(pernode "$(get "$2" 2)" "$4") | $r | $(mb "$(get "${5:-$2}-rss" 2)") |"
}
echo
echo "| 1. fleet render, $SAMPLE nodes, tmpfs | median | min | per node | peer ÷ plumber | peak RSS |"
echo "|---|---|---|---|---|---|"
row "common part: \`plumber-render --distro rhel8\` (ifcfg), 2 threads" pl-rhel8 ci-sysconfig "$SAMPLE" pl-rhel8
row "   the same, 1 thread" pl-rhel8-1t ci-sysconfig "$SAMPLE" none
row "   peer: cloud-init sysconfig renderer (ifcfg, flavor rhel)" ci-sysconfig "" "$SAMPLE" ci-sysconfig
row "common part: \`plumber-render --distro ubuntu\` (netplan), 2 threads" pl-ubuntu ci-netplan "$SAMPLE" none
row "   the same, 1 thread" pl-ubuntu-1t ci-netplan "$SAMPLE" none
row "   peer: cloud-init netplan renderer" ci-netplan "" "$SAMPLE" ci-netplan
row "common part: \`plumber-render --distro rhel9\` (keyfile), 2 threads" pl-rhel9 nm-gc "$SAMPLE" none
row "   the same, 1 thread" pl-rhel9-1t nm-gc "$SAMPLE" none
row "   peer: \`nmstatectl gc\`, a process per node ($gc_conns keyfiles each)" nm-gc "" "$SAMPLE" nm-gc
row "common part: \`plumber-render --distro debian\` (systemd-networkd, $pl_nd_files files each), 2 threads" pl-networkd np-gen "$SAMPLE" pl-networkd
row "   the same, 1 thread" pl-networkd-1t np-gen "$SAMPLE" none
row "   peer: \`netplan generate\` on plumber's netplan file, a process per node ($np_files files each)" np-gen "" "$SAMPLE" np-gen
row "whole node (+ SR-IOV, OVS): \`plumber-render --distro rhel9\`, 2 threads" pl-full nm-gc-full "$SAMPLE" pl-full
row "   the same, 1 thread" pl-full-1t nm-gc-full "$SAMPLE" none
row "   peer: \`nmstatectl gc\` (SR-IOV + OVS bridges and bond; $gc_conns_full keyfiles each)" nm-gc-full "" "$SAMPLE" nm-gc-full
echo
echo "| 1b. plumber at $NODES nodes, tmpfs | median | min | per node | peer at $NODES (extrapolated) ÷ plumber | peak RSS |"
echo "|---|---|---|---|---|---|"
xrow() { # LABEL NAME PEER: the peer's per-node cost at SAMPLE × NODES
    local px
    px=$(awk -v p="$(get "$3" 2)" -v s="$SAMPLE" -v n="$NODES" 'BEGIN { printf "%.1f", p / s * n }')
    echo "| $1 | **$(ms "$(get "$2" 2)")** | $(ms "$(get "$2" 3)") | $(pernode "$(get "$2" 2)" "$NODES") | $(ratio "$px" "$(get "$2" 2)") (peer ≈ $(ms "$px")) | $(mb "$(get "$2-rss" 2)") |"
}
xrow "common part, rhel8 vs. cloud-init sysconfig" pl-rhel8-N ci-sysconfig
xrow "common part, ubuntu vs. cloud-init netplan" pl-ubuntu-N ci-netplan
xrow "common part, rhel9 vs. \`nmstatectl gc\`" pl-rhel9-N nm-gc
xrow "common part, networkd vs. \`netplan generate\`" pl-networkd-N np-gen
xrow "whole node, rhel9 vs. \`nmstatectl gc\`" pl-full-N nm-gc-full
xrow "whole node, rhel9, \`--no-write\` (render only) vs. \`nmstatectl gc\`" pl-full-N-nowrite nm-gc-full
echo
echo "| 2. show: $counts | median | min | | peer ÷ plumber | peak RSS |"
echo "|---|---|---|---|---|---|"
row "\`plumber show -o json\`" show nm-show 1 show
row "   peer: \`nmstatectl show --kernel --json\`" nm-show "" 1 nm-show
row "   peer: \`nmstatectl show --kernel\` (YAML)" nm-show-yaml "" 1 none
row "   floor: \`ip -j link; ip -j addr; ip -j route show table all\` (÷ = floor ÷ plumber)" ip-show "" 1 ip-show
echo "|   plumber ÷ floor | $(ratio "$(get show 2)" "$(get ip-show 2)") | | | | |"
echo
echo "| 3. apply $PAIRS veth pairs, fresh namespace | median | min | | nmstate ÷ plumber | peak RSS |"
echo "|---|---|---|---|---|---|"
row "\`plumber apply --runtime-only\`, MTU + 2 addresses + route" apply "" 1 none
row "   \`ip -batch\`, the same" ip-apply "" 1 none
echo "|   $nm_mtu_note (not timed further) | | | | | |"
row "\`plumber apply --runtime-only\`, 2 addresses + route, no MTU" apply-nomtu nm-apply-nomtu 1 apply
row "   \`ip -batch\`, the same" ip-apply-nomtu "" 1 ip-apply
row "   \`nmstatectl apply --kernel\`, the same" nm-apply-nomtu "" 1 nm-apply
row "no-op re-apply: \`plumber apply\` ($noop_writes netlink writes)" noop nm-noop 1 none
row "   \`nmstatectl apply --kernel\`, same state again" nm-noop "" 1 none
echo "|   plumber ÷ \`ip -batch\` (with MTU / without) | $(ratio "$(get apply 2)" "$(get ip-apply 2)") / $(ratio "$(get apply-nomtu 2)" "$(get ip-apply-nomtu 2)") | | | | |"
echo
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
cp "$LOG/results" "${PEERS_RESULTS:-/dev/null}" 2>/dev/null || true
