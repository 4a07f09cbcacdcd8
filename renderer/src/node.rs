//! `NodeConfig`: the one normalised desired state of a node, after selecting and merging its templates.
//! Every renderer and the applier's planner read this and nothing else.
//!
//! Links are keyed by their kernel name and carry their kind (NIC, VLAN, bond, bridge), so a VLAN is an
//! interface like any other and a bond's members point at it through `controller`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    BondMode, BondOptions, DriverName, IpCidr, Lacp, MacAddr, OvsBondMode, PciAddr, PciId, Route,
};

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NodeConfig {
    /// The templates merged into this config, by name.
    pub templates: Vec<TemplateRef>,
    pub links: BTreeMap<String, Link>,
    pub sriov: Vec<SriovPf>,
    pub ovs: Vec<OvsBridge>,
    /// NICs bound to a driver the templates name: a PF's `pfDriver`, a DPDK uplink's `vfio-pci`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_drivers: Vec<NicDriver>,
    /// Template entries left out because they select a device this node does not have (best effort,
    /// see [`crate::best_effort`]); only with an inventory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// A template entry a node has no device for: an `sriovConfig` entry whose `pfName`, `pciAddr` or
/// `vendorId`/`deviceId` matches no NIC of the node's inventory, or only NICs without SR-IOV. Left out of the node's configuration
/// (best effort), or a refusal under strict.
///
/// ```yaml
/// template: sriov-fleet
/// path: spec.sriovConfig[0]
/// selector: pfName ens9f0
/// reason: matches no PCI NIC of this node
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// The template, by name.
    pub template: String,
    /// The entry's YAML path in it (`spec.sriovConfig[0]`).
    pub path: String,
    /// The selector as written (`pfName ens9f0`, `pciAddr 0000:3b:00.0`, `vendorId 8086 deviceId 158b`).
    pub selector: String,
    /// Why the entry applies to nothing here.
    pub reason: String,
}

/// `template sriov-fleet spec.sriovConfig[0] (pfName ens9f0): matches no PCI NIC of this node`.
impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "template {} {} ({}): {}",
            crate::escape::printable(&self.template),
            self.path,
            self.selector,
            self.reason
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TemplateRef {
    pub name: String,
    pub priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// A kernel network interface plumber configures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub name: String,
    pub kind: LinkKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The bond or bridge this link is a member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<Controller>,
    /// `None` when no template states this link's IPv4 (see [`Addressing`]).
    pub ipv4: Option<Addressing>,
    pub ipv6: Option<Addressing>,
    /// Templates that contributed to this link.
    pub owners: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LinkKind {
    /// A device that exists on its own (NIC, PF, VF): configured, never created.
    Device,
    Vlan {
        parent: String,
        id: u16,
    },
    Bond {
        mode: BondMode,
        options: BondOptions,
    },
    Bridge {
        #[serde(skip_serializing_if = "Option::is_none")]
        stp: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        forward_delay: Option<u32>,
    },
}

/// One line: `device`, `vlan 1000 on eno2`, `bond mode 802.3ad`, `bridge stp off` (conflict messages,
/// the applier's `--dry-run`).
impl std::fmt::Display for LinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkKind::Device => f.write_str("device"),
            LinkKind::Vlan { parent, id } => write!(f, "vlan {id} on {parent}"),
            LinkKind::Bond { mode, .. } => write!(f, "bond mode {}", mode.as_str()),
            LinkKind::Bridge { stp, .. } => {
                write!(
                    f,
                    "bridge stp {}",
                    if stp.unwrap_or(false) { "on" } else { "off" }
                )
            }
        }
    }
}

impl LinkKind {
    pub fn label(&self) -> &'static str {
        match self {
            LinkKind::Device => "device",
            LinkKind::Vlan { .. } => "vlan",
            LinkKind::Bond { .. } => "bond",
            LinkKind::Bridge { .. } => "bridge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Controller {
    pub name: String,
    pub kind: ControllerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ControllerKind {
    Bond,
    Bridge,
}

/// One address family of a link, stated by a template (`address` or `dhcp`). A family no template
/// states is `None` on the [`Link`]: its addresses, DHCP and routes are the host's, which plumber leaves
/// alone at runtime and in the files it writes. A member of a bond or bridge has both families stated
/// empty: membership says the link carries no addresses.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Addressing {
    pub addresses: Vec<IpCidr>,
    pub routes: Vec<Route>,
    pub dhcp: bool,
}

/// A family stated as none: no addresses, no routes, no DHCP.
pub static NO_ADDRESSING: Addressing = Addressing {
    addresses: Vec::new(),
    routes: Vec::new(),
    dhcp: false,
};

impl Addressing {
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && !self.dhcp
    }
}

impl Link {
    /// The family's addressing, `v6` or not.
    pub fn family(&self, v6: bool) -> Option<&Addressing> {
        if v6 {
            self.ipv6.as_ref()
        } else {
            self.ipv4.as_ref()
        }
    }

    /// Whether the templates leave this link's L3 configuration to the host: a device (NIC, PF) that is
    /// no member and whose families no template states. Its files must not take the link over: only
    /// what is stated (MTU, VLANs on it) is written, in a form that leaves the host's own file in charge.
    pub fn host_keeps_l3(&self) -> bool {
        matches!(self.kind, LinkKind::Device)
            && self.controller.is_none()
            && self.ipv4.is_none()
            && self.ipv6.is_none()
    }

    /// What the files say about a family: the stated addressing; for a link plumber creates (VLAN,
    /// bond, bridge), which nothing else configures, an unstated family is written as none (no
    /// addresses, no DHCP, IPv6 link-local only). `None`: the files say nothing of it (the host's).
    pub fn written_family(&self, v6: bool) -> Option<&Addressing> {
        match self.family(v6) {
            Some(a) => Some(a),
            None if !matches!(self.kind, LinkKind::Device) => Some(&NO_ADDRESSING),
            None => None,
        }
    }

    /// The stated addresses of both families.
    pub fn addresses(&self) -> impl Iterator<Item = &IpCidr> {
        self.ipv4
            .iter()
            .chain(self.ipv6.iter())
            .flat_map(|a| a.addresses.iter())
    }
}

/// One SR-IOV physical function, or every PF of a model when `selector` is by ids and no inventory
/// resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SriovPf {
    pub selector: PfSelector,
    /// Known when selected by name, or resolved through the inventory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci: Option<PciAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_vfs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vf_driver: Option<DriverName>,
    /// `pfDriver`: the driver of the PF itself (by its canonical name); also in
    /// [`NodeConfig::nic_drivers`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pf_driver: Option<DriverName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Per-VF settings by VF id.
    pub vfs: BTreeMap<u32, VfSettings>,
    /// The device plugin pool of each VF that has one, by VF id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pools: BTreeMap<u32, Pool>,
    /// The pool the PF itself is in: a whole NIC on a userspace `pfDriver` (PF mode, no VFs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    pub owners: BTreeSet<String>,
}

/// A device plugin pool (`resourceName` and its options), as a VF belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    pub prefix: String,
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub need_vhost_net: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_rdma: bool,
}

impl Pool {
    /// The extended resource a pod asks for, `intel.com/dpdk_a`.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.prefix, self.name)
    }

    /// The pool's options as a template writes them (`needVhostNet: true`), or `no options`.
    pub fn options(&self) -> String {
        let mut o = Vec::new();
        if self.need_vhost_net {
            o.push("needVhostNet: true");
        }
        if self.is_rdma {
            o.push("isRdma: true");
        }
        if o.is_empty() {
            "no options".into()
        } else {
            o.join(", ")
        }
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.resource())?;
        if self.need_vhost_net {
            f.write_str(" needVhostNet")?;
        }
        if self.is_rdma {
            f.write_str(" isRdma")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PfSelector {
    Name(String),
    Pci(PciAddr),
    Ids { vendor: PciId, device: PciId },
}

impl std::fmt::Display for PfSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PfSelector::Name(n) => write!(f, "pfName {n}"),
            PfSelector::Pci(p) => write!(f, "pciAddr {p}"),
            PfSelector::Ids { vendor, device } => write!(f, "vendorId {vendor} deviceId {device}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VfSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoofchk: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tx_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tx_rate: Option<u32>,
}

/// A NIC the templates bind to a driver of their choosing: an `sriovConfig` PF's `pfDriver`, or a DPDK
/// uplink (`vfio-pci`, as HostPlumber binds them). One concept for both: the boot rule and the
/// applier bind every one the same way, and give a NIC bound to a userspace driver back to its old
/// driver when no template asks for it any more.
///
/// ```yaml
/// nic_drivers:
///   - selector: {pci: "0000:3b:00.0"}
///     name: ens4f0          # its network interface before the bind (the inventory's)
///     pci: "0000:3b:00.0"
///     driver: vfio-pci
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NicDriver {
    /// How the templates name the NIC: a PF's selector, or the DPDK uplink's name or PCI address.
    pub selector: PfSelector,
    /// Its network interface (the name it had before a userspace driver took it), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci: Option<PciAddr>,
    /// The driver, by its canonical name (`vfio-pci`).
    pub driver: DriverName,
    pub owners: BTreeSet<String>,
}

impl NicDriver {
    /// Whether the driver takes the NIC from the kernel's network stack (`vfio-pci` and the like),
    /// which is when plumber binds it; a kernel driver is only checked.
    pub fn binds(&self) -> bool {
        self.driver.is_userspace()
    }
}

/// An OVS bridge and its ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OvsBridge {
    pub name: String,
    /// `netdev` (DPDK, userspace) or `system` (kernel datapath).
    pub dpdk: bool,
    /// `mtu_request` of the bridge's own (internal) interface, where HostPlumber sets it and what a host
    /// address on the bridge uses (`params.mtuRequest`, also on every uplink interface). `None`: left as
    /// it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu_request: Option<u32>,
    pub ports: Vec<OvsPort>,
    pub owners: BTreeSet<String>,
}

/// A port: one interface, or a bond of several.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OvsPort {
    pub name: String,
    pub interfaces: Vec<OvsInterface>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bond_mode: Option<OvsBondMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lacp: Option<Lacp>,
}

impl OvsPort {
    pub fn is_bond(&self) -> bool {
        self.interfaces.len() > 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OvsInterface {
    pub name: String,
    /// DPDK interfaces: the PCI device (`options:dpdk-devargs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpdk_devargs: Option<PciAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu_request: Option<u32>,
}

impl NodeConfig {
    pub fn template_names(&self) -> Vec<&str> {
        self.templates.iter().map(|t| t.name.as_str()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
            && self.sriov.is_empty()
            && self.ovs.is_empty()
            && self.nic_drivers.is_empty()
    }

    /// Links in an order that creates parents before children: devices, bonds and bridges, then VLANs.
    pub fn links_in_creation_order(&self) -> Vec<&Link> {
        let rank = |l: &Link| match l.kind {
            LinkKind::Device => 0,
            LinkKind::Bond { .. } | LinkKind::Bridge { .. } => 1,
            LinkKind::Vlan { .. } => 2,
        };
        let mut v: Vec<&Link> = self.links.values().collect();
        v.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name)));
        v
    }
}
