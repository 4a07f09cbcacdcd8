//! One SR-IOV VF as its PF's driver reports it, in plumber's words: [`VfState`], part of a PF's
//! [`LinkState`](super::LinkState). Netlink discovery fills it (`netlink/vf.rs`); the planner compares it
//! with the desired [`VfSettings`] (`plan/vf.rs`).

use plumber_render::model::MacAddr;
use plumber_render::node::VfSettings;
use serde::Serialize;

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

impl VfState {
    /// What the kernel does to this VF when `set` is sent (`set_vf_message` in `netlink/vf.rs`): for
    /// plan simulations and tests.
    pub(crate) fn apply(&mut self, set: &VfSettings) {
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

/// A PF's VFs as discovered: VF 0 with everything set, VF 1 with spoofchk and trust not reported and
/// no MAC, VF 3 (ids need not be contiguous) with only a max TX rate and trust off. One sample for the
/// tests of the VF planning and of the netlink parsing, which must agree on it.
#[cfg(test)]
pub(crate) fn sample_vfs() -> Vec<VfState> {
    vec![
        VfState {
            id: 0,
            mac: Some(MacAddr::parse("02:00:00:00:00:01").unwrap()),
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
