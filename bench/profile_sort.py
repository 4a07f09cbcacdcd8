#!/usr/bin/env python3
"""Sorts `perf script -F comm,ip,sym,dso` output (samples with call chains, `perf record -g`) into what
the time was spent on, for each command named, in milliseconds of CPU per run.

A sample in the kernel is sorted by its call chain (the kernel's own frames are always there); a sample
in user space by its own symbol and object (Rust's release builds have no frame pointers, so the user
call chain above the leaf is not reliable).

usage: perf script ... | profile_sort.py --freq HZ --runs N [--top K] COMM [COMM ...]
  --top K: under each category, its K leaf symbols with the most samples
"""

import argparse
import collections
import sys

# (category, any of these in a kernel frame's symbol), first match wins, checked from the leaf up.
KERNEL = [
    ("kernel: fsync (state files)", ("do_fsync",)),
    ("kernel: page faults (memory first touched)", ("exc_page_fault",)),
    (
        "kernel: exec, loading, exit",
        ("execve", "do_exit", "exit_mmap", "load_elf_binary", "do_group_exit"),
    ),
    (
        "kernel: carrying out the writes (rtnl: link, address, route)",
        (
            "rtnl_setlink",
            "rtnl_newlink",
            "rtnl_dellink",
            "inet_rtm_newaddr",
            "inet_rtm_deladdr",
            "inet6_rtm_newaddr",
            "inet6_rtm_deladdr",
            "inet_rtm_newroute",
            "inet_rtm_delroute",
            "inet6_rtm_newroute",
            "inet6_rtm_delroute",
        ),
    ),
    (
        "kernel: filling dumps and GETLINKs (discovery, verification)",
        ("netlink_dump", "rtnl_getlink", "rtnl_dump_all", "rtnl_dump_ifinfo"),
    ),
    ("kernel: other netlink (socket, send, receive)", ("netlink_", "__sys_sendto", "__sys_recvfrom", "sock_")),
    ("kernel: other syscalls (files, epoll, ...)", ("do_syscall_64", "x64_sys_call")),
]

# (category, any of these prefixes of a user symbol), first match wins.
USER = [
    ("user: allocator", ("mi_", "_mi_", "__rust_alloc", "__rust_dealloc", "__rust_realloc", "malloc", "free", "cfree")),
    (
        "user: netlink messages (encode, parse, match answers)",
        ("netlink_packet", "netlink_proto", "netlink_sys", "rtnetlink", "<netlink_", "<rtnetlink"),
    ),
    ("user: templates (YAML, merge, render)", ("unsafe_libyaml", "serde_yaml", "plumber_render", "<serde_yaml", "<plumber_render", "minijinja")),
    ("user: JSON (state files, record)", ("serde_json", "<serde_json")),
    ("user: plumber (discover, plan, execute, verify)", ("plumber::", "<plumber::")),
    ("user: tokio, futures", ("tokio", "<tokio", "futures", "<futures", "mio", "<mio")),
]


def kernel_category(chain):
    for frame in chain:
        for name, needles in KERNEL:
            if any(n in frame for n in needles):
                return name
    return "kernel: other"


def user_category(sym, dso):
    if "ld-linux" in dso or sym.startswith("_dl_"):
        return "user: loader (relocations, symbols)"
    for name, prefixes in USER:
        if sym.startswith(prefixes):
            return name
    if "libc" in dso:
        return "user: libc (memcpy, memcmp, ...)"
    return "user: other"


def samples(lines):
    """(comm, [(ip_sym, dso), ...]) per sample: a header line, then its call chain, then a blank line."""
    comm, chain = None, []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None:
                yield comm, chain
            comm, chain = None, []
        elif comm is None:
            comm = line.split()[0]
        else:
            parts = line.split(None, 1)
            rest = parts[1] if len(parts) > 1 else ""
            # "sym+0x1f (dso)"
            if rest.endswith(")") and " (" in rest:
                sym, dso = rest.rsplit(" (", 1)
                dso = dso[:-1]
            else:
                sym, dso = rest, ""
            sym = sym.rsplit("+0x", 1)[0]
            chain.append((sym, dso))
    if comm is not None:
        yield comm, chain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--freq", type=float, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("comms", nargs="+")
    a = ap.parse_args()
    counts = {c: collections.Counter() for c in a.comms}
    leaves = {c: collections.defaultdict(collections.Counter) for c in a.comms}
    for comm, chain in samples(sys.stdin):
        if comm not in counts or not chain:
            continue
        leaf_sym, leaf_dso = chain[0]
        if "kernel" in leaf_dso or leaf_dso.startswith("[k"):
            cat = kernel_category([s for s, _ in chain])
        else:
            cat = user_category(leaf_sym, leaf_dso)
        counts[comm][cat] += 1
        leaves[comm][cat][leaf_sym[:100]] += 1
    ms = 1e3 / a.freq / a.runs
    for comm in a.comms:
        c = counts[comm]
        total = sum(c.values())
        if not total:
            continue
        print(f"\n{comm}: {total * ms:.1f} ms of CPU per run ({total} samples)")
        print(f"| {comm}: where the CPU time goes | ms per run | share |")
        print("|---|---|---|")
        for cat, n in sorted(c.items(), key=lambda kv: -kv[1]):
            print(f"| {cat} | {n * ms:.2f} | {100 * n / total:.1f} % |")
            for sym, k in leaves[comm][cat].most_common(a.top):
                print(f"|   `{sym}` | {k * ms:.2f} | |")


if __name__ == "__main__":
    main()
