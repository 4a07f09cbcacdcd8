//! Open vSwitch: `ovsConfig` claims per bridge, the merged [`OvsBridge`]s with their ports (one bond port
//! for several uplinks, named as HostPlumber names them: [`ovs_names`](super::ovs_names); DPDK
//! interfaces resolved to PCI addresses), and the DPDK checks: an uplink that is also a Linux
//! interface, a member or an SR-IOV PF.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::{FieldError, Origin};
use crate::model::*;
use crate::node::*;
use crate::parse::Loaded;

use super::claims::{claim, claim_opt, Claim};
use super::ovs_names::uplink_names;
use super::Merger;

/// What the templates claimed for one OVS bridge.
#[derive(Default)]
pub(super) struct OvsB {
    dpdk: Option<Claim<bool>>,
    uplinks: Option<Claim<UplinksV>>,
    mtu_request: Option<Claim<u32>>,
    bond_mode: Option<Claim<String>>,
    lacp: Option<Claim<String>>,
    owners: BTreeSet<String>,
}

/// A bridge's uplinks, as claimed (shown as "nodeInterface eno1,eno2").
#[derive(Clone, PartialEq)]
struct UplinksV(Vec<Uplink>);
impl fmt::Display for UplinksV {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<String> = self.0.iter().map(|u| u.to_string()).collect();
        write!(f, "nodeInterface {}", v.join(","))
    }
}

/// Where each OVS bridge's uplink was set, for errors found after merging.
pub(super) type UplinkOrigins = BTreeMap<String, (Origin, String)>;

impl Merger<'_> {
    /// One `ovsConfig` entry.
    pub(super) fn ovs_bridge(&mut self, t: &Loaded, i: usize, o: &OvsConfig) {
        let p = format!("spec.ovsConfig[{i}]");
        let name = o.bridge_name.to_string();
        let params = o.params.clone().unwrap_or_default();
        let dpdk = self.c(t, format!("{p}.dpdk"), o.dpdk);
        let uplinks = o.node_interface.as_ref().map(|n| {
            let v = UplinksV(n.0.clone());
            self.c(t, format!("{p}.nodeInterface"), v)
        });
        let mtu_request = params
            .mtu_request
            .map(|m| self.c(t, format!("{p}.params.mtuRequest"), m.get()));
        let bond_mode = params.bond_mode.map(|m| {
            let m = m.as_str().to_string();
            self.c(t, format!("{p}.params.bondMode"), m)
        });
        let lacp = params.lacp.map(|l| {
            let l = l.as_str().to_string();
            self.c(t, format!("{p}.params.lacp"), l)
        });
        let c = &mut self.conflicts;
        let b = self.ovs.entry(name.clone()).or_default();
        b.owners.insert(t.name().to_string());
        claim(
            &mut b.dpdk,
            dpdk,
            || format!("dpdk of OVS bridge {name}"),
            c,
        );
        let field = || format!("the uplink of OVS bridge {name}");
        claim_opt(&mut b.uplinks, uplinks, field, c);
        let field = || format!("mtuRequest of OVS bridge {name}");
        claim_opt(&mut b.mtu_request, mtu_request, field, c);
        let field = || format!("bondMode of OVS bridge {name}");
        claim_opt(&mut b.bond_mode, bond_mode, field, c);
        let field = || format!("lacp of OVS bridge {name}");
        claim_opt(&mut b.lacp, lacp, field, c);
    }

    /// The merged bridges and where their uplinks were set; errors for a bridge that is also a
    /// Linux interface, an uplink that is a member, a DPDK uplink without a PCI address.
    pub(super) fn ovs_done(
        &mut self,
        links: &BTreeMap<String, Link>,
    ) -> (Vec<OvsBridge>, UplinkOrigins) {
        let mut ovs = Vec::new();
        let mut origins = UplinkOrigins::new();
        for (name, b) in std::mem::take(&mut self.ovs) {
            let dpdk = b.dpdk.as_ref().map(|c| c.value).unwrap_or(false);
            if links.contains_key(&name) {
                self.errors.push(FieldError {
                    origin: b
                        .dpdk
                        .as_ref()
                        .map(|c| (*c.origin).clone())
                        .unwrap_or_default(),
                    path: b
                        .dpdk
                        .as_ref()
                        .map(|c| c.path.replace(".dpdk", ".bridgeName"))
                        .unwrap_or_default(),
                    message: format!("{name} is also a Linux interface configured by plumber"),
                });
            }
            let mut ports = Vec::new();
            let mtu_request = b.mtu_request.as_ref().map(|c| c.value);
            if let Some(up) = &b.uplinks {
                origins.insert(name.clone(), up.place());
                let (port_name, names) = uplink_names(&name, dpdk, &up.value.0);
                let ifaces: Vec<OvsInterface> = up
                    .value
                    .0
                    .iter()
                    .zip(names)
                    .filter_map(|(u, n)| self.ovs_interface(u, n, dpdk, mtu_request, up, links))
                    .collect();
                ports.extend(port(port_name, &b, ifaces));
            }
            ovs.push(OvsBridge {
                name,
                dpdk,
                mtu_request,
                ports,
                owners: b.owners,
            });
        }
        (ovs, origins)
    }

    /// One uplink's OVS interface, named `name`, or an error for it.
    fn ovs_interface(
        &mut self,
        u: &Uplink,
        name: String,
        dpdk: bool,
        mtu_request: Option<u32>,
        up: &Claim<UplinksV>,
        links: &BTreeMap<String, Link>,
    ) -> Option<OvsInterface> {
        let (origin, path) = up.place();
        match (u, dpdk) {
            (Uplink::Name(n), false) => {
                let link = links.get(n.as_str());
                if let Some(c) = link.and_then(|l| l.controller.as_ref()) {
                    self.errors.push(FieldError {
                        origin: origin.clone(),
                        path: path.clone(),
                        message: format!(
                            "{n} is a member of {}; it cannot also be an OVS port",
                            c.name
                        ),
                    });
                }
                // What runtime and boot refuse on the node, the templates cannot state either.
                let addressed = |v6| {
                    link.and_then(|l| l.family(v6))
                        .is_some_and(|a| !a.addresses.is_empty() || a.dhcp)
                };
                if addressed(false) || addressed(true) {
                    self.errors.push(FieldError {
                        origin,
                        path,
                        message: format!(
                            "{n} has addresses or DHCP in interfaceConfig, and an OVS port's own addresses stop working (the datapath takes its frames); leave them out of {n}'s entry (`address: []` removes the host's), or name another interface"
                        ),
                    });
                }
                Some(OvsInterface {
                    name,
                    dpdk_devargs: None,
                    mtu_request,
                })
            }
            (Uplink::Name(n), true) => {
                let pci = self
                    .uplink_inventory()
                    .and_then(|inv| inv.by_name(n.as_str()))
                    .and_then(|i| i.pci_addr);
                if pci.is_none() {
                    self.errors.push(FieldError {
                        origin,
                        path,
                        message: format!(
                            "{n} is a DPDK uplink and its PCI address is unknown: write the PCI address (0000:03:00.0) or render with an inventory that lists {n}"
                        ),
                    });
                }
                pci.map(|a| OvsInterface {
                    name,
                    dpdk_devargs: Some(a),
                    mtu_request,
                })
            }
            (Uplink::Pci(a), _) => Some(OvsInterface {
                name,
                dpdk_devargs: Some(*a),
                mtu_request,
            }),
        }
    }
}

/// The bridge's one port, named `name`: a bond of its interfaces when there are several.
fn port(name: String, b: &OvsB, mut ifaces: Vec<OvsInterface>) -> Option<OvsPort> {
    if ifaces.len() > 1 {
        Some(OvsPort {
            name,
            interfaces: ifaces,
            bond_mode: b.bond_mode.as_ref().map(|c| match c.value.as_str() {
                "active-backup" => OvsBondMode::ActiveBackup,
                "balance-slb" => OvsBondMode::BalanceSlb,
                _ => OvsBondMode::BalanceTcp,
            }),
            lacp: b.lacp.as_ref().map(|c| match c.value.as_str() {
                "active" => Lacp::Active,
                "passive" => Lacp::Passive,
                _ => Lacp::Off,
            }),
        })
    } else {
        ifaces.pop().map(|i| OvsPort {
            name,
            interfaces: vec![i],
            bond_mode: None,
            lacp: None,
        })
    }
}

/// A device bound to a DPDK driver has no network interface, so its SR-IOV rule could never run.
pub(super) fn check_dpdk_not_sriov(
    ovs: &[OvsBridge],
    sriov: &[SriovPf],
    origins: &UplinkOrigins,
    errors: &mut Vec<FieldError>,
) {
    for b in ovs {
        for i in b.ports.iter().flat_map(|p| &p.interfaces) {
            if let Some(pf) = sriov
                .iter()
                .find(|pf| pf.pci.is_some() && pf.pci == i.dpdk_devargs)
            {
                let (origin, path) = origins.get(&b.name).cloned().unwrap_or_default();
                errors.push(FieldError {
                    origin,
                    path,
                    message: format!(
                        "{} (OVS interface {}) is a DPDK uplink and also an SR-IOV PF ({}); a device cannot be both",
                        i.dpdk_devargs.map(|a| a.to_string()).unwrap_or_default(),
                        i.name,
                        pf.selector
                    ),
                });
            }
        }
    }
}
