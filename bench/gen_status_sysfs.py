#!/usr/bin/env python3
"""A sysfs tree for bench/status_size.sh: PFs eno2 and eno3 (Intel X710, i40e), each with 128 VFs on iavf
with a network interface (eno2v0 ... eno3v127), as `plumber show --sysfs` reads it.

usage: gen_status_sysfs.py ROOT
"""
import os
import sys

root = sys.argv[1]
BRIDGE = "devices/pci0000:00/0000:00:03.0"


def put(p, s):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(s)


def ln(target, p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    os.symlink(target, p)


for d in ["i40e", "iavf"]:
    os.makedirs(f"{root}/bus/pci/drivers/{d}", exist_ok=True)


def dev(pci, device, driver):
    d = f"{root}/{BRIDGE}/{pci}"
    put(f"{d}/vendor", "0x8086\n")
    put(f"{d}/device", f"0x{device}\n")
    put(f"{d}/class", "0x020000\n")
    put(f"{d}/driver_override", "(null)\n")
    ln("../../../bus/pci", f"{d}/subsystem")
    ln(f"../../../bus/pci/drivers/{driver}", f"{d}/driver")
    ln(f"../../../{BRIDGE}/{pci}", f"{root}/bus/pci/devices/{pci}")
    return d


def net(d, name, mac):
    put(f"{d}/net/{name}/address", mac + "\n")
    put(f"{d}/net/{name}/mtu", "1500\n")
    ln(f"../../../{os.path.basename(d)}", f"{d}/net/{name}/device")
    ln(os.path.relpath(f"{d}/net/{name}", f"{root}/class/net"), f"{root}/class/net/{name}")


for f, name in enumerate(["eno2", "eno3"]):
    pci = f"0000:af:00.{f}"
    d = dev(pci, "1572", "i40e")
    net(d, name, f"b4:96:91:00:00:0{f}")
    put(f"{d}/sriov_totalvfs", "128\n")
    put(f"{d}/sriov_numvfs", "128\n")
    for k in range(128):
        vf = f"0000:b{f}:{2 + k // 8:02x}.{k % 8}"
        vd = dev(vf, "154c", "iavf")
        ln(f"../{vf}", f"{d}/virtfn{k}")
        ln(f"../{pci}", f"{vd}/physfn")
        net(vd, f"{name}v{k}", f"02:00:00:0{f}:{k // 256:02x}:{k % 256:02x}")
