//! SR-IOV VF settings in the plan: [`vf_changes`] compares a PF's VFs as discovered ([`VfState`]) with the
//! desired [`VfSettings`] and gives, per VF, only the settings that differ with what they were
//! ([`VfChange`]), which [`Op::SetVf`](super::Op::SetVf) carries; [`settings_text`] words them as `ip link`
//! does. The kernel sets `IFLA_VF_VLAN` (vlan and qos) and `IFLA_VF_RATE` (both rates) as pairs, so
//! [`vf_changes`] always fills both halves of a pair and neither is reset by accident; sending
//! [`VfChange::previous`] undoes a change. The requests themselves are built in
//! `netlink/vf.rs`.

use std::collections::BTreeMap;
use std::fmt;

use plumber_render::model::MacAddr;
use plumber_render::node::VfSettings;
use serde::Serialize;

use crate::node::state::VfState;

/// The settings of one VF that differ from the node, with what they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VfChange {
    /// The PF's name.
    pub(crate) pf: String,
    pub(crate) vf: u32,
    /// What to send (`set_vf_message` in `netlink/vf.rs`): only the settings that differ, vlan with
    /// qos and the two rates as pairs.
    pub(crate) set: VfSettings,
    /// What those settings were: sending it undoes `set`. A setting the driver did not report (or a VF
    /// the PF did not list) is `None`, and cannot be restored.
    pub(crate) previous: VfSettings,
}

impl fmt::Display for VfChange {
    /// `vf 3 of eth0: mac 02:00:00:00:00:01 vlan 100 qos 0 spoofchk off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vf {} of {}: {}",
            self.vf,
            self.pf,
            settings_text(&self.set)
        )
    }
}

/// `mac .. vlan .. qos .. spoofchk on|off trust on|off max_tx_rate .. min_tx_rate ..`, the `Some`
/// settings in `ip link` words and order; empty when none is.
pub(crate) fn settings_text(s: &VfSettings) -> String {
    let on_off = |b: bool| if b { "on" } else { "off" };
    let mut w: Vec<String> = Vec::new();
    if let Some(m) = s.mac {
        w.push(format!("mac {m}"));
    }
    if let Some(v) = s.vlan {
        w.push(format!("vlan {v}"));
    }
    if let Some(q) = s.qos {
        w.push(format!("qos {q}"));
    }
    if let Some(b) = s.spoofchk {
        w.push(format!("spoofchk {}", on_off(b)));
    }
    if let Some(b) = s.trust {
        w.push(format!("trust {}", on_off(b)));
    }
    if let Some(r) = s.max_tx_rate {
        w.push(format!("max_tx_rate {r}"));
    }
    if let Some(r) = s.min_tx_rate {
        w.push(format!("min_tx_rate {r}"));
    }
    w.join(" ")
}

/// The changes that bring PF `pf`'s VFs (`current`, as discovered) to `desired` (by VF id), in VF id
/// order; empty when nothing differs, so a second apply sends nothing. Per setting:
///
/// - `mac`: sent when it differs; an unset MAC counts as all zeros (which clears it).
/// - `vlan`/`qos`: sent as a pair when either differs; the one not desired keeps its current value
///   (qos drops to 0 when the desired vlan is 0 and no qos is desired, as `ip link ... vlan 0` does).
/// - `spoofchk`/`trust`: sent when the current value differs or is not reported.
/// - `maxTxRate`/`minTxRate`: sent as a pair when either differs, the other keeping its value.
///
/// A desired VF the PF does not list (not created yet, or no VF info) gets every desired setting sent
/// and no `previous`: the kernel refuses it if the VF does not exist.
pub fn vf_changes(
    pf: &str,
    current: &[VfState],
    desired: &BTreeMap<u32, VfSettings>,
) -> Vec<VfChange> {
    let mut out = Vec::new();
    for (&id, want) in desired {
        let Some(cur) = current.iter().find(|v| v.id == id) else {
            if *want != VfSettings::default() {
                out.push(VfChange {
                    pf: pf.to_string(),
                    vf: id,
                    set: want.clone(),
                    previous: VfSettings::default(),
                });
            }
            continue;
        };
        let mut set = VfSettings::default();
        let mut previous = VfSettings::default();

        let zero = MacAddr([0; 6]);
        if let Some(m) = want.mac {
            let have = cur.mac.unwrap_or(zero);
            if have != m {
                set.mac = Some(m);
                previous.mac = Some(have);
            }
        }

        if want.vlan.is_some() || want.qos.is_some() {
            let vlan = want.vlan.unwrap_or(cur.vlan);
            let qos = match (want.qos, want.vlan) {
                (Some(q), _) => q,
                (None, Some(0)) => 0,
                (None, _) => cur.qos,
            };
            if (vlan, qos) != (cur.vlan, cur.qos) {
                set.vlan = Some(vlan);
                set.qos = Some(qos);
                previous.vlan = Some(cur.vlan);
                previous.qos = Some(cur.qos);
            }
        }

        if let Some(b) = want.spoofchk {
            if cur.spoofchk != Some(b) {
                set.spoofchk = Some(b);
                previous.spoofchk = cur.spoofchk;
            }
        }
        if let Some(b) = want.trust {
            if cur.trust != Some(b) {
                set.trust = Some(b);
                previous.trust = cur.trust;
            }
        }

        if want.max_tx_rate.is_some() || want.min_tx_rate.is_some() {
            let max = want.max_tx_rate.unwrap_or(cur.max_tx_rate);
            let min = want.min_tx_rate.unwrap_or(cur.min_tx_rate);
            if (max, min) != (cur.max_tx_rate, cur.min_tx_rate) {
                set.max_tx_rate = Some(max);
                set.min_tx_rate = Some(min);
                previous.max_tx_rate = Some(cur.max_tx_rate);
                previous.min_tx_rate = Some(cur.min_tx_rate);
            }
        }

        if set != VfSettings::default() {
            out.push(VfChange {
                pf: pf.to_string(),
                vf: id,
                set,
                previous,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> MacAddr {
        MacAddr::parse(s).unwrap()
    }

    fn settings(f: impl FnOnce(&mut VfSettings)) -> VfSettings {
        let mut s = VfSettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn changes_list_only_what_differs_and_apply_converges() {
        let current = crate::node::state::sample_vfs();
        let desired: BTreeMap<u32, VfSettings> = [
            // Already as wanted: nothing.
            (
                0,
                settings(|s| {
                    s.mac = Some(mac("02:00:00:00:00:01"));
                    s.vlan = Some(100);
                    s.spoofchk = Some(true);
                    s.max_tx_rate = Some(2000);
                }),
            ),
            // trust and spoofchk not reported: sent. vlan alone keeps qos; max alone keeps min.
            (
                1,
                settings(|s| {
                    s.mac = Some(mac("02:00:00:00:00:02"));
                    s.vlan = Some(20);
                    s.trust = Some(false);
                    s.spoofchk = Some(true);
                    s.max_tx_rate = Some(100);
                }),
            ),
            // trust false is reported false: nothing; qos alone keeps the vlan (0).
            (
                3,
                settings(|s| {
                    s.trust = Some(false);
                    s.min_tx_rate = Some(50);
                }),
            ),
            // Not listed by the PF: sent whole.
            (5, settings(|s| s.spoofchk = Some(false))),
            // Nothing desired: nothing.
            (6, VfSettings::default()),
        ]
        .into_iter()
        .collect();
        let changes = vf_changes("ens1f0", &current, &desired);
        assert_eq!(
            changes,
            vec![
                VfChange {
                    pf: "ens1f0".into(),
                    vf: 1,
                    set: settings(|s| {
                        s.mac = Some(mac("02:00:00:00:00:02"));
                        s.vlan = Some(20);
                        s.qos = Some(0);
                        s.trust = Some(false);
                        s.spoofchk = Some(true);
                        s.max_tx_rate = Some(100);
                        s.min_tx_rate = Some(0);
                    }),
                    previous: settings(|s| {
                        s.mac = Some(MacAddr([0; 6]));
                        s.vlan = Some(0);
                        s.qos = Some(0);
                        s.max_tx_rate = Some(0);
                        s.min_tx_rate = Some(0);
                    }),
                },
                VfChange {
                    pf: "ens1f0".into(),
                    vf: 3,
                    set: settings(|s| {
                        s.max_tx_rate = Some(300);
                        s.min_tx_rate = Some(50);
                    }),
                    previous: settings(|s| {
                        s.max_tx_rate = Some(300);
                        s.min_tx_rate = Some(0);
                    }),
                },
                VfChange {
                    pf: "ens1f0".into(),
                    vf: 5,
                    set: settings(|s| s.spoofchk = Some(false)),
                    previous: VfSettings::default(),
                },
            ]
        );
        assert_eq!(
            changes[0].to_string(),
            "vf 1 of ens1f0: mac 02:00:00:00:00:02 vlan 20 qos 0 spoofchk on trust off \
             max_tx_rate 100 min_tx_rate 0"
        );

        // Apply them (as the kernel would) and plan again: nothing left.
        let mut after = current.clone();
        after.push(VfState {
            id: 5,
            ..Default::default()
        });
        for c in &changes {
            after
                .iter_mut()
                .find(|v| v.id == c.vf)
                .unwrap()
                .apply(&c.set);
        }
        assert_eq!(vf_changes("ens1f0", &after, &desired), vec![]);

        // Sending `previous` restores what was there (for the VFs the PF listed).
        let mut undone = after.clone();
        for c in &changes {
            undone
                .iter_mut()
                .find(|v| v.id == c.vf)
                .unwrap()
                .apply(&c.previous);
        }
        let mut unchanged = current.clone();
        unchanged.push(VfState {
            id: 5,
            spoofchk: Some(false),
            ..Default::default()
        });
        // VF 1's trust/spoofchk were not reported: they stay as set (cannot be restored).
        unchanged[1].trust = Some(false);
        unchanged[1].spoofchk = Some(true);
        assert_eq!(undone, unchanged);
    }

    #[test]
    fn vlan_pairs_and_mac_zero() {
        let cur = [VfState {
            id: 0,
            vlan: 10,
            qos: 4,
            max_tx_rate: 1000,
            min_tx_rate: 100,
            ..Default::default()
        }];
        let one = |s: VfSettings| vf_changes("p", &cur, &[(0, s)].into_iter().collect());
        // vlan 0 without qos: untagged, qos goes too (ip link ... vlan 0).
        let c = one(settings(|s| s.vlan = Some(0)));
        assert_eq!((c[0].set.vlan, c[0].set.qos), (Some(0), Some(0)));
        assert_eq!((c[0].previous.vlan, c[0].previous.qos), (Some(10), Some(4)));
        // qos alone keeps the vlan.
        let c = one(settings(|s| s.qos = Some(1)));
        assert_eq!((c[0].set.vlan, c[0].set.qos), (Some(10), Some(1)));
        // Same qos, same vlan: nothing.
        assert!(one(settings(|s| {
            s.vlan = Some(10);
            s.qos = Some(4);
        }))
        .is_empty());
        // An all-zero MAC is what an unset one is.
        assert!(one(settings(|s| s.mac = Some(MacAddr([0; 6])))).is_empty());
        // min alone keeps max.
        let c = one(settings(|s| s.min_tx_rate = Some(0)));
        assert_eq!(
            (c[0].set.max_tx_rate, c[0].set.min_tx_rate),
            (Some(1000), Some(0))
        );
    }
}
