# Case 3: drift. `plumber apply --watch` keeps the node; a managed VLAN and an address are deleted by
# hand and must be back within 1 s. Records drift.vlan_ms and drift.addr_ms (-1: not back in 10 s).
. /mnt/guest/lib.sh
dummies eth1
apply apply1 /mnt/case3/t
plumber apply -f /mnt/case3/t --runtime-only --root /tmp/root --distro debian --sysfs "$SYSFS" \
    --node-name vm --watch --debounce-ms 50 --resync-secs 600 >"$OUT/watch.out" 2>"$OUT/watch.err" &
watch_pid=$!
sleep 3
# wait_for NAME CMD...: polls CMD every 10 ms for up to 10 s; records the ms until it held.
wait_for() {
    name=$1
    shift
    t0=$(now_ms)
    while :; do
        if "$@" >/dev/null 2>&1; then res "$name" $(($(now_ms) - t0)); return 0; fi
        [ $(($(now_ms) - t0)) -gt 10000 ] && { res "$name" -1; return 1; }
        usleep 10000
    done
}
ip link del eth1.100
wait_for drift.vlan_ms sh -c 'ip -o addr show dev eth1.100 | grep -q "10.5.0.5/24"'
sleep 1
ip addr del 10.6.0.5/24 dev eth1
wait_for drift.addr_ms sh -c 'ip -o addr show dev eth1 | grep -q "10.6.0.5/24"'
sleep 1
res watch.alive "$(kill -0 $watch_pid 2>/dev/null && echo 1 || echo 0)"
kill $watch_pid
show show1
res done 1
