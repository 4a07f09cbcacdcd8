//! `CurrentState`: what a node has, in the vocabulary of [`NodeConfig`](plumber_render::node::NodeConfig),
//! so that `plan` is a diff and `verify` is "the plan is empty". Discovery (netlink, sysfs, OVSDB) fills it;
//! tests build it by hand.

use std::collections::BTreeMap;
use std::net::IpAddr;

use plumber_render::model::{BondMode, IpCidr};
use serde::{Deserialize, Serialize};

mod vf;

#[cfg(test)]
pub(crate) use vf::sample_vfs;
pub use vf::{VfLinkMode, VfState};

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CurrentState {
    /// Every link, by name.
    pub links: BTreeMap<String, LinkState>,
    /// Routes of every table, unicast only.
    pub routes: Vec<RouteState>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkState {
    pub name: String,
    pub kind: CurrentKind,
    pub mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// The bond or bridge it is enslaved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    pub addresses: Vec<AddressState>,
    /// An SR-IOV PF's VFs as its driver reports them (`IFLA_VFINFO_LIST`), by id; empty for anything
    /// else.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vfs: Vec<VfState>,
}

/// Link kinds as the kernel reports them (`IFLA_INFO_KIND`), with the attributes plumber manages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CurrentKind {
    /// No kind: a NIC, PF or VF.
    Device,
    Vlan {
        parent: String,
        id: u16,
    },
    Bond {
        mode: BondMode,
    },
    Bridge,
    /// Anything else (veth, dummy, openvswitch, ...), by its kind name.
    Other {
        kind: String,
    },
}

impl CurrentKind {
    /// The kind as one word, as `plumber show` and refusals print it: `device`, `vlan`, `bond`,
    /// `bridge`, or the kernel's kind name for anything else.
    pub(crate) fn label(&self) -> &str {
        match self {
            CurrentKind::Device => "device",
            CurrentKind::Vlan { .. } => "vlan",
            CurrentKind::Bond { .. } => "bond",
            CurrentKind::Bridge => "bridge",
            CurrentKind::Other { kind } => kind,
        }
    }
}

/// What a link plumber creates with `spec` is, as discovery will report it.
impl From<&plumber_render::node::LinkKind> for CurrentKind {
    fn from(spec: &plumber_render::node::LinkKind) -> CurrentKind {
        use plumber_render::node::LinkKind;
        match spec {
            LinkKind::Device => CurrentKind::Device,
            LinkKind::Vlan { parent, id } => CurrentKind::Vlan {
                parent: parent.clone(),
                id: *id,
            },
            LinkKind::Bond { mode, .. } => CurrentKind::Bond { mode: *mode },
            LinkKind::Bridge { .. } => CurrentKind::Bridge,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressState {
    pub cidr: IpCidr,
    /// Not permanent: handed out by DHCP or SLAAC (IFA_F_PERMANENT unset).
    pub dynamic: bool,
}

impl AddressState {
    /// IPv6 link-local (`fe80::/10`): the kernel's, never removed by plumber.
    pub fn is_link_local(&self) -> bool {
        match self.cidr.addr {
            IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
            IpAddr::V4(_) => false,
        }
    }
}

/// Who installed a route (`RTM_NEWROUTE` protocol). Plumber only removes the ones an administrator or a
/// network configuration tool added (`boot`, `static`), never the kernel's prefix routes or DHCP/RA ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteProto {
    Kernel,
    Boot,
    /// What plumber installs (`ip route` shows `proto static`).
    #[default]
    Static,
    Dhcp,
    Ra,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RouteState {
    pub dev: String,
    pub dst: IpCidr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// 254 is main.
    pub table: u32,
    /// The preferred source address (`RTA_PREFSRC`), as `ip route` shows `src`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) src: Option<IpAddr>,
    pub proto: RouteProto,
}

impl RouteState {
    pub fn removable(&self) -> bool {
        matches!(self.proto, RouteProto::Boot | RouteProto::Static)
    }
}
