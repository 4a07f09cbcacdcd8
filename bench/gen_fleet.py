#!/usr/bin/env python3
"""Generate the fleet benchmark input: N nodes, each with 4 PFs x 64 VFs, 8 VLANs, 2 OVS bridges and
4 addresses of its own.

Out: DIR/templates/fleet.yaml (one fleet-wide template + one per node for its addresses),
     DIR/nodes.yaml (kubectl get nodes -o yaml shape), DIR/inventories/<node>.yaml (HostNetwork).
With a third argument `pools`, each PF's VFs also feed two device plugin pools (0-47 `sriov_data`
shared by the four PFs, 48-63 `fast_<pf>`), so every node also gets /etc/pcidp/config.json.
"""
import os
import sys

n = int(sys.argv[1])
out = sys.argv[2]
pools = len(sys.argv) > 3 and sys.argv[3] == "pools"
os.makedirs(os.path.join(out, "templates"), exist_ok=True)
os.makedirs(os.path.join(out, "inventories"), exist_ok=True)

pfs = ["ens1f0", "ens1f1", "ens2f0", "ens2f1"]
t = []
t.append("""apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata:
  name: fleet-sriov-vlans-ovs
spec:
  nodeSelector:
    node-role.kubernetes.io/worker: ""
  sriovConfig:
""")
for pf in pfs:
    if pools:
        t.append(f"""    - pfName: {pf}
      numVfs: 64
      vfDriver: vfio-pci
      mtu: 9000
      resourceName: sriov_data
      vfs:
        - id: 0-47
          trust: true
          spoofchk: false
        - id: 48-63
          trust: true
          spoofchk: false
          resourceName: fast_{pf}
""")
        continue
    t.append(f"""    - pfName: {pf}
      numVfs: 64
      vfDriver: vfio-pci
      mtu: 9000
      vfs:
        - id: 0-63
          trust: true
          spoofchk: false
""")
t.append("  interfaceConfig:\n")
for pf in pfs[:2]:
    t.append(f"    - name: {pf}\n      mtu: 9000\n      vlan:\n")
    for v in range(4):
        t.append(f"        - id: {100 + v + (4 if pf.endswith('1') else 0)}\n")
t.append("""  ovsConfig:
    - bridgeName: br-ex
      nodeInterface: ens2f0,ens2f1
      params:
        mtuRequest: 9000
        bondMode: balance-tcp
        lacp: active
    - bridgeName: br-int
""")
docs = ["".join(t)]
for i in range(n):
    a, b = (i >> 8) & 255, i & 255
    docs.append(f"""apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata:
  name: addresses-node-{i}
spec:
  nodeSelector:
    kubernetes.io/hostname: node-{i}
  interfaceConfig:
    - name: ens1f0.100
      ipv4:
        address: [10.{a}.{b}.10/16, 10.{a}.{b}.11/16]
      ipv6:
        address: [fd00:{i:x}::10/64, fd00:{i:x}::11/64]
""")
with open(os.path.join(out, "templates", "fleet.yaml"), "w") as f:
    f.write("---\n".join(docs))

with open(os.path.join(out, "nodes.yaml"), "w") as f:
    f.write("apiVersion: v1\nkind: List\nitems:\n")
    for i in range(n):
        f.write(f"""  - apiVersion: v1
    kind: Node
    metadata:
      name: node-{i}
      labels:
        kubernetes.io/hostname: node-{i}
        node-role.kubernetes.io/worker: ""
""")

for i in range(n):
    with open(os.path.join(out, "inventories", f"node-{i}.yaml"), "w") as f:
        f.write(f"apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata:\n  name: node-{i}\nstatus:\n  interfaceStatus:\n")
        for k, pf in enumerate(pfs):
            f.write(f"""    - pfName: {pf}
      pciAddr: "0000:{0x3b + k:02x}:00.{k % 2}"
      vendorId: "8086"
      deviceId: "158b"
      sriovEnabled: true
      sriovStatus: {{totalVfs: 64}}
""")
