#!/usr/bin/env python3
"""The scaling plot (issue 6): how each tool's cost grows with the fleet and with the links applied.

usage: plot.py OUT.svg RESULTS...     each RESULTS a `bench/peers.sh` results file (PEERS_RESULTS=…)
named NODES-SAMPLE-PAIRS.txt, as bench/peers/scaling.sh writes them. Lines "NAME median_ms min_ms".
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    r = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 2:
            r[f[0]] = float(f[1])
    return r


def main():
    out = sys.argv[1]
    runs = []
    for p in sys.argv[2:]:
        nodes, sample, pairs = (int(x) for x in os.path.basename(p)[:-4].split("-"))
        runs.append((nodes, sample, pairs, load(p)))
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8))

    fleet = {}  # series -> {nodes: seconds}
    for nodes, sample, pairs, r in runs:
        for key, name, n in [
            ("pl-full", "plumber-render rhel9, whole node", sample),
            ("pl-full-N", "plumber-render rhel9, whole node", nodes),
            ("nm-gc-full", "nmstatectl gc, whole node (process per node)", sample),
            ("pl-rhel8", "plumber-render rhel8 (ifcfg), common part", sample),
            ("pl-rhel8-N", "plumber-render rhel8 (ifcfg), common part", nodes),
            ("ci-sysconfig", "cloud-init sysconfig (ifcfg), common part", sample),
            ("ci-netplan", "cloud-init netplan, common part", sample),
            ("pl-networkd", "plumber-render debian (networkd), common part", sample),
            ("pl-networkd-N", "plumber-render debian (networkd), common part", nodes),
            ("np-gen", "netplan generate, common part (process per node)", sample),
        ]:
            if key in r:
                fleet.setdefault(name, {})[n] = r[key] / 1e3
    for name, pts in fleet.items():
        xs = sorted(pts)
        a.plot(xs, [pts[x] for x in xs], "o-", label=name)
    a.axhline(1.0, color="grey", ls=":", lw=1)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("nodes rendered (tmpfs)")
    a.set_ylabel("seconds (median)")
    a.set_title("fleet render")
    a.legend(fontsize=7)

    apply = {}
    for nodes, sample, pairs, r in runs:
        for key, name in [
            ("apply-nomtu", "plumber apply --runtime-only"),
            ("ip-apply-nomtu", "ip -batch"),
            ("nm-apply-nomtu", "nmstatectl apply --kernel"),
            ("noop", "plumber no-op re-apply"),
            ("nm-noop", "nmstatectl no-op re-apply"),
        ]:
            if key in r:
                apply.setdefault(name, {})[pairs] = r[key]
    for name, pts in apply.items():
        xs = sorted(pts)
        b.plot(xs, [pts[x] for x in xs], "o-", label=name)
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("veth pairs in a fresh namespace (2 addresses + 1 route each, no MTU)")
    b.set_ylabel("milliseconds (median)")
    b.set_title("apply")
    b.legend(fontsize=7)
    fig.suptitle("bench/peers/scaling.sh: medians; " + os.environ.get("PLOT_NOTE", ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    main()
