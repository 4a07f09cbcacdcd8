#!/usr/bin/env python3
"""Inputs for bench/apply.sh: the template and the `ip -batch` files.

usage: gen_apply.py PAIRS OUTDIR

Writes into OUTDIR:
  create.batch   PAIRS veth pairs vN <-> pN, pN up (setup, not timed)
  apply.yaml     one HostNetworkTemplate with PAIRS interfaceConfig entries: vN gets MTU 9000,
                 10.A.B.1/24 and 10.A.B.2/24 (its own /24), and a route 100.C.B.0/24 via 10.A.B.254
  apply.batch    the same changes as `ip` commands (the peer of `plumber apply`)
  small.yaml     the template with only v0's entry (no-op with a small template)
  show.batch     the `show` namespace: 500 veth pairs (1000 links, all up), 2 addresses on each end
                 (2000), 10 routes on each vN end (5000)
"""
import os
import sys


def subnet(i):
    """The /24 of pair i: 10.A.B.0 (A from 1, so nothing collides with 10.0.0.0/24 conventions)."""
    return f"10.{1 + i // 256}.{i % 256}"


def main():
    pairs = int(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)

    with open(os.path.join(out, "create.batch"), "w") as f:
        for i in range(pairs):
            f.write(f"link add v{i} type veth peer name p{i}\n")
        for i in range(pairs):
            f.write(f"link set p{i} up\n")

    head = (
        "apiVersion: plumber.k8s.pf9.io/v1\n"
        "kind: HostNetworkTemplate\n"
        "metadata: {name: bench, generation: 1}\n"
        "spec:\n"
        "  interfaceConfig:\n"
    )

    def entry(i):
        s = subnet(i)
        dst = f"100.{64 + i // 256}.{i % 256}.0/24"
        return (
            f"    - name: v{i}\n"
            f"      mtu: 9000\n"
            f"      ipv4:\n"
            f"        address: [{s}.1/24, {s}.2/24]\n"
            f"        routes:\n"
            f"          - {{to: {dst}, via: {s}.254}}\n"
        )

    with open(os.path.join(out, "apply.yaml"), "w") as f:
        f.write(head)
        for i in range(pairs):
            f.write(entry(i))
    with open(os.path.join(out, "small.yaml"), "w") as f:
        f.write(head)
        f.write(entry(0))

    # The same changes, one ip command per netlink write plumber has to make.
    with open(os.path.join(out, "apply.batch"), "w") as f:
        for i in range(pairs):
            s = subnet(i)
            dst = f"100.{64 + i // 256}.{i % 256}.0/24"
            f.write(f"link set v{i} mtu 9000 up\n")
            f.write(f"addr add {s}.1/24 dev v{i}\n")
            f.write(f"addr add {s}.2/24 dev v{i}\n")
            f.write(f"route add {dst} via {s}.254 dev v{i} proto static\n")

    # show: 1000 links, 2000 addresses, 5000 routes.
    show_pairs = 500
    with open(os.path.join(out, "show.batch"), "w") as f:
        for i in range(show_pairs):
            f.write(f"link add v{i} type veth peer name p{i}\n")
        for i in range(show_pairs):
            s = subnet(i)
            f.write(f"link set v{i} up\n")
            f.write(f"link set p{i} up\n")
            f.write(f"addr add {s}.1/25 dev v{i}\n")
            f.write(f"addr add {s}.2/25 dev v{i}\n")
            f.write(f"addr add {s}.129/25 dev p{i}\n")
            f.write(f"addr add {s}.130/25 dev p{i}\n")
            for k in range(10):
                f.write(f"route add 100.{64 + k}.{i % 256}.{(i // 256) * 128}/25 "
                        f"via {s}.126 dev v{i} proto static\n")


if __name__ == "__main__":
    main()
