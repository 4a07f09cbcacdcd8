#!/usr/bin/env bash
# Fleet load on the API server (issue 14): N `plumber agent`s (one per simulated node, each in its own
# network namespace) and `plumber rollup` against one real kube-apiserver v1.26 + etcd, with deploy/'s
# RBAC; requests per agent from the API server's audit log, CPU and memory of the API server, etcd,
# the rollup and the agents from /proc. Phases: start (no template), a rollout selecting all N nodes,
# the same template changed with maxUnavailable, then IDLE seconds of nothing (agents resyncing every
# 60 s, their default). Prints a markdown table (tests/cluster/fleet/). Dev profile (the test harness's
# binaries; the API server's and etcd's numbers do not depend on it).
#   usage: sudo bench/cluster.sh [N=20] [IDLE=300] [MAX_UNAVAILABLE=25%]
# Needs what the cluster tests need (./ci-test.sh installs etcd-server and openssl; the kube-apiserver
# of ../shared/k8s or PLUMBER_KUBE_ASSETS). Takes IDLE + about 0.5 min at N=20 (5.5 min in all with
# IDLE=300), + 1.5 min at N=100, + 3 min at N=200 (its maxUnavailable rollout saturates 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/cluster.sh: needs root (network namespaces)" >&2; exit 1; }
N=${1:-20}
IDLE=${2:-300}
MU=${3:-25%}
# Each node's relay uses 2 threads per connection (3 connections per agent), the agents 3 each.
ulimit -n 65536 2>/dev/null || true
echo "bench/cluster.sh: $N agents, idle $IDLE s, maxUnavailable $MU; $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
PLUMBER_FLEET_NODES=$N PLUMBER_FLEET_IDLE_SECS=$IDLE PLUMBER_FLEET_MAX_UNAVAILABLE=$MU \
    cargo test -q -p plumber --test cluster fleet::fleet_load -- --ignored --nocapture --exact
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
