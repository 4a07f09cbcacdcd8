# Case 1: the applier on a real kernel (busybox guest). The Rust test asserts on /mnt/out.
. /mnt/guest/lib.sh
dummies eth1 eth2 eth3 eth4 eth5 eth6 eth7
nsim_pf 1 pf0 0000:00:1f.0
res totalvfs "$(cat /sys/bus/netdevsim/devices/netdevsim1/sriov_totalvfs)"
usleep 100000
show show0
apply dry1 /mnt/case1/a --dry-run
# a: VLANs, bonds, MTUs, addresses, routes, 0 -> 4 VFs with per-VF settings.
apply apply1 /mnt/case1/a
show show1
dump s1
# Again: nothing to do, nothing changes.
apply apply2 /mnt/case1/a
show show2
# b: 4 -> 2 VFs (through 0), per-VF changes, MTUs lowered (the VLAN below its parent), address and route.
apply apply3 /mnt/case1/b
# The host's own policy route to 10.250.0.0/16 (type unreachable, no device): c's route to the same
# prefix passes every offline check, and the kernel refuses it at apply (EEXIST, "File exists").
ip route add unreachable 10.250.0.0/16
show show3
dump s3
# c: b plus changes of every kind, then the route the kernel refuses: rolled back, exit 3.
apply apply4 /mnt/case1/c
show show4
dump s4
res done 1
