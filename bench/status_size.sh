#!/bin/sh
# The size of a node's HostNetwork status (issue 17, goal 4: under 256 KiB for a node with 1,500 VLANs
# and 256 VFs). `plumber show` discovers a network namespace and a fake sysfs made for it:
#   - sysfs: PFs eno2 and eno3, each with 128 VFs on iavf (bench/gen_status_sysfs.py);
#   - netlink: eno2, eno3 and the 256 VF interfaces (down), and 1,500 links named like VLANs
#     (eno2.1000 ... eno2.1749, eno3.1000 ... eno3.1749), up, each with its IPv6 link-local address and
#     fe80::/64 route as an up VLAN has them (the status leaves both out: only the NICs' link-local
#     addresses are in it, in interfaceStatus). This kernel has no 8021q, so they are veth pairs; the two
#     fields a VLAN has and a veth does not (`parent`, `vlanId`) are added to the measured JSON for
#     the "as VLANs" row, exactly as plumber serializes them.
# Prints the sizes of the status as the agent sends it (compact JSON) and as `kubectl get -o yaml`
# prints it (YAML), and the count of each part.
#   usage: sudo bench/status_size.sh
set -eu
cd "$(dirname "$0")/.."
cargo build -q -p plumber
BIN=$PWD/target/debug/plumber
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 bench/gen_status_sysfs.py "$W/sys"
{
    echo "link add eno2 type bridge"
    echo "link add eno3 type bridge"
    for p in eno2 eno3; do
        k=0
        while [ "$k" -lt 128 ]; do echo "link add ${p}v$k type bridge"; k=$((k + 1)); done
    done
    i=1000
    while [ "$i" -lt 1750 ]; do
        echo "link add eno2.$i type veth peer name eno3.$i"
        echo "link set eno2.$i up"
        echo "link set eno3.$i up"
        i=$((i + 1))
    done
} >"$W/links.batch"
# shellcheck disable=SC2016
unshare --net sh -c '
    set -eu
    # Link-local addresses without duplicate address detection, so they are there as soon as the
    # links are up; then wait for the kernel to have all 1,500 (its own state, no fixed sleep).
    sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -batch "$1/links.batch"
    n=0
    while [ "$(ip -6 -o addr show scope link | grep -c "inet6 fe80")" -lt 1500 ]; do
        n=$((n + 1)); [ "$n" -lt 600 ] || { echo "link-local addresses did not come" >&2; exit 1; }
        ip -6 monitor address >/dev/null 2>&1 & m=$!; sleep 0.1; kill $m 2>/dev/null || :
    done
    "$2" show --sysfs "$1/sys" --node-name node-1 --root "$1" -o json >"$1/hn.json"
' sh "$W" "$BIN"
python3 - "$W/hn.json" <<'PY'
import json, sys
hn = json.load(open(sys.argv[1]))
s = hn["status"]
compact = lambda v: len(json.dumps(v, separators=(",", ":")))
vfs = sum(len((n.get("sriovStatus") or {}).get("vfs") or []) for n in s.get("interfaceStatus", []))
routes6 = len((s.get("routes") or {}).get("ipv6") or [])
print(f"links {len(s.get('links', []))}, NICs {len(s.get('interfaceStatus', []))}, VFs {vfs}, IPv6 routes {routes6}")
as_measured = compact(hn)
for l in s.get("links", []):
    name = l["name"]
    if "." in name:
        parent, vid = name.split(".")
        l["parent"], l["vlanId"] = parent, int(vid)
as_vlans = compact(hn)
try:
    import yaml
    y = len(yaml.safe_dump(hn, default_flow_style=False))
except ImportError:
    y = None
print(f"status as measured (veth): {as_measured} bytes compact JSON ({as_measured / 1024:.1f} KiB)")
print(f"status as VLANs:           {as_vlans} bytes compact JSON ({as_vlans / 1024:.1f} KiB)"
      + (f", {y} bytes YAML ({y / 1024:.1f} KiB)" if y else ""))
parts = {k: compact(v) for k, v in s.items()}
one = [l for l in s["links"] if "." in l["name"]][0]
print("a VLAN link: " + json.dumps(one, separators=(",", ":")))
if routes6:
    print("a route: " + json.dumps(s["routes"]["ipv6"][0], separators=(",", ":")))
print("by part (compact JSON, as VLANs): " + ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])))
PY
