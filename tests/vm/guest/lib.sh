# Sourced by every case script in the busybox guest (/mnt is the payload share, /mnt/out the results).
# Results: /mnt/out/result.txt holds key=value lines; each `step` also leaves NAME.out / NAME.err.
# The binaries run from tmpfs: executing them off the 9p share (cache=none) pages them in slowly.
mkdir -p /tmp/bin && cp /mnt/bin/* /tmp/bin/
export PATH=/tmp/bin:/usr/local/bin:$PATH
OUT=/mnt/out
SYSFS=/tmp/sysfs
mkdir -p "$OUT" "$SYSFS/class/net"
: >"$OUT/result.txt"
# iproute2 (from the payload's sysroot): busybox's sh runs its own applets before PATH, so by path.
ip() { /usr/local/bin/ip "$@"; }
res() { echo "$1=$2" >>"$OUT/result.txt"; }
# step NAME CMD...: runs CMD, keeps its stdout/stderr in NAME.out/NAME.err and its exit code as NAME.rc.
step() {
    name=$1
    shift
    t0=$(date +%s)
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    rc=$?
    res "$name.rc" "$rc"
    echo "== $name: rc=$rc ($(($(date +%s) - t0)) s): $*"
    head -c 4000 "$OUT/$name.err"
    return 0
}
# show NAME: `plumber show -o json` against the SR-IOV shim, into NAME.json.
show() { step "$1" plumber show -o json --sysfs "$SYSFS" --node-name vm; cp "$OUT/$1.out" "$OUT/$1.json"; }
# apply NAME DIR [ARGS]: `plumber apply` of the templates in DIR on the running kernel.
apply() {
    name=$1
    dir=$2
    shift 2
    step "$name" plumber apply -f "$dir" --runtime-only --root /tmp/root --distro debian \
        --sysfs "$SYSFS" --node-name vm "$@"
}

# nsim_pf ID NAME PCI: a netdevsim device with one port (its netdev renamed NAME) and, under $SYSFS, the
# PCI-looking view plumber discovers SR-IOV through: class/net/NAME/device -> bus/pci/devices/PCI, whose
# sriov_numvfs and sriov_totalvfs are the kernel's own netdevsim attributes (symlinks: reads and writes
# go to the driver). netdevsim VFs are not PCI functions, so no virtfnN links exist in the kernel; a
# background loop keeps PCI's virtfnN links in the view equal to the driver's VF count (within 20 ms).
nsim_pf() {
    id=$1 name=$2 pci=$3
    echo "$id 1" >/sys/bus/netdevsim/new_device || return 1
    dev=/sys/bus/netdevsim/devices/netdevsim$id
    i=0
    while [ -z "$(ls "$dev/net" 2>/dev/null)" ] && [ $i -lt 100 ]; do usleep 20000; i=$((i + 1)); done
    ifname=$(ls "$dev/net")
    ip link set "$ifname" name "$name" || return 1
    mkdir -p "$SYSFS/class/net/$name" "$SYSFS/bus/pci/devices/$pci"
    for a in address mtu ifindex operstate; do ln -s "/sys/class/net/$name/$a" "$SYSFS/class/net/$name/$a"; done
    ln -s "../../../bus/pci/devices/$pci" "$SYSFS/class/net/$name/device"
    for a in sriov_numvfs sriov_totalvfs; do ln -s "$dev/$a" "$SYSFS/bus/pci/devices/$pci/$a"; done
    ln -s /sys/bus/netdevsim/drivers/netdevsim "$SYSFS/bus/pci/devices/$pci/driver"
    vfbus=$(printf '%02x' $((0x80 + id)))
    (
        have=0
        while :; do
            want=$(cat "$dev/sriov_numvfs" 2>/dev/null || echo 0)
            if [ "$want" != "$have" ]; then
                rm -f "$SYSFS/bus/pci/devices/$pci"/virtfn*
                rm -rf "$SYSFS/bus/pci/devices/0000:$vfbus:"*
                v=0
                while [ $v -lt "$want" ]; do
                    vf=$(printf '0000:%s:%02x.%d' "$vfbus" $((v / 8)) $((v % 8)))
                    mkdir -p "$SYSFS/bus/pci/devices/$vf"
                    ln -s "../$pci" "$SYSFS/bus/pci/devices/$vf/physfn"
                    ln -s "../$vf" "$SYSFS/bus/pci/devices/$pci/virtfn$v"
                    v=$((v + 1))
                done
                have=$want
            fi
            usleep 20000
        done
    ) &
}

# dummies NAME...: dummy NICs, down, as bond members and VLAN parents.
dummies() { for n in "$@"; do ip link add "$n" type dummy || return 1; done; }

# dump NAME: the kernel's own view (iproute2), for the log and for assertions made without plumber.
dump() {
    {
        echo "### ip -d link"; ip -d link show
        echo "### ip addr"; ip addr show
        echo "### ip route (all tables)"; ip route show table all
        echo "### ip -6 route"; ip -6 route show table all
    } >"$OUT/$1.ip.txt" 2>&1
    ip -j -d link show >"$OUT/$1.link.json" 2>/dev/null
    ip -j addr show >"$OUT/$1.addr.json" 2>/dev/null
    ip -j route show table all >"$OUT/$1.route4.json" 2>/dev/null
}

# ovs_start: ovsdb-server and ovs-vswitchd (kernel datapath: the openvswitch module is loaded by /init).
ovs_start() {
    mkdir -p /etc/openvswitch /var/run/openvswitch /var/log/openvswitch
    ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema || return 1
    ovsdb-server /etc/openvswitch/conf.db --remote=punix:/var/run/openvswitch/db.sock \
        --pidfile=/var/run/openvswitch/ovsdb-server.pid --detach --no-chdir \
        --log-file=/var/log/openvswitch/ovsdb-server.log || return 1
    ovs-vsctl --no-wait init || return 1
    ovs-vswitchd unix:/var/run/openvswitch/db.sock --pidfile=/var/run/openvswitch/ovs-vswitchd.pid \
        --detach --no-chdir --log-file=/var/log/openvswitch/ovs-vswitchd.log || return 1
}

# now_ms: milliseconds since boot.
now_ms() { read -r up _ </proc/uptime; echo $(( ${up%.*} * 1000 + 10#${up#*.} * 10 )); }
