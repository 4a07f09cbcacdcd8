#!/usr/bin/env bash
# Agent footprint benchmark (issue 4): `plumber agent` idle RSS and CPU over WINDOW seconds with 10
# templates and 1000 interfaces, against a fake API server (bench/fake_apiserver.py), in a network
# namespace made for the run (deleted by a trap).
#   setup   a namespace with PAIRS veth pairs vN <-> pN (2 × PAIRS interfaces, pN up) made by `ip -batch`;
#           10 HostNetworkTemplates, all selecting the node by the label plumber.bench/pool=bench, that
#           together configure every vN (MTU 9000, 2 IPv4 addresses in its own /24, 1 route via a gateway
#           in it), PAIRS/10 interfaces each; a host root with an Ubuntu 22.04 etc/os-release (the state
#           dir is under it); the fake API server and the agent both run in the namespace, so 127.0.0.1
#           is theirs alone.
#   start   the agent lists and watches the templates and its Node, creates its HostNetwork and applies
#           the templates; converged = /readyz 200, an apply done and a status written, then SETTLE
#           seconds without any request to the API server (the netlink events of its own apply and of
#           IPv6 autoconfiguration on the new links cause passes of their own).
#   idle    WINDOW seconds of nothing changing (one --resync-secs 60 pass falls in it): VmRSS every
#           second from /proc/PID/status, CPU (utime+stime of /proc/PID/stat) at both ends, the API
#           requests by verb in the window from the fake server's log, passes from /metrics.
# Peak RSS of the start = VmHWM when converged. Fails (exit 1) if the agent wrote to the API server
# in the window; an RSS above the goal (15 MB) is reported, not failed.
#   usage: sudo bench/agent.sh [WINDOW=60] [PAIRS=500] [SETTLE=10]
#   AGENT_ENV="K=V ..." adds environment variables to the agent's (e.g. MIMALLOC_* options);
#   PLUMBER_BIN=PATH runs that binary instead of building target/release/plumber; KEEP_LOG=1 keeps the
#   work directory (requests.jsonl, agent.err, smaps_rollup).
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-60}
PAIRS=${2:-500}
SETTLE=${3:-10}
GOAL_KB=$((15 * 1024))
[ "$(id -u)" = 0 ] || { echo "bench/agent.sh: needs root (network namespaces)" >&2; exit 1; }
[ $((PAIRS % 10)) = 0 ] || { echo "bench/agent.sh: PAIRS must be a multiple of 10" >&2; exit 2; }
if [ -n "${PLUMBER_BIN:-}" ]; then BIN=$PLUMBER_BIN; else
    cargo build --release -q -p plumber
    BIN=$PWD/target/release/plumber
fi

NS=plumber-agent-bench-$$
LOG=$(mktemp -d /tmp/plumber-agent-bench.XXXXXX)
API_PORT=16443
PORT=19472
agent_pid="" server_pid=""
cleanup() {
    set +e
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    if [ -n "${KEEP_LOG:-}" ]; then echo "logs kept in $LOG"; else rm -rf "$LOG"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
IN="ip netns exec $NS"
NOPROXY="env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY"

# Inputs: the namespace's ip batch and the templates (JSON, as the API server serves them).
python3 - "$PAIRS" "$LOG" <<'EOF'
import json, os, sys
pairs, out = int(sys.argv[1]), sys.argv[2]
with open(os.path.join(out, "create.batch"), "w") as f:
    f.write("link set lo up\n")
    for i in range(pairs):
        f.write(f"link add v{i} type veth peer name p{i}\n")
    for i in range(pairs):
        f.write(f"link set p{i} up\n")
os.makedirs(os.path.join(out, "templates"))
per = pairs // 10
for t in range(10):
    entries = []
    for i in range(t * per, (t + 1) * per):
        s = f"10.{1 + i // 256}.{i % 256}"
        entries.append({"name": f"v{i}", "mtu": 9000,
                        "ipv4": {"address": [f"{s}.1/24", f"{s}.2/24"],
                                 "routes": [{"to": f"100.{64 + i // 256}.{i % 256}.0/24",
                                             "via": f"{s}.254"}]}})
    tpl = {"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetworkTemplate",
           "metadata": {"name": f"bench-{t}", "generation": 1},
           "spec": {"nodeSelector": {"plumber.bench/pool": "bench"}, "interfaceConfig": entries}}
    with open(os.path.join(out, "templates", f"bench-{t}.json"), "w") as f:
        json.dump(tpl, f)
EOF
ROOT=$LOG/root
mkdir -p "$ROOT/etc" "$ROOT/usr/sbin"
printf 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n' \
    >"$ROOT/etc/os-release"
# The ubuntu profile's files are refused where netplan is not installed (node/apply/host_stack.rs): an
# empty /usr/sbin/netplan is the evidence it looks for (nothing runs it).
: >"$ROOT/usr/sbin/netplan"
cat >"$LOG/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "http://127.0.0.1:$API_PORT"}}]
users: [{name: bench, user: {}}]
contexts: [{name: bench, context: {cluster: bench, user: bench, namespace: default}}]
current-context: bench
EOF

ip netns add "$NS"
ip -n "$NS" -batch "$LOG/create.batch"
links=$($IN ip -o link | wc -l)

# pid_of PID NAME: the process NAME that `ip netns exec` became (it execs; a child if it forked).
pid_of() {
    local p=$1
    for _ in $(seq 50); do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ] && { echo "$p"; return; }
        local c; c=$(pgrep -P "$p" -x "$2" || true)
        [ -n "$c" ] && { echo "$c"; return; }
        sleep 0.1
    done
    echo "bench: no $2 process under $p" >&2; exit 1
}

$IN python3 bench/fake_apiserver.py --port "$API_PORT" --node bench-node \
    --label plumber.bench/pool=bench --label kubernetes.io/hostname=bench-node \
    --templates "$LOG/templates" --log "$LOG/requests.jsonl" >"$LOG/server.out" 2>&1 &
server_pid=$!
until $IN $NOPROXY curl -s -o /dev/null "http://127.0.0.1:$API_PORT/healthz"; do sleep 0.1; done
: >"$LOG/requests.jsonl"   # forget the probe

echo "plumber agent bench: $links links in the namespace, 10 templates × $((PAIRS / 10)) interfaces;" \
    "$(nproc) cores, kernel $(uname -r), $(date -u +%Y-%m-%d); load average:$(uptime | sed 's/.*average://')"
t_start=$(date +%s.%N)
# shellcheck disable=SC2086
$IN $NOPROXY env KUBECONFIG="$LOG/kubeconfig" ${AGENT_ENV:-} "$BIN" agent --node-name bench-node \
    --host-root "$ROOT" --state-dir /var/lib/plumber --port "$PORT" --resync-secs 60 --metrics-access loopback \
    >"$LOG/agent.out" 2>"$LOG/agent.err" &
agent_pid=$!
agent_pid=$(pid_of "$agent_pid" plumber)

metrics() { $IN $NOPROXY curl -s "http://127.0.0.1:$PORT/metrics" || true; }
metric() { awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }' <<<"$2"; }
alive() { kill -0 "$agent_pid" 2>/dev/null || { echo "bench: the agent died:" >&2; tail -20 "$LOG/agent.err" >&2; exit 1; }; }
# last_request: seconds since the fake server logged a request (large if none).
since_last_request() {
    python3 -c 'import json,sys,time
t = 0
for l in open(sys.argv[1]): t = json.loads(l)["t"]
print(int(time.time() - t) if t else 10**6)' "$LOG/requests.jsonl"
}

# Converged: ready, applied, status written.
deadline=$(($(date +%s) + 300))
while :; do
    alive
    m=$(metrics)
    if [ "$(metric plumber_agent_status_writes_total "$m")" -ge 1 ] &&
        [ "$(metric 'plumber_agent_applies_total{result="applied"}' "$m")" -ge 1 ] &&
        $IN $NOPROXY curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; then break; fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: the agent did not converge in 300 s" >&2; tail -20 "$LOG/agent.err" >&2; exit 1; }
    sleep 0.2
done
t_applied=$(date +%s.%N)
# Settled: SETTLE s without a request.
while [ "$(since_last_request)" -lt "$SETTLE" ]; do
    alive
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: the agent never went quiet" >&2; exit 1; }
    sleep 0.5
done
alive
hwm_start=$(awk '/^VmHWM/ { print $2 }' /proc/"$agent_pid"/status)
m0=$(metrics)
t_settled=$(date +%s.%N)
echo "converged: applied and published $(awk -v a="$t_applied" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }') s" \
    "after start, quiet $SETTLE s later ($(awk -v a="$t_settled" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }') s);" \
    "peak RSS so far (VmHWM) $hwm_start kB; idle window of $WINDOW s"

# The window.
cpu() { awk '{ print $14 + $15, $16 + $17 }' /proc/"$agent_pid"/stat; }
ctxt() { awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ { s += $2 } END { print s }' /proc/"$agent_pid"/status; }
read -r cpu0 ccpu0 < <(cpu)
ctx0=$(ctxt)
t0=$(date +%s.%N)
: >"$LOG/rss"
for ((i = 1; i <= WINDOW; i++)); do
    alive
    awk '/^VmRSS/ { print $2 }' /proc/"$agent_pid"/status >>"$LOG/rss"
    # sleep to the next whole second of the window
    sleep "$(awk -v t0="$t0" -v i="$i" -v now="$(date +%s.%N)" 'BEGIN { d = t0 + i - now; print (d > 0 ? d : 0) }')"
done
read -r cpu1 ccpu1 < <(cpu)
ctx1=$(ctxt)
t1=$(date +%s.%N)
m1=$(metrics)
alive
grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem|Threads)' /proc/"$agent_pid"/status >"$LOG/status.end"
cat /proc/"$agent_pid"/smaps_rollup >"$LOG/smaps_rollup" 2>/dev/null || true
cat /proc/"$agent_pid"/smaps >"$LOG/smaps" 2>/dev/null || true
ls /proc/"$agent_pid"/task | wc -l >"$LOG/threads"
hwm_end=$(awk '/^VmHWM/ { print $2 }' "$LOG/status.end")

# Requests by verb in the window (and before it, for the record).
python3 - "$LOG/requests.jsonl" "$t0" "$t1" >"$LOG/requests.summary" <<'EOF'
import collections, json, sys
log, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
win, before = collections.Counter(), collections.Counter()
for l in open(log):
    r = json.loads(l)
    verb = r["method"] + (" watch" if r["query"].get("watch") in ("1", "true") else "")
    (win if t0 <= r["t"] <= t1 else before if r["t"] < t0 else collections.Counter())[verb] += 1
    if t0 <= r["t"] <= t1:
        print("in window:", r["method"], r["path"], file=sys.stderr)
writes = sum(n for v, n in win.items() if v.split()[0] in ("POST", "PUT", "PATCH", "DELETE"))
fmt = lambda c: ", ".join(f"{v} {n}" for v, n in sorted(c.items())) or "none"
print(writes)
print(fmt(win))
print(fmt(before))
EOF
writes=$(sed -n 1p "$LOG/requests.summary")
window_reqs=$(sed -n 2p "$LOG/requests.summary")
start_reqs=$(sed -n 3p "$LOG/requests.summary")

tck=$(getconf CLK_TCK)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')
cpu_pct=$(awk -v c="$cpu_s" -v s="$secs" 'BEGIN { printf "%.2f", 100 * c / s }')
ccpu_s=$(awk -v a="$ccpu0" -v b="$ccpu1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')
wakeups=$(awk -v a="$ctx0" -v b="$ctx1" -v s="$secs" 'BEGIN { printf "%.1f", (b - a) / s }')
passes=$(($(metric plumber_agent_reconcile_duration_seconds_count "$m1") - $(metric plumber_agent_reconcile_duration_seconds_count "$m0")))
pass_s=$(awk -v a="$(metric plumber_agent_reconcile_duration_seconds_sum "$m0")" \
    -v b="$(metric plumber_agent_reconcile_duration_seconds_sum "$m1")" 'BEGIN { printf "%.3f", b - a }')
swrites=$(($(metric plumber_agent_status_writes_total "$m1") - $(metric plumber_agent_status_writes_total "$m0")))
read -r rss_min rss_med rss_max < <(sort -n "$LOG/rss" | awk '{ r[NR] = $1 } END { print r[1], r[int((NR + 1) / 2)], r[NR] }')
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

echo
echo "| plumber agent, $links links, 10 templates, idle $secs s | value |"
echo "|---|---|"
echo "| RSS in the window (VmRSS each second): median / min / max | **$(mb "$rss_med")** / $(mb "$rss_min") / $(mb "$rss_max") |"
echo "| peak RSS of the start (VmHWM when converged) / at the end | $(mb "$hwm_start") / $(mb "$hwm_end") |"
echo "| RSS at the end: anon / file | $(awk '/^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } END { printf "%.1f MB / %.1f MB", a / 1024, f / 1024 }' "$LOG/status.end") |"
echo "| threads | $(cat "$LOG/threads") |"
echo "| CPU in the window (utime+stime) | **$cpu_s s** ($cpu_pct % of one core); children $ccpu_s s |"
echo "| context switches (wakeups) per second | $wakeups |"
echo "| reconcile passes in the window (/metrics), their total duration | $passes, $pass_s s |"
echo "| API requests in the window | $window_reqs |"
echo "| API writes in the window (POST/PUT/PATCH/DELETE) | **$writes** (status writes per /metrics: $swrites) |"
echo "| API requests before the window (start) | $start_reqs |"
echo
echo "RSS samples (kB): $(tr '\n' ' ' <"$LOG/rss")"
echo "smaps_rollup: $(grep -E '^(Rss|Pss|Anonymous|Private_Dirty|Shared_Clean|Private_Clean):' "$LOG/smaps_rollup" | awk '{ printf "%s %s kB; ", $1, $2 }')"
verdict="goal ≤ 15 MB RSS: $([ "$rss_max" -le "$GOAL_KB" ] && echo met || echo MISSED) (max $(mb "$rss_max")); 0 API writes idle: $([ "$writes" = 0 ] && echo met || echo FAILED) ($writes)"
echo "$verdict"
if [ "$writes" != 0 ]; then
    echo "bench: FAILED: the agent wrote to the API server $writes times while nothing changed" >&2
    exit 1
fi
