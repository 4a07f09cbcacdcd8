# Case 1, OVS: bridges on the kernel datapath (busybox guest, ovsdb-server + ovs-vswitchd from the host's
# openvswitch-switch). First an OVS bond of two NICs plumber does not otherwise manage, then a bridge on a
# VLAN plumber creates. The bond's mtuRequest reaches the members and the bridge's own interface.
. /mnt/guest/lib.sh
dummies eth5 eth6 eth7
step ovs_start ovs_start
apply apply1 /mnt/case1/ovs-bond
apply apply2 /mnt/case1/ovs-bond
step ports1 sh -c 'for b in $(ovs-vsctl list-br); do echo "$b: $(ovs-vsctl list-ports $b | tr "\n" " ")"; done'
step bond1 ovs-appctl bond/show bond-ovs-bond01
step dp1 ovs-dpctl show
step mtu1 cat /sys/class/net/ovs-bond01/mtu /sys/class/net/eth6/mtu /sys/class/net/eth7/mtu
show show1
apply apply3 /mnt/case1/ovs-vlan
apply apply4 /mnt/case1/ovs-vlan
step ports2 sh -c 'for b in $(ovs-vsctl list-br); do echo "$b: $(ovs-vsctl list-ports $b | tr "\n" " ")"; done'
step dp2 ovs-dpctl show
show show2
res done 1
