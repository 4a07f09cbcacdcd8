//! What a process costs, from /proc: CPU time (utime + stime of `/proc/PID/stat`), resident memory now
//! and at its peak (`VmRSS`, `VmHWM` of `/proc/PID/status`).

use std::time::Duration;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU time used so far, user and system.
    pub cpu: Duration,
    /// Resident set size, kB.
    pub rss_kb: u64,
    /// Peak resident set size, kB.
    pub hwm_kb: u64,
}

/// The clock ticks per second /proc counts in.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Reads process `pid`; `None` when it is gone.
pub fn read(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces), from field 3 (state) on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the state.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Some(Usage {
        cpu: Duration::from_millis(ticks * 1000 / ticks_per_second()),
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
    })
}

/// The sum over processes: CPU and RSS added up, the largest peak.
pub fn total(pids: impl IntoIterator<Item = u32>) -> Usage {
    pids.into_iter()
        .filter_map(read)
        .fold(Usage::default(), |a, u| Usage {
            cpu: a.cpu + u.cpu,
            rss_kb: a.rss_kb + u.rss_kb,
            hwm_kb: a.hwm_kb.max(u.hwm_kb),
        })
}

/// The established TCP connections to 127.0.0.1:`port` in the calling process's network namespace
/// (`/proc/net/tcp`), per local address.
pub fn connections_to(port: u16) -> std::collections::BTreeMap<std::net::Ipv4Addr, usize> {
    let mut out = std::collections::BTreeMap::new();
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // local_address rem_address st: "0101007F:1F90", state 01 = ESTABLISHED.
        let (Some(local), Some(remote), Some("01")) = (f.get(1), f.get(2), f.get(3).copied())
        else {
            continue;
        };
        let addr = |s: &str| -> Option<(std::net::Ipv4Addr, u16)> {
            let (ip, p) = s.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?;
            // The kernel prints the address in host byte order of a network-order u32.
            Some((
                std::net::Ipv4Addr::from(u32::from_be(ip.to_le())),
                u16::from_str_radix(p, 16).ok()?,
            ))
        };
        let (Some((l, _)), Some((r, rp))) = (addr(local), addr(remote)) else {
            continue;
        };
        if r == std::net::Ipv4Addr::LOCALHOST && rp == port {
            *out.entry(l).or_default() += 1;
        }
    }
    out
}
