# Case 4: the seed README's comprehensive example (examples/comprehensive.yaml, eno2 renamed pf0: the
# netdevsim PF) end to end with `plumber apply` in the busybox guest. The Rust test writes two templates:
#   /mnt/case4/as-is     the example with only the interface renamed (vfDriver: i40evf)
#   /mnt/case4/no-driver the same without its vfDriver line (netdevsim VFs are not PCI functions: no
#                        driver can bind to them)
. /mnt/guest/lib.sh
labels=feature.node.kubernetes.io/network-sriov.capable=true,foo=bar
nsim_pf 1 pf0 0000:00:1f.0
res totalvfs "$(cat /sys/bus/netdevsim/devices/netdevsim1/sriov_totalvfs)"
step ovs_start ovs_start
usleep 100000
show show0
dump s0
# The example as it is: the plan, then the apply (the VF driver cannot bind on netdevsim).
apply dry1 /mnt/case4/as-is --dry-run --node-labels "$labels"
apply apply1 /mnt/case4/as-is --node-labels "$labels"
show show1
dump s1
step ports1 ovs-vsctl list-br
# Without vfDriver: everything else of the example.
apply apply2 /mnt/case4/no-driver --node-labels "$labels"
show show2
dump s2
res numvfs "$(cat /sys/bus/netdevsim/devices/netdevsim1/sriov_numvfs)"
step ports2 sh -c 'for b in $(ovs-vsctl list-br); do echo "$b: $(ovs-vsctl list-ports $b | tr "\n" " ")"; done'
step dptype ovs-vsctl get Bridge ovs-br01 datapath_type
step dp2 ovs-dpctl show
# Again: nothing to do.
apply apply3 /mnt/case4/no-driver --node-labels "$labels"
show show3
# A node the nodeSelector does not select: plumber takes back what it made.
apply apply4 /mnt/case4/no-driver --node-labels foo=baz --prune
res done 1
