//! SR-IOV VF settings over netlink (IFLA_VFINFO_LIST): reading them and building the set requests.
//!
//! **Reading.** A PF's `RTM_NEWLINK` carries one `IFLA_VF_INFO` nest per VF in `IFLA_VFINFO_LIST` when
//! the dump asked for it (`IFLA_EXT_MASK` with `RTEXT_FILTER_VF`). The kernel presets spoofchk, trust
//! (and RSS query) to `u32::MAX` before asking the driver, so "the driver does not say" is
//! distinguishable from "off". netlink-packet-route decodes that sentinel as `false`, which is how
//! HostPlumber came to report `trust: false` for every VF; [`vfs_of_bytes`] decodes the attributes
//! from the raw message instead and reports `None`. [`vfs_of`] works on an already parsed
//! [`LinkMessage`] and cannot tell the sentinel from `false` unless the attribute was kept raw
//! ([`VfInfo::Other`]).
//!
//! **Writing.** What `ip link set dev PF vf N mac .. vlan .. qos .. spoofchk .. trust .. max_tx_rate ..
//! min_tx_rate ..` sends: one `RTM_SETLINK` on the PF with one `IFLA_VFINFO_LIST` /
//! `IFLA_VF_INFO` nest holding an `IFLA_VF_*` attribute per setting ([`set_vf_message`]). The kernel
//! applies them in a fixed order (mac, vlan, rate, spoofchk, trust) and stops at the first the driver
//! refuses, so a failed request can leave the earlier settings applied: undo with
//! [`VfChange::previous`]. `IFLA_VF_VLAN` sets vlan and qos together and `IFLA_VF_RATE` sets both rates
//! together; [`vf_changes`] always fills both halves of a pair so neither is reset by accident.

use std::collections::BTreeMap;
use std::fmt;

use plumber_render::model::MacAddr;
use plumber_render::node::VfSettings;
use rtnetlink::packet_core::{Nla, NlasIterator};
use rtnetlink::packet_route::link::{
    LinkAttribute, LinkMessage, LinkVfInfo, VfInfo, VfInfoMac, VfInfoRate, VfInfoSpoofCheck,
    VfInfoTrust, VfInfoVlan,
};
use serde::Serialize;

/// `IFLA_VFINFO_LIST` in an `RTM_NEWLINK`.
pub const IFLA_VFINFO_LIST: u16 = 22;
/// One VF's nest inside `IFLA_VFINFO_LIST`.
pub const IFLA_VF_INFO: u16 = 1;
pub const IFLA_VF_MAC: u16 = 1;
pub const IFLA_VF_VLAN: u16 = 2;
pub const IFLA_VF_TX_RATE: u16 = 3;
pub const IFLA_VF_SPOOFCHK: u16 = 4;
pub const IFLA_VF_LINK_STATE: u16 = 5;
pub const IFLA_VF_RATE: u16 = 6;
pub const IFLA_VF_TRUST: u16 = 9;
/// `sizeof(struct ifinfomsg)`: the header of a link message, before its attributes.
const IFINFOMSG_LEN: usize = 16;
/// What the kernel reports for spoofchk and trust when the driver does not fill them in.
const NOT_REPORTED: u32 = u32::MAX;

/// One VF as the PF's driver reports it (`ip link show dev PF`'s `vf N ...` lines).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VfState {
    pub id: u32,
    /// The administrative MAC; `None` when unset (all zeros).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Port VLAN; 0 is none.
    pub vlan: u16,
    /// 802.1p priority of the port VLAN; 0 is none.
    pub qos: u8,
    /// `None`: the driver does not report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoofchk: Option<bool>,
    /// `None`: the driver does not report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<bool>,
    /// Mbit/s; 0 is no limit.
    pub max_tx_rate: u32,
    /// Mbit/s; 0 is no guarantee.
    pub min_tx_rate: u32,
    /// `IFLA_VF_LINK_STATE`, when reported (not managed by plumber).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<VfLinkMode>,
}

/// `IFLA_VF_LINK_STATE`: follow the PF (`auto`), forced up or forced down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VfLinkMode {
    Auto,
    Enable,
    Disable,
    Other(u32),
}

impl From<u32> for VfLinkMode {
    fn from(v: u32) -> Self {
        match v {
            0 => VfLinkMode::Auto,
            1 => VfLinkMode::Enable,
            2 => VfLinkMode::Disable,
            n => VfLinkMode::Other(n),
        }
    }
}

impl VfState {
    /// What the kernel does to this VF when `set` is sent (see [`set_vf_message`]): for plan
    /// simulations and tests.
    pub fn apply(&mut self, set: &VfSettings) {
        if let Some(m) = set.mac {
            self.mac = (m.0 != [0; 6]).then_some(m);
        }
        if set.vlan.is_some() || set.qos.is_some() {
            self.vlan = set.vlan.unwrap_or(0);
            self.qos = set.qos.unwrap_or(0);
        }
        if set.max_tx_rate.is_some() || set.min_tx_rate.is_some() {
            self.max_tx_rate = set.max_tx_rate.unwrap_or(0);
            self.min_tx_rate = set.min_tx_rate.unwrap_or(0);
        }
        if set.spoofchk.is_some() {
            self.spoofchk = set.spoofchk;
        }
        if set.trust.is_some() {
            self.trust = set.trust;
        }
    }
}

/// The VFs of a link message parsed by netlink-packet-route, by id. Spoofchk and trust the driver did
/// not report come out as `Some(false)` here (the library already decoded the sentinel), unless the
/// attribute is a raw [`VfInfo::Other`]; discovery uses [`vfs_of_bytes`].
pub fn vfs_of(link: &LinkMessage) -> Vec<VfState> {
    let mut vfs: Vec<VfState> = link
        .attributes
        .iter()
        .filter_map(|a| match a {
            LinkAttribute::VfInfoList(list) => Some(list),
            _ => None,
        })
        .flatten()
        .filter_map(|info| {
            let mut value = vec![0u8; info.value_len()];
            info.emit_value(&mut value);
            vf_of_nest(&value)
        })
        .collect();
    vfs.sort_by_key(|v| v.id);
    vfs
}

/// The VFs of a raw `RTM_NEWLINK` payload (the `ifinfomsg` and its attributes, after the netlink
/// header), by id, with spoofchk and trust `None` when the driver does not report them.
pub fn vfs_of_bytes(payload: &[u8]) -> Vec<VfState> {
    let Some(attrs) = payload.get(IFINFOMSG_LEN..) else {
        return Vec::new();
    };
    let mut vfs = Vec::new();
    for nla in NlasIterator::new(attrs) {
        let Ok(nla) = nla else { break };
        if nla.kind() == IFLA_VFINFO_LIST {
            vfs.extend(vfs_of_list(nla.value()));
        }
    }
    vfs.sort_by_key(|v| v.id);
    vfs
}

/// The value of an `IFLA_VFINFO_LIST` attribute.
fn vfs_of_list(list: &[u8]) -> Vec<VfState> {
    let mut vfs = Vec::new();
    for nla in NlasIterator::new(list) {
        let Ok(nla) = nla else { break };
        if nla.kind() == IFLA_VF_INFO {
            vfs.extend(vf_of_nest(nla.value()));
        }
    }
    vfs
}

/// The value of one `IFLA_VF_INFO` nest. Every `IFLA_VF_*` struct starts with the VF id (`__u32 vf`);
/// the fields are host-endian `__u32`s. `None` when no attribute names the VF.
fn vf_of_nest(nest: &[u8]) -> Option<VfState> {
    let mut vf = VfState::default();
    let mut id = None;
    for nla in NlasIterator::new(nest) {
        let Ok(nla) = nla else { break };
        let v = nla.value();
        let field = |i: usize| -> Option<u32> {
            let b = v.get(4 * i..4 * i + 4)?;
            Some(u32::from_ne_bytes(b.try_into().expect("4 bytes")))
        };
        let Some(vf_id) = field(0) else { continue };
        let known = match nla.kind() {
            IFLA_VF_MAC => {
                // `__u8 mac[32]`: an Ethernet VF uses the first 6.
                if let Some(b) = v.get(4..10) {
                    let mac: [u8; 6] = b.try_into().expect("6 bytes");
                    vf.mac = (mac != [0; 6]).then_some(MacAddr(mac));
                }
                true
            }
            IFLA_VF_VLAN => {
                if let (Some(vlan), Some(qos)) = (field(1), field(2)) {
                    vf.vlan = u16::try_from(vlan).unwrap_or(u16::MAX);
                    vf.qos = u8::try_from(qos).unwrap_or(u8::MAX);
                }
                true
            }
            IFLA_VF_RATE => {
                if let (Some(min), Some(max)) = (field(1), field(2)) {
                    vf.min_tx_rate = min;
                    vf.max_tx_rate = max;
                }
                true
            }
            // The legacy max rate; IFLA_VF_RATE, when present, says the same.
            IFLA_VF_TX_RATE => {
                if let Some(r) = field(1) {
                    if vf.max_tx_rate == 0 {
                        vf.max_tx_rate = r;
                    }
                }
                true
            }
            IFLA_VF_SPOOFCHK => {
                vf.spoofchk = field(1).and_then(setting);
                true
            }
            IFLA_VF_TRUST => {
                vf.trust = field(1).and_then(setting);
                true
            }
            IFLA_VF_LINK_STATE => {
                vf.link_state = field(1).map(VfLinkMode::from);
                true
            }
            // Broadcast, stats, VLAN list, RSS query, GUIDs: no VF id of interest or not plumber's.
            _ => false,
        };
        if known {
            id.get_or_insert(vf_id);
        }
    }
    vf.id = id?;
    Some(vf)
}

/// A spoofchk or trust setting: the kernel's "not reported" sentinel is `None`.
fn setting(v: u32) -> Option<bool> {
    (v != NOT_REPORTED).then_some(v != 0)
}

/// The `RTM_SETLINK` that sets `want` on VF `vf` of the PF with index `pf_index`: one
/// `IFLA_VFINFO_LIST` holding one `IFLA_VF_INFO` with an attribute per `Some` setting (like
/// `ip link set dev PF vf N ...`). Send it with `handle.link().set(msg).execute()`.
///
/// `IFLA_VF_VLAN` carries vlan and qos, `IFLA_VF_RATE` both rates: when only one half of a pair is
/// `Some` the other is sent as 0 (what `ip link` does for qos), so pass both halves to keep the
/// current value of the other ([`vf_changes`] does). No `Some` setting: a message with no VF
/// attribute at all (a no-op for the kernel).
pub fn set_vf_message(pf_index: u32, vf: u32, want: &VfSettings) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = pf_index;
    let mut info = Vec::new();
    if let Some(m) = want.mac {
        info.push(VfInfo::Mac(VfInfoMac::new(vf, &m.0)));
    }
    if want.vlan.is_some() || want.qos.is_some() {
        info.push(VfInfo::Vlan(VfInfoVlan::new(
            vf,
            u32::from(want.vlan.unwrap_or(0)),
            u32::from(want.qos.unwrap_or(0)),
        )));
    }
    if want.max_tx_rate.is_some() || want.min_tx_rate.is_some() {
        info.push(VfInfo::Rate(VfInfoRate::new(
            vf,
            want.min_tx_rate.unwrap_or(0),
            want.max_tx_rate.unwrap_or(0),
        )));
    }
    if let Some(b) = want.spoofchk {
        info.push(VfInfo::SpoofCheck(VfInfoSpoofCheck::new(vf, b)));
    }
    if let Some(b) = want.trust {
        info.push(VfInfo::Trust(VfInfoTrust::new(vf, b)));
    }
    if !info.is_empty() {
        msg.attributes
            .push(LinkAttribute::VfInfoList(vec![LinkVfInfo(info)]));
    }
    msg
}

/// The settings of one VF that differ from the node, with what they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VfChange {
    /// The PF's name.
    pub pf: String,
    pub vf: u32,
    /// What to send ([`set_vf_message`]): only the settings that differ, vlan with qos and the two rates
    /// as pairs.
    pub set: VfSettings,
    /// What those settings were: sending it undoes `set`. A setting the driver did not report (or a VF
    /// the PF did not list) is `None`, and cannot be restored.
    pub previous: VfSettings,
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
pub fn settings_text(s: &VfSettings) -> String {
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
    use rtnetlink::packet_core::{DefaultNla, Emitable, Parseable};
    use rtnetlink::packet_route::link::{VfInfoLinkState, VfLinkState};

    fn mac(s: &str) -> MacAddr {
        MacAddr::parse(s).unwrap()
    }

    fn emit(msg: &LinkMessage) -> Vec<u8> {
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        buf
    }

    fn parse(bytes: &[u8]) -> LinkMessage {
        <LinkMessage as Parseable<[u8]>>::parse(bytes).unwrap()
    }

    /// The `IFLA_VF_*` attributes of the one VF nest in a message, as (kind, value) pairs.
    fn vf_attrs(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        let mut lists = 0;
        for nla in NlasIterator::new(&bytes[IFINFOMSG_LEN..]) {
            let nla = nla.unwrap();
            if nla.kind() != IFLA_VFINFO_LIST {
                continue;
            }
            lists += 1;
            let mut infos = 0;
            for info in NlasIterator::new(nla.value()) {
                let info = info.unwrap();
                assert_eq!(info.kind(), IFLA_VF_INFO);
                infos += 1;
                for a in NlasIterator::new(info.value()) {
                    let a = a.unwrap();
                    out.push((a.kind(), a.value().to_vec()));
                }
            }
            assert_eq!(infos, 1, "one IFLA_VF_INFO nest");
        }
        assert!(lists <= 1, "at most one IFLA_VFINFO_LIST");
        out
    }

    fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    fn mac_value(vf: u32, m: [u8; 6]) -> Vec<u8> {
        let mut v = vf.to_ne_bytes().to_vec();
        v.extend(m);
        v.extend([0u8; 26]);
        v
    }

    #[test]
    fn set_message_carries_every_setting_in_one_nest() {
        let want = VfSettings {
            mac: Some(mac("02:00:00:00:00:10")),
            vlan: Some(100),
            qos: Some(3),
            trust: Some(true),
            spoofchk: Some(false),
            max_tx_rate: Some(1000),
            min_tx_rate: Some(100),
        };
        let msg = set_vf_message(7, 2, &want);
        assert_eq!(msg.header.index, 7);
        let bytes = emit(&msg);
        assert_eq!(
            vf_attrs(&bytes),
            vec![
                (IFLA_VF_MAC, mac_value(2, [2, 0, 0, 0, 0, 0x10])),
                (IFLA_VF_VLAN, u32s(&[2, 100, 3])),
                // struct ifla_vf_rate { vf, min_tx_rate, max_tx_rate }
                (IFLA_VF_RATE, u32s(&[2, 100, 1000])),
                (IFLA_VF_SPOOFCHK, u32s(&[2, 0])),
                (IFLA_VF_TRUST, u32s(&[2, 1])),
            ]
        );
        // Nothing else in the message: no name, no flags change, no other attribute.
        let back = parse(&bytes);
        assert_eq!(back.header.index, 7);
        assert_eq!(back.attributes.len(), 1);
        assert_eq!(back, msg);
        // And it reads back as the state it asks for.
        let vfs = vfs_of_bytes(&bytes);
        assert_eq!(
            vfs,
            vec![VfState {
                id: 2,
                mac: Some(mac("02:00:00:00:00:10")),
                vlan: 100,
                qos: 3,
                spoofchk: Some(false),
                trust: Some(true),
                max_tx_rate: 1000,
                min_tx_rate: 100,
                link_state: None,
            }]
        );
        assert_eq!(vfs_of(&back), vfs);
    }

    #[test]
    fn set_message_sends_only_some_settings() {
        let bytes = emit(&set_vf_message(
            3,
            0,
            &VfSettings {
                trust: Some(false),
                ..Default::default()
            },
        ));
        assert_eq!(vf_attrs(&bytes), vec![(IFLA_VF_TRUST, u32s(&[0, 0]))]);

        // Half a pair: the other half goes as 0.
        let bytes = emit(&set_vf_message(
            3,
            1,
            &VfSettings {
                vlan: Some(42),
                max_tx_rate: Some(500),
                ..Default::default()
            },
        ));
        assert_eq!(
            vf_attrs(&bytes),
            vec![
                (IFLA_VF_VLAN, u32s(&[1, 42, 0])),
                (IFLA_VF_RATE, u32s(&[1, 0, 500])),
            ]
        );

        // Nothing to set: no VF attribute at all.
        let msg = set_vf_message(3, 1, &VfSettings::default());
        assert!(msg.attributes.is_empty());
        assert!(vf_attrs(&emit(&msg)).is_empty());
    }

    /// A PF as the kernel dumps it: VF 0 with everything set, VF 1 with the "not reported" sentinels
    /// and no MAC, VF 3 (ids need not be contiguous) with only a legacy TX rate and unknown attributes.
    fn kernel_like_pf() -> LinkMessage {
        let raw = |kind: u16, v: &[u32]| VfInfo::Other(DefaultNla::new(kind, u32s(v)));
        let mut msg = LinkMessage::default();
        msg.header.index = 4;
        msg.attributes = vec![
            LinkAttribute::IfName("ens1f0".into()),
            LinkAttribute::Mtu(1500),
            LinkAttribute::VfInfoList(vec![
                LinkVfInfo(vec![
                    VfInfo::Mac(VfInfoMac::new(0, &[2, 0, 0, 0, 0, 1])),
                    VfInfo::Vlan(VfInfoVlan::new(0, 100, 5)),
                    VfInfo::Rate(VfInfoRate::new(0, 10, 2000)),
                    raw(IFLA_VF_TX_RATE, &[0, 2000]),
                    raw(IFLA_VF_SPOOFCHK, &[0, 1]),
                    VfInfo::LinkState(VfInfoLinkState::new(0, VfLinkState::Disable)),
                    raw(IFLA_VF_TRUST, &[0, 1]),
                ]),
                LinkVfInfo(vec![
                    VfInfo::Mac(VfInfoMac::new(1, &[0; 6])),
                    VfInfo::Vlan(VfInfoVlan::new(1, 0, 0)),
                    VfInfo::Rate(VfInfoRate::new(1, 0, 0)),
                    raw(IFLA_VF_SPOOFCHK, &[1, u32::MAX]),
                    VfInfo::LinkState(VfInfoLinkState::new(1, VfLinkState::Auto)),
                    raw(IFLA_VF_TRUST, &[1, u32::MAX]),
                ]),
                LinkVfInfo(vec![
                    raw(IFLA_VF_TX_RATE, &[3, 300]),
                    raw(99, &[3, 7, 7]),
                    raw(IFLA_VF_TRUST, &[3, 0]),
                ]),
                // A nest naming no VF is skipped.
                LinkVfInfo(vec![raw(99, &[])]),
            ]),
        ];
        msg
    }

    fn expected() -> Vec<VfState> {
        vec![
            VfState {
                id: 0,
                mac: Some(mac("02:00:00:00:00:01")),
                vlan: 100,
                qos: 5,
                spoofchk: Some(true),
                trust: Some(true),
                max_tx_rate: 2000,
                min_tx_rate: 10,
                link_state: Some(VfLinkMode::Disable),
            },
            VfState {
                id: 1,
                mac: None,
                spoofchk: None,
                trust: None,
                link_state: Some(VfLinkMode::Auto),
                ..Default::default()
            },
            VfState {
                id: 3,
                max_tx_rate: 300,
                trust: Some(false),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn reads_vfs_from_the_raw_message_with_sentinels() {
        let bytes = emit(&kernel_like_pf());
        assert_eq!(vfs_of_bytes(&bytes), expected());
        // The hand-built message, unparsed, keeps the raw attributes: same answer.
        assert_eq!(vfs_of(&kernel_like_pf()), expected());
    }

    #[test]
    fn the_library_parse_loses_the_sentinel() {
        // Why discovery reads raw bytes: netlink-packet-route turns u32::MAX into `false`.
        let parsed = parse(&emit(&kernel_like_pf()));
        let vfs = vfs_of(&parsed);
        assert_eq!(vfs[1].trust, Some(false));
        assert_eq!(vfs[1].spoofchk, Some(false));
        // Everything else agrees.
        let mut want = expected();
        want[1].trust = Some(false);
        want[1].spoofchk = Some(false);
        assert_eq!(vfs, want);
    }

    #[test]
    fn no_vf_list_no_vfs() {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName("eth0".into()));
        assert!(vfs_of(&msg).is_empty());
        assert!(vfs_of_bytes(&emit(&msg)).is_empty());
        assert!(vfs_of_bytes(&[1, 2, 3]).is_empty());
        // A truncated attribute ends the walk without panicking.
        let mut bytes = emit(&kernel_like_pf());
        bytes.truncate(bytes.len() - 5);
        let _ = vfs_of_bytes(&bytes);
    }

    fn settings(f: impl FnOnce(&mut VfSettings)) -> VfSettings {
        let mut s = VfSettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn changes_list_only_what_differs_and_apply_converges() {
        let current = expected();
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
        // The set message of a pair carries both halves as planned.
        let bytes = emit(&set_vf_message(9, 0, &c[0].set));
        assert_eq!(vf_attrs(&bytes), vec![(IFLA_VF_RATE, u32s(&[0, 0, 1000]))]);
    }
}
