#!/usr/bin/env bash
# Where the CPU time of an apply goes, next to `ip -batch` making the same changes: `perf record` of RUNS
# applies and RUNS `ip -batch` runs, each in a fresh namespace made beforehand (the making is not
# recorded), every sample sorted by bench/profile_sort.py into what it was spent on (the kernel carrying
# out the writes, the kernel filling dumps, fsync, page faults, the loader, parsing templates, netlink
# messages in user space...), in milliseconds of CPU per run. The profile behind BENCHMARKS.md's
# "what bounds it" for issue 17's goals 1 and 2.
#   usage: sudo bash bench/profile_apply.sh [PAIRS=20] [RUNS=10] [MODE=apply]
#   TOP=K lists each category's K busiest symbols under it.
#   MODE=apply  a first apply of bench/gen_apply.py's template (PAIRS interfaceConfig entries) in a fresh
#               namespace, against `ip -batch` of the same changes (bench/apply.sh's row 1)
#   MODE=noop   the no-op re-apply of the same template in one applied namespace with the 1000 links
#               (bench/apply.sh's row 2); no peer
# Needs perf (Debian's linux-perf; installed when missing) and root.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-20}
RUNS=${2:-10}
MODE=${3:-apply}
case "$PAIRS$RUNS" in *[!0-9]*) echo "bench/profile_apply.sh: PAIRS and RUNS are numbers, not $PAIRS, $RUNS" >&2; exit 2 ;; esac
case "$MODE" in apply | noop) ;; *) echo "bench/profile_apply.sh: MODE is apply or noop, not $MODE" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench/profile_apply.sh: needs root (network namespaces)" >&2; exit 1; }
command -v perf >/dev/null || apt-get install -y -qq linux-perf >/dev/null
cargo build --release -q -p plumber
BIN=$PWD/target/release/plumber

LOG=$(mktemp -d /tmp/plumber-profile.XXXXXX)
: >"$LOG/namespaces"
cleanup() {
    while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$LOG/namespaces"
    rm -rf "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 bench/gen_apply.py "$PAIRS" "$LOG/in"
mkdir -p "$LOG/sysfs/class/net" "$LOG/root"
APPLY="$BIN apply --runtime-only --root $LOG/root --sysfs $LOG/sysfs --distro debian --node-name bench"

# newns NAME: a namespace with the PAIRS veth pairs, as bench/apply.sh makes it.
newns() {
    local ns=plumber-profile-$$-$1
    ip netns add "$ns"
    echo "$ns" >>"$LOG/namespaces"
    ip -n "$ns" -batch "$LOG/in/create.batch"
}

# The script perf runs: every command it times, one after the other, the namespaces made before.
: >"$LOG/run.sh"
if [ "$MODE" = noop ]; then
    newns noop
    nsenter --net="/run/netns/plumber-profile-$$-noop" $APPLY -f "$LOG/in/apply.yaml" >/dev/null
    for ((i = 0; i < RUNS; i++)); do
        echo "nsenter --net=/run/netns/plumber-profile-$$-noop $APPLY -f $LOG/in/apply.yaml >/dev/null" >>"$LOG/run.sh"
    done
else
    for ((i = 0; i < RUNS; i++)); do
        newns "a$i"
        newns "i$i"
        # Each apply starts from a fresh state directory, as bench/apply.sh's do.
        echo "rm -rf $LOG/root/var; nsenter --net=/run/netns/plumber-profile-$$-a$i $APPLY -f $LOG/in/apply.yaml >/dev/null" >>"$LOG/run.sh"
        echo "nsenter --net=/run/netns/plumber-profile-$$-i$i ip -batch $LOG/in/apply.batch" >>"$LOG/run.sh"
    done
fi
sleep 1 # let IPv6 autoconfiguration on the new links settle, as bench/apply.sh does

FREQ=10000
echo "plumber apply profile: $MODE, $PAIRS pairs, $RUNS runs; $(nproc) cores, kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
perf record -q -F "$FREQ" -g -o "$LOG/perf.data" -- sh "$LOG/run.sh" 2>"$LOG/perf.err" ||
    { cat "$LOG/perf.err" >&2; exit 1; }
perf script -i "$LOG/perf.data" -F comm,ip,sym,dso 2>/dev/null |
    python3 bench/profile_sort.py --freq "$FREQ" --runs "$RUNS" --top "${TOP:-0}" plumber ip
