//! SR-IOV VF settings over netlink (IFLA_VFINFO_LIST): reading them into [`VfState`]s and building the
//! set requests. What to set is the planner's (`crate::node::plan::vf`).
//!
//! **Reading.** A PF's `RTM_NEWLINK` carries one `IFLA_VF_INFO` nest per VF in `IFLA_VFINFO_LIST` when
//! the dump asked for it (`IFLA_EXT_MASK` with `RTEXT_FILTER_VF`). The kernel presets spoofchk, trust
//! (and RSS query) to `u32::MAX` before asking the driver, so "the driver does not say" is
//! distinguishable from "off". netlink-packet-route decodes that sentinel as `false`, which is how
//! HostPlumber came to report `trust: false` for every VF; [`vfs_of_bytes`] decodes the attributes
//! from the raw message instead and reports `None`. The unit tests read an already parsed
//! [`LinkMessage`] too (`tests::vfs_of`), to show that it cannot tell the sentinel from `false` unless
//! the attribute was kept raw ([`VfInfo::Other`]).
//!
//! **Writing.** What `ip link set dev PF vf N mac .. vlan .. qos .. spoofchk .. trust .. max_tx_rate ..
//! min_tx_rate ..` sends: one `RTM_SETLINK` on the PF with one `IFLA_VFINFO_LIST` /
//! `IFLA_VF_INFO` nest holding an `IFLA_VF_*` attribute per setting ([`set_vf_message`]). The kernel
//! applies them in a fixed order (mac, vlan, rate, spoofchk, trust) and stops at the first the driver
//! refuses, so a failed request can leave the earlier settings applied: undo with
//! `VfChange::previous` (`crate::node::plan::vf`). `IFLA_VF_VLAN` sets vlan and qos together and
//! `IFLA_VF_RATE` sets both rates together; `vf_changes` always fills both halves of a pair so neither
//! is reset by accident.

use plumber_render::model::MacAddr;
use plumber_render::node::VfSettings;
use rtnetlink::packet_core::NlasIterator;
use rtnetlink::packet_route::link::{
    LinkAttribute, LinkMessage, LinkVfInfo, VfInfo, VfInfoMac, VfInfoRate, VfInfoSpoofCheck,
    VfInfoTrust, VfInfoVlan,
};

use crate::node::state::{VfLinkMode, VfState};

/// `IFLA_VFINFO_LIST` in an `RTM_NEWLINK`.
const IFLA_VFINFO_LIST: u16 = 22;
/// One VF's nest inside `IFLA_VFINFO_LIST`.
const IFLA_VF_INFO: u16 = 1;
const IFLA_VF_MAC: u16 = 1;
const IFLA_VF_VLAN: u16 = 2;
const IFLA_VF_TX_RATE: u16 = 3;
const IFLA_VF_SPOOFCHK: u16 = 4;
const IFLA_VF_LINK_STATE: u16 = 5;
const IFLA_VF_RATE: u16 = 6;
const IFLA_VF_TRUST: u16 = 9;
/// `sizeof(struct ifinfomsg)`: the header of a link message, before its attributes.
const IFINFOMSG_LEN: usize = 16;
/// What the kernel reports for spoofchk and trust when the driver does not fill them in.
const NOT_REPORTED: u32 = u32::MAX;

/// The VFs of a raw `RTM_NEWLINK` payload (the `ifinfomsg` and its attributes, after the netlink
/// header), by id, with spoofchk and trust `None` when the driver does not report them.
pub(crate) fn vfs_of_bytes(payload: &[u8]) -> Vec<VfState> {
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
                vf.link_state = field(1).map(link_mode);
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

/// `IFLA_VF_LINK_STATE`'s value (`IFLA_VF_LINK_STATE_AUTO`, `_ENABLE`, `_DISABLE`).
fn link_mode(v: u32) -> VfLinkMode {
    match v {
        0 => VfLinkMode::Auto,
        1 => VfLinkMode::Enable,
        2 => VfLinkMode::Disable,
        n => VfLinkMode::Other(n),
    }
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
/// current value of the other (`crate::node::plan::vf::vf_changes` does). No `Some` setting: a message with no VF
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

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::{DefaultNla, Emitable, Nla, Parseable};
    use rtnetlink::packet_route::link::{VfInfoLinkState, VfLinkState};

    /// The VFs of a link message parsed by netlink-packet-route, by id. Spoofchk and trust the driver
    /// did not report come out as `Some(false)` here (the library already decoded the sentinel), unless
    /// the attribute is a raw [`VfInfo::Other`]; discovery uses [`vfs_of_bytes`]. Only these tests use
    /// it, to show what the library's parse loses.
    fn vfs_of(link: &LinkMessage) -> Vec<VfState> {
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

    #[test]
    fn reads_vfs_from_the_raw_message_with_sentinels() {
        let bytes = emit(&kernel_like_pf());
        assert_eq!(vfs_of_bytes(&bytes), crate::node::state::sample_vfs());
        // The hand-built message, unparsed, keeps the raw attributes: same answer.
        assert_eq!(vfs_of(&kernel_like_pf()), crate::node::state::sample_vfs());
    }

    #[test]
    fn the_library_parse_loses_the_sentinel() {
        // Why discovery reads raw bytes: netlink-packet-route turns u32::MAX into `false`.
        let parsed = parse(&emit(&kernel_like_pf()));
        let vfs = vfs_of(&parsed);
        assert_eq!(vfs[1].trust, Some(false));
        assert_eq!(vfs[1].spoofchk, Some(false));
        // Everything else agrees.
        let mut want = crate::node::state::sample_vfs();
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

    #[test]
    fn set_message_of_a_pair_carries_both_halves() {
        let bytes = emit(&set_vf_message(
            9,
            0,
            &VfSettings {
                max_tx_rate: Some(1000),
                min_tx_rate: Some(0),
                ..Default::default()
            },
        ));
        assert_eq!(vf_attrs(&bytes), vec![(IFLA_VF_RATE, u32s(&[0, 0, 1000]))]);
    }
}
