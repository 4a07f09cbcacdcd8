# Case 5 (the systemd guest with NetworkManager, /mnt is the payload share): nothing of plumber runs here.
# The boot applied the keyfiles plumber-render wrote for rhel9 and the host's own profile of pf0; this
# waits until NetworkManager has activated them (at most 30 s) and records the kernel's and
# NetworkManager's view.
OUT=/mnt/out
: >"$OUT/result.txt"
res() { echo "$1=$2" >>"$OUT/result.txt"; }
res case_start_s "$(cut -d' ' -f1 /proc/uptime)"
res networkd "$(systemctl is-active systemd-networkd.service)"
res nm "$(systemctl is-active NetworkManager.service)"
# settled: every profile that applies is active (no activation still in progress).
active() { nmcli -t -f NAME connection show --active 2>/dev/null | sort | tr '\n' ' '; }
settled() {
    a=$(active)
    for c in host-pf0 plumber-pf0.1000 plumber-pf0.1001 plumber-br0; do
        case " $a" in *" $c "*) ;; *) return 1 ;; esac
    done
    ! nmcli -t -f STATE connection show --active 2>/dev/null | grep -q activating
}
i=0
while ! settled && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
res settled "$(settled && echo 1 || echo 0)"
res settled_s "$(cut -d' ' -f1 /proc/uptime)"
res active "$(active)"
nmcli -t -f NAME,DEVICE,TYPE,STATE connection show >"$OUT/connections.txt" 2>&1
nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device >"$OUT/devices.txt" 2>&1
ip -j -d link show >"$OUT/link.json"
ip -j addr show >"$OUT/addr.json"
ip -j -4 route show table all >"$OUT/route4.json"
ip -d link show >"$OUT/ip.txt" 2>&1
ip addr show >>"$OUT/ip.txt" 2>&1
ip route show table all >>"$OUT/ip.txt" 2>&1
journalctl -b --no-pager -o short-monotonic >"$OUT/journal.txt" 2>&1
journalctl -b --no-pager -o cat -t plumber-link >"$OUT/plumber-link.log" 2>&1
res done 1
