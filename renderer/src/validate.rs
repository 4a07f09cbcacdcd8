//! Rules that span several fields of one template. Single values were checked while parsing; what is left
//! here needs context (one PF selector per entry, unique VLAN ids, the VLAN name that the kernel will
//! see, ...). Every problem is reported, not only the first, each with its YAML path and value. Rules that
//! span templates run after merging ([`crate::merge`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::FieldError;
use crate::escape::printable;
use crate::model::*;
use crate::parse::Loaded;

/// All problems of one template; empty when it is valid.
pub fn validate(t: &Loaded) -> Vec<FieldError> {
    let mut v = Validator {
        t,
        errors: Vec::new(),
    };
    v.metadata();
    v.sriov();
    v.interfaces();
    v.bonds();
    v.bridges();
    v.ovs();
    v.errors
}

/// The kernel name of a VLAN: its own name or `<parent>.<id>`.
pub fn vlan_name(parent: &str, vlan: &VlanConfig) -> String {
    match &vlan.name {
        Some(n) => n.to_string(),
        None => format!("{parent}.{}", vlan.id),
    }
}

struct Validator<'a> {
    t: &'a Loaded,
    errors: Vec<FieldError>,
}

impl Validator<'_> {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            origin: self.t.origin.clone(),
            path: path.into(),
            message: message.into(),
        });
    }

    fn metadata(&mut self) {
        let name = &self.t.template.metadata.name;
        if name.is_empty() || name.len() > 253 || name.chars().any(|c| c.is_control()) {
            self.err(
                "metadata.name",
                format!(
                    "{} is not a usable name (1 to 253 printable characters)",
                    printable(name)
                ),
            );
        }
        // A misspelt value (`"yes"`, `"True"`) would silently mean false.
        for key in crate::model::SWITCHES {
            if let Some(v) = self.t.template.metadata.annotations.get(*key) {
                if v != "true" && v != "false" {
                    self.err(
                        format!("metadata.annotations.{key}"),
                        format!("{} is not \"true\" or \"false\"", printable(v)),
                    );
                }
            }
        }
        let sel = self.t.template.spec.node_selector.clone();
        for (k, val) in &sel {
            if let Err(e) = check_label_key(k) {
                self.err(format!("spec.nodeSelector.{}", printable(k)), e);
            }
            if let Err(e) = check_label_value(val) {
                self.err(format!("spec.nodeSelector.{}", printable(k)), e);
            }
        }
    }

    fn sriov(&mut self) {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, s) in self.t.template.spec.sriov_config.iter().enumerate() {
            let p = format!("spec.sriovConfig[{i}]");
            let by_ids = s.vendor_id.is_some() || s.device_id.is_some();
            if s.pf_name.is_none() && s.pci_addr.is_none() && !by_ids {
                self.err(
                    &p,
                    "no PF selector: set one of pfName, pciAddr or vendorId+deviceId",
                );
            }
            // A lone vendorId or deviceId selects nothing; beside pfName or pciAddr it is ignored
            // (a warning, [`ignored_selectors`]), as HostPlumber ignores it.
            if s.pf_name.is_none() && s.pci_addr.is_none() {
                match (s.vendor_id, s.device_id) {
                    (Some(v), None) => self.err(
                        format!("{p}.vendorId"),
                        format!("{v} needs a deviceId next to it"),
                    ),
                    (None, Some(d)) => self.err(
                        format!("{p}.deviceId"),
                        format!("{d} needs a vendorId next to it"),
                    ),
                    _ => {}
                }
            }
            let key = if let Some(n) = &s.pf_name {
                format!("pfName {n}")
            } else if let Some(a) = &s.pci_addr {
                format!("pciAddr {a}")
            } else {
                format!(
                    "vendorId {:?} deviceId {:?}",
                    s.vendor_id.map(|v| v.to_string()),
                    s.device_id.map(|v| v.to_string())
                )
            };
            if let Some(j) = seen.insert(key.clone(), i) {
                self.err(
                    &p,
                    format!("{key} is already configured by spec.sriovConfig[{j}]"),
                );
            }
            self.vfs(&p, s);
            self.pool_options(
                &p,
                s.resource_name.is_some(),
                [
                    (s.resource_prefix.is_some(), "resourcePrefix"),
                    (s.need_vhost_net.is_some(), "needVhostNet"),
                    (s.is_rdma.is_some(), "isRdma"),
                    (!s.networks.is_empty(), "networks"),
                ],
            );
            self.networks(&p, &s.networks);
            if let Some(r) = &s.resource_name {
                let pf_mode = s.pf_driver.as_ref().is_some_and(|d| d.is_userspace());
                if s.num_vfs.map(|n| n.get()).unwrap_or(0) == 0 && !pf_mode {
                    self.err(
                        format!("{p}.resourceName"),
                        format!(
                            "{r} is a pool of this PF's VFs and needs numVfs above 0 on the PF (or, \
                             for the whole NIC as a pool, pfDriver: vfio-pci)"
                        ),
                    );
                }
            }
            self.pf_driver(&p, s);
        }
    }

    /// `resourcePrefix`, `needVhostNet` and `isRdma` describe a pool: only beside `resourceName`.
    fn pool_options(&mut self, p: &str, name: bool, options: [(bool, &str); 4]) {
        if name {
            return;
        }
        for (set, field) in options {
            if set {
                self.err(
                    format!("{p}.{field}"),
                    "describes a device plugin pool: set resourceName next to it",
                );
            }
        }
    }

    /// A pool's networks: each name once per namespace.
    fn networks(&mut self, p: &str, networks: &[NetworkConfig]) {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (k, n) in networks.iter().enumerate() {
            for ns in crate::networks::namespaces(n) {
                let key = (ns.to_string(), n.name.as_str().to_string());
                if let Some(j) = seen.insert(key, k) {
                    self.err(
                        format!("{p}.networks[{k}].name"),
                        format!(
                            "{} in namespace {ns} is declared by {p}.networks[{j}] already",
                            n.name.as_str()
                        ),
                    );
                }
            }
        }
    }

    /// A PF given to a userspace driver has no network interface: no VFs (the kernel's PF driver
    /// makes them), no VF driver, no MTU, no VF settings beside it.
    fn pf_driver(&mut self, p: &str, s: &SriovConfig) {
        let Some(d) = s.pf_driver.as_ref().filter(|d| d.is_userspace()) else {
            return;
        };
        let fix = format!(
            "{d} takes the whole NIC (no network interface, no VFs): remove pfDriver to keep the \
             PF's kernel driver, or leave numVfs out (or 0) to give the NIC to {d}"
        );
        if s.pf_name.is_none() && s.pci_addr.is_none() {
            self.err(
                format!("{p}.pfDriver"),
                format!(
                    "{d} by vendorId and deviceId would take every NIC of that model, the node's own \
                     uplink too, at runtime and at every boot: name the NIC by pfName or pciAddr"
                ),
            );
        }
        if let Some(n) = s.num_vfs.filter(|n| n.get() > 0) {
            self.err(
                format!("{p}.numVfs"),
                format!("{n} VFs with pfDriver {d}; {fix}"),
            );
        }
        let others = [
            ("vfDriver", s.vf_driver.is_some()),
            ("mtu", s.mtu.is_some()),
            ("vfs", !s.vfs.is_empty()),
        ];
        for (field, set) in others {
            if set {
                self.err(
                    format!("{p}.{field}"),
                    format!("is set with pfDriver {d}, which has no network interface or VFs to apply it to; {fix}"),
                );
            }
        }
    }

    fn vfs(&mut self, p: &str, s: &SriovConfig) {
        let mut taken: BTreeMap<u32, usize> = BTreeMap::new();
        for (j, vf) in s.vfs.iter().enumerate() {
            let vp = format!("{p}.vfs[{j}]");
            match s.num_vfs {
                None => self.err(
                    format!("{vp}.id"),
                    format!("{} needs numVfs on the PF", vf.id),
                ),
                Some(n) if vf.id.last >= n.get() => self.err(
                    format!("{vp}.id"),
                    format!("{} is not below numVfs {n} (VF ids start at 0)", vf.id),
                ),
                _ => {}
            }
            if let Some(first) = vf.id.iter().find_map(|id| taken.get(&id).map(|k| (id, *k))) {
                self.err(
                    format!("{vp}.id"),
                    format!("{} overlaps {p}.vfs[{}] at VF {}", vf.id, first.1, first.0),
                );
            }
            for id in vf.id.iter() {
                taken.entry(id).or_insert(j);
            }
            if let Some(mac) = vf.mac {
                if vf.id.len() > 1 {
                    self.err(
                        format!("{vp}.mac"),
                        format!(
                            "{mac} would be given to {} VFs ({}); set a MAC per VF",
                            vf.id.len(),
                            vf.id
                        ),
                    );
                }
            }
            if let Some(q) = vf.qos {
                if q.get() != 0 && vf.vlan.map(|v| v.get()).unwrap_or(0) == 0 {
                    self.err(
                        format!("{vp}.qos"),
                        format!("{q} needs a non-zero vlan on the VF"),
                    );
                }
            }
            self.pool_options(
                &vp,
                vf.resource_name.is_some(),
                [
                    (vf.resource_prefix.is_some(), "resourcePrefix"),
                    (vf.need_vhost_net.is_some(), "needVhostNet"),
                    (vf.is_rdma.is_some(), "isRdma"),
                    (!vf.networks.is_empty(), "networks"),
                ],
            );
            self.networks(&vp, &vf.networks);
            if let (Some(min), Some(max)) = (vf.min_tx_rate, vf.max_tx_rate) {
                if max.get() != 0 && min.get() > max.get() {
                    self.err(
                        format!("{vp}.minTxRate"),
                        format!("{min} is above maxTxRate {max}"),
                    );
                }
            }
        }
    }

    fn interfaces(&mut self) {
        let spec = &self.t.template.spec;
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut vlans: BTreeMap<String, String> = BTreeMap::new();
        let mut mtus: BTreeMap<String, u32> = BTreeMap::new();
        for ic in &spec.interface_config {
            if let Some(m) = ic.mtu {
                mtus.insert(ic.name.to_string(), m.get());
            }
        }
        for (i, ic) in spec.interface_config.iter().enumerate() {
            let p = format!("spec.interfaceConfig[{i}]");
            if let Some(prev) = names.insert(ic.name.to_string(), format!("{p}.name")) {
                self.err(
                    format!("{p}.name"),
                    format!("{} is already configured at {prev}", ic.name),
                );
            }
            let mut ids: BTreeMap<u16, usize> = BTreeMap::new();
            for (j, vl) in ic.vlan.iter().enumerate() {
                let vp = format!("{p}.vlan[{j}]");
                if let Some(k) = ids.insert(vl.id.get(), j) {
                    self.err(
                        format!("{vp}.id"),
                        format!(
                            "{} is already a VLAN of {} at {p}.vlan[{k}]",
                            vl.id, ic.name
                        ),
                    );
                }
                let vname = vlan_name(ic.name.as_str(), vl);
                if vl.name.is_none() {
                    if let Err(e) = check_ifname(&vname) {
                        self.err(
                            &vp,
                            format!("the VLAN's name {e}; give it a shorter name with `name:`"),
                        );
                    }
                }
                if vname == ic.name.as_str() {
                    self.err(
                        format!("{vp}.name"),
                        format!("{vname} is the name of its own parent"),
                    );
                }
                if let Some(prev) = vlans.insert(vname.clone(), vp.clone()) {
                    self.err(&vp, format!("{vname} is already defined at {prev}"));
                }
                // The kernel refuses a VLAN MTU above its parent's.
                if let (Some(parent), Some(own)) = (ic.mtu, mtus.get(&vname)) {
                    if *own > parent.get() {
                        let at = spec
                            .interface_config
                            .iter()
                            .position(|x| x.name.as_str() == vname)
                            .unwrap_or(0);
                        self.err(
                            format!("spec.interfaceConfig[{at}].mtu"),
                            format!(
                                "{own} is above the MTU {parent} of {vname}'s parent {}",
                                ic.name
                            ),
                        );
                    }
                }
            }
            for (fam, cfg) in [("ipv4", &ic.ipv4), ("ipv6", &ic.ipv6)] {
                if let Some(c) = cfg {
                    self.ip(&format!("{p}.{fam}"), fam == "ipv6", c);
                }
            }
        }
    }

    fn ip(&mut self, p: &str, v6: bool, c: &IpConfig) {
        let fam = if v6 { "IPv6" } else { "IPv4" };
        if c.address.is_none() && c.dhcp.is_none() {
            let what = if c.routes.is_empty() {
                "states nothing".to_string()
            } else {
                format!("has routes but states no {fam} address or DHCP")
            };
            let key = if v6 { "ipv6" } else { "ipv4" };
            self.err(
                p.to_string(),
                format!(
                    "{} {what}: plumber manages a family's addresses only when the template says what they are. \
                     Leave `{key}` out to keep the addresses, DHCP and routes the host configured, write \
                     `{key}: {{address: []}}` to remove every {fam} address, or list the addresses (or `dhcp: true`)",
                    if c.routes.is_empty() { "{}" } else { "this section" }
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, a) in c.address.iter().flatten().enumerate() {
            if a.is_ipv4() == v6 {
                self.err(
                    format!("{p}.address[{i}]"),
                    format!("{a} is not an {fam} address"),
                );
            }
            if !seen.insert(a.addr) {
                self.err(format!("{p}.address[{i}]"), format!("{a} is listed twice"));
            }
            if !v6 && a.prefix < 31 && a.addr == a.network() {
                self.err(
                    format!("{p}.address[{i}]"),
                    format!("{a} is the network address of its prefix, not a host address"),
                );
            }
        }
        let mut routes = BTreeSet::new();
        for (i, r) in c.routes.iter().enumerate() {
            if r.to.is_ipv4() == Some(v6) {
                self.err(
                    format!("{p}.routes[{i}].to"),
                    format!("{} is not an {fam} prefix", r.to),
                );
            }
            if let Some(via) = r.via {
                if via.is_ipv4() == v6 {
                    self.err(
                        format!("{p}.routes[{i}].via"),
                        format!("{via} is not an {fam} address"),
                    );
                }
            }
            if let Some(via) = r.via.filter(|via| via.is_ipv4() != v6) {
                self.gateway_on_link(&format!("{p}.routes[{i}].via"), fam, via, c);
            }
            if !routes.insert((r.to, r.table.map(|t| t.get()), r.metric.map(|m| m.get()))) {
                self.err(
                    format!("{p}.routes[{i}]"),
                    format!("the route to {} is listed twice", r.to),
                );
            }
        }
    }

    /// The kernel refuses a route whose gateway is not directly reachable (`Network is unreachable`), and
    /// NetworkManager, networkd and ifup fail the same way at boot: a gateway must be inside a subnet of
    /// the link's own addresses or of an on-link route (one without `via`) of the same section. With DHCP
    /// the subnets are the lease's, unknown here; an IPv6 link-local gateway is always on the link.
    fn gateway_on_link(&mut self, p: &str, fam: &str, via: std::net::IpAddr, c: &IpConfig) {
        if c.dhcp == Some(true) {
            return;
        }
        if let std::net::IpAddr::V6(v6) = via {
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                return;
            }
        }
        let v6 = via.is_ipv6();
        let subnets: Vec<IpCidr> = c
            .address
            .iter()
            .flatten()
            .copied()
            .chain(
                c.routes
                    .iter()
                    .filter(|r| r.via.is_none())
                    .map(|r| r.to.cidr(v6)),
            )
            .filter(|s| s.is_ipv4() != v6)
            .collect();
        // No subnet at all is the "routes but no address" rule's to report, with its own fix.
        if subnets.is_empty() || subnets.iter().any(|s| s.contains(via)) {
            return;
        }
        let shown: Vec<String> = subnets
            .iter()
            .map(|s| format!("{}/{}", s.network(), s.prefix))
            .collect();
        let host = if v6 { 64 } else { 24 };
        let hint = IpCidr {
            addr: via,
            prefix: host,
        };
        self.err(
            p.to_string(),
            format!(
                "{via} is outside every {fam} subnet of this link ({}): the kernel refuses a gateway it cannot \
                 reach directly, at apply and at boot. Use a gateway inside {}, or add an on-link route to \
                 the gateway's subnet in the same section (`{{to: {}/{host}}}`, no via)",
                shown.join(", "),
                shown.join(" or "),
                hint.network(),
            ),
        );
    }

    fn members(&mut self, p: &str, name: &IfName, members: &[IfName]) {
        if members.is_empty() {
            self.err(format!("{p}.members"), format!("{name} has no members"));
        }
        let mut seen = BTreeSet::new();
        for (i, m) in members.iter().enumerate() {
            if m == name {
                self.err(
                    format!("{p}.members[{i}]"),
                    format!("{m} cannot be a member of itself"),
                );
            }
            if !seen.insert(m) {
                self.err(format!("{p}.members[{i}]"), format!("{m} is listed twice"));
            }
        }
    }

    fn bonds(&mut self) {
        let spec = &self.t.template.spec;
        let mut names = BTreeMap::new();
        for (i, b) in spec.bond_config.iter().enumerate() {
            let p = format!("spec.bondConfig[{i}]");
            if let Some(j) = names.insert(b.name.clone(), i) {
                self.err(
                    format!("{p}.name"),
                    format!("{} is already defined at spec.bondConfig[{j}]", b.name),
                );
            }
            self.members(&p, &b.name, &b.members);
            if let Some(o) = &b.options {
                if let Some(pr) = &o.primary {
                    if !b.members.contains(pr) {
                        self.err(
                            format!("{p}.options.primary"),
                            format!("{pr} is not a member of {}", b.name),
                        );
                    }
                    if !matches!(
                        b.mode,
                        BondMode::ActiveBackup | BondMode::BalanceTlb | BondMode::BalanceAlb
                    ) {
                        self.err(format!("{p}.options.primary"), format!("{pr}: primary needs mode active-backup, balance-tlb or balance-alb, not {}", b.mode.as_str()));
                    }
                }
                if let Some(r) = o.lacp_rate {
                    if b.mode != BondMode::Lacp {
                        self.err(
                            format!("{p}.options.lacpRate"),
                            format!("{} needs mode 802.3ad, not {}", r.as_str(), b.mode.as_str()),
                        );
                    }
                }
                if let Some(x) = o.xmit_hash_policy {
                    if !matches!(
                        b.mode,
                        BondMode::Lacp
                            | BondMode::BalanceXor
                            | BondMode::BalanceTlb
                            | BondMode::BalanceAlb
                    ) {
                        self.err(format!("{p}.options.xmitHashPolicy"), format!("{} needs mode 802.3ad, balance-xor, balance-tlb or balance-alb, not {}", x.as_str(), b.mode.as_str()));
                    }
                }
            }
        }
    }

    fn bridges(&mut self) {
        let spec = &self.t.template.spec;
        let mut names = BTreeMap::new();
        for (i, b) in spec.bridge_config.iter().enumerate() {
            let p = format!("spec.bridgeConfig[{i}]");
            if let Some(j) = names.insert(b.name.clone(), i) {
                self.err(
                    format!("{p}.name"),
                    format!("{} is already defined at spec.bridgeConfig[{j}]", b.name),
                );
            }
            if b.members.is_empty() {
                // A bridge without ports is legitimate (e.g. a VM network); nothing to check.
            } else {
                let mut seen = BTreeSet::new();
                for (k, m) in b.members.iter().enumerate() {
                    if m == &b.name {
                        self.err(
                            format!("{p}.members[{k}]"),
                            format!("{m} cannot be a member of itself"),
                        );
                    }
                    if !seen.insert(m) {
                        self.err(format!("{p}.members[{k}]"), format!("{m} is listed twice"));
                    }
                }
            }
            if b.forward_delay.is_some() && b.stp == Some(false) {
                self.err(format!("{p}.forwardDelay"), "only applies with stp: true");
            }
        }
    }

    fn ovs(&mut self) {
        let spec = &self.t.template.spec;
        let mut names = BTreeMap::new();
        for (i, o) in spec.ovs_config.iter().enumerate() {
            let p = format!("spec.ovsConfig[{i}]");
            if let Some(j) = names.insert(o.bridge_name.clone(), i) {
                self.err(
                    format!("{p}.bridgeName"),
                    format!(
                        "{} is already defined at spec.ovsConfig[{j}]",
                        o.bridge_name
                    ),
                );
            }
            let uplinks = o
                .node_interface
                .as_ref()
                .map(|n| n.0.as_slice())
                .unwrap_or(&[]);
            let mut seen = BTreeSet::new();
            for u in uplinks {
                if !seen.insert(u) {
                    self.err(format!("{p}.nodeInterface"), format!("{u} is listed twice"));
                }
                if let Uplink::Pci(a) = u {
                    if !o.dpdk {
                        self.err(format!("{p}.nodeInterface"), format!("{a} is a PCI address, which only a DPDK bridge (dpdk: true) can use"));
                    }
                }
                if let Uplink::Name(n) = u {
                    if n == &o.bridge_name {
                        self.err(
                            format!("{p}.nodeInterface"),
                            format!("{n} is the bridge itself"),
                        );
                    }
                }
            }
            if let Some(params) = &o.params {
                if uplinks.len() < 2 {
                    if let Some(m) = params.bond_mode {
                        self.err(
                            format!("{p}.params.bondMode"),
                            format!(
                                "{} needs an OVS bond: list at least 2 interfaces in nodeInterface",
                                m.as_str()
                            ),
                        );
                    }
                    if let Some(l) = params.lacp {
                        self.err(
                            format!("{p}.params.lacp"),
                            format!(
                                "{} needs an OVS bond: list at least 2 interfaces in nodeInterface",
                                l.as_str()
                            ),
                        );
                    }
                }
                if params.mtu_request.is_some() && uplinks.is_empty() {
                    self.err(
                        format!("{p}.params.mtuRequest"),
                        "needs a nodeInterface to apply to",
                    );
                }
            }
        }
    }
}

/// One warning per `sriovConfig` entry that names its PF in more than one way. HostPlumber accepts
/// that and uses `pfName`, else `pciAddr`, else `vendorId`+`deviceId`; so does plumber, and says
/// which selectors it ignored:
///
/// ```yaml
/// sriovConfig:
///   - pfName: eno2            # used
///     pciAddr: 0000:03:00.0   # ignored, with a warning
/// ```
pub(crate) fn ignored_selectors(t: &Loaded) -> Vec<FieldError> {
    let mut out = Vec::new();
    for (i, s) in t.template.spec.sriov_config.iter().enumerate() {
        let mut given = Vec::new();
        if let Some(n) = &s.pf_name {
            given.push(format!("pfName {n}"));
        }
        if let Some(a) = &s.pci_addr {
            given.push(format!("pciAddr {a}"));
        }
        let ids = [
            s.vendor_id.map(|v| format!("vendorId {v}")),
            s.device_id.map(|d| format!("deviceId {d}")),
        ];
        let ids: Vec<String> = ids.into_iter().flatten().collect();
        if !ids.is_empty() {
            given.push(ids.join(" "));
        }
        if given.len() > 1 {
            out.push(FieldError {
                origin: t.origin.clone(),
                path: format!("spec.sriovConfig[{i}]"),
                message: format!(
                    "{} each select the PF; {} is used and {} ignored (pfName, else pciAddr, else \
                     vendorId+deviceId, as HostPlumber does): keep only the one you mean",
                    given.join(", "),
                    given[0],
                    given[1..].join(" and "),
                ),
            });
        }
    }
    out
}
