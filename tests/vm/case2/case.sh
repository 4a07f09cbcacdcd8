# Case 2 (the systemd guest, /mnt is the payload share): nothing of plumber runs here. The boot applied
# the files plumber-render wrote into the root disk (netplan or networkd, the SR-IOV udev rule, the OVS
# unit); this waits until the state settles (at most 30 s) and records the kernel's and OVS's view.
OUT=/mnt/out
: >"$OUT/result.txt"
res() { echo "$1=$2" >>"$OUT/result.txt"; }
res flavour "$(cat /mnt/flavour)"
res case_start_s "$(cut -d' ' -f1 /proc/uptime)"
nsim=/sys/bus/netdevsim/devices/netdevsim1
# settled: the VFs exist, the OVS port is in, eth6's VLAN exists, every link networkd manages is
# configured (or failed).
settled() {
    [ "$(cat $nsim/sriov_numvfs 2>/dev/null)" = 4 ] || return 1
    ovs-vsctl --timeout=5 list-ports ovs-br01 2>/dev/null | grep -qx pf0.1000 || return 1
    [ -e /sys/class/net/eth6.600 ] || return 1
    ! networkctl list --no-legend --no-pager 2>/dev/null | grep -qE 'configuring|pending|initialized'
}
i=0
while ! settled && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
res settled "$(settled && echo 1 || echo 0)"
res settled_s "$(cut -d' ' -f1 /proc/uptime)"
ip -j -d link show >"$OUT/link.json"
ip -j addr show >"$OUT/addr.json"
ip -j -4 route show table all >"$OUT/route4.json"
ip -j -6 route show table all >"$OUT/route6.json"
{
    echo "### ip -d link"; ip -d link show
    echo "### ip addr"; ip addr show
    echo "### ip route (all tables)"; ip route show table all
    echo "### ip -6 route"; ip -6 route show table all
} >"$OUT/ip.txt" 2>&1
res numvfs "$(cat $nsim/sriov_numvfs)"
res totalvfs "$(cat $nsim/sriov_totalvfs)"
ovs-vsctl --timeout=5 show >"$OUT/ovs-show.txt" 2>&1
res ovs.br01.ports "$(ovs-vsctl --timeout=5 list-ports ovs-br01 | tr '\n' ' ')"
res ovs.br01.datapath "$(ovs-vsctl --timeout=5 get Bridge ovs-br01 datapath_type)"
res ovs.bridges "$(ovs-vsctl --timeout=5 list-br | tr '\n' ' ')"
ovs-dpctl show >"$OUT/dpctl.txt" 2>&1
networkctl list --no-pager >"$OUT/networkctl.txt" 2>&1
ls -l /run/systemd/network /etc/systemd/network >"$OUT/networkd-files.txt" 2>&1
systemctl is-active plumber-ovs.service >"$OUT/plumber-ovs.state" 2>&1
res plumber_ovs "$(systemctl is-active plumber-ovs.service)"
systemctl --failed --no-legend --no-pager >"$OUT/failed-units.txt" 2>&1
# The PF's udev view: its parents' SUBSYSTEMS (netdevsim, not pci) and the properties udev set.
udevadm info -a /sys/class/net/pf0 >"$OUT/udev-pf0-attrs.txt" 2>&1
udevadm info /sys/class/net/pf0 >"$OUT/udev-pf0.txt" 2>&1
journalctl -b --no-pager -o short-monotonic >"$OUT/journal.txt" 2>&1
journalctl -b --no-pager -o cat -t plumber-sriov >"$OUT/plumber-sriov.log" 2>&1
journalctl -b --no-pager -o cat -t plumber-link >"$OUT/plumber-link.log" 2>&1
res done 1
