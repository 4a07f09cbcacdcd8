//! Open vSwitch: the helper `plumber-ovs`, a POSIX shell script of ovs-vsctl calls that makes OVSDB hold
//! the bridges and ports of the node, and `plumber-ovs.service`, which runs it at boot after ovsdb-server
//! and ovs-vswitchd. The same on every distro whose profile says `init: systemd` (all of them today);
//! for a distro with another init system, OVS configuration is refused, naming it.
//!
//! OVSDB persists by itself; the unit makes plumber's files the source of truth on every boot (a reset
//! database, a template changed while the node was down). The script only adds and updates, never deletes
//! what it does not list (see the template).

use serde::Serialize;
use std::collections::BTreeSet;

use crate::distro::{Distro, InitSystem};
use crate::error::{Error, Result};
use crate::node::{NodeConfig, OvsBridge, OvsPort};

use super::{header, render_template, Artifact};

#[derive(Serialize)]
struct ScriptCtx {
    /// Some bridge uses the DPDK (netdev) datapath.
    dpdk: bool,
    bridges: Vec<BridgeCtx>,
}

#[derive(Serialize)]
struct BridgeCtx {
    name: String,
    /// `datapath_type`: `system` or `netdev`.
    datapath: &'static str,
    /// `mtu_request` of the bridge's own interface; `None`: left as it is.
    mtu_request: Option<u32>,
    ports: Vec<PortCtx>,
}

#[derive(Serialize)]
struct PortCtx {
    name: String,
    bond: bool,
    bond_mode: Option<&'static str>,
    lacp: Option<&'static str>,
    interfaces: Vec<IfaceCtx>,
}

#[derive(Serialize)]
struct IfaceCtx {
    name: String,
    dpdk_devargs: Option<String>,
    mtu_request: Option<u32>,
}

#[derive(Serialize)]
struct UnitCtx {
    helper: String,
}

fn port_ctx(p: &OvsPort) -> PortCtx {
    PortCtx {
        name: p.name.clone(),
        bond: p.is_bond(),
        bond_mode: p.bond_mode.map(|m| m.as_str()),
        lacp: p.lacp.map(|l| l.as_str()),
        interfaces: p
            .interfaces
            .iter()
            .map(|i| IfaceCtx {
                name: i.name.clone(),
                dpdk_devargs: i.dpdk_devargs.map(|a| a.to_string()),
                mtu_request: i.mtu_request,
            })
            .collect(),
    }
}

fn bridge_ctx(b: &OvsBridge) -> BridgeCtx {
    BridgeCtx {
        name: b.name.clone(),
        datapath: if b.dpdk { "netdev" } else { "system" },
        mtu_request: b.mtu_request,
        ports: b.ports.iter().map(port_ctx).collect(),
    }
}

pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    if node.ovs.is_empty() {
        return Ok(Vec::new());
    }
    let owners: BTreeSet<&str> = node
        .ovs
        .iter()
        .flat_map(|b| b.owners.iter().map(String::as_str))
        .collect();
    if distro.init != InitSystem::Systemd {
        return Err(Error::Usage(format!(
            "spec.ovsConfig (in {}): distro {} starts services with {}, and plumber's Open vSwitch boot unit (plumber-ovs.service) is a systemd unit; leave out ovsConfig for its nodes, or render for a distro whose profile says `init: systemd`",
            owners.iter().copied().collect::<Vec<_>>().join(", "),
            distro.name,
            distro.init
        )));
    }
    let head = header(owners.iter().copied());
    let helper = format!("{}/plumber-ovs", distro.paths.helpers);
    let units = &distro.paths.units;
    let unit = format!("{units}/plumber-ovs.service");

    let ctx = ScriptCtx {
        dpdk: node.ovs.iter().any(|b| b.dpdk),
        bridges: node.ovs.iter().map(bridge_ctx).collect(),
    };
    let script = render_template("plumber-ovs.sh.j2", &helper, &head, &ctx)?;
    let service = render_template(
        "plumber-ovs.service.j2",
        &unit,
        &head,
        &UnitCtx {
            helper: helper.clone(),
        },
    )?;
    Ok(vec![
        Artifact::file(helper, 0o755, script),
        Artifact::file(unit, 0o644, service),
        // `systemctl enable`, relative so that it also holds in an image root or an `--out` tree.
        Artifact {
            path: format!("{units}/multi-user.target.wants/plumber-ovs.service"),
            mode: 0o777,
            content: String::new(),
            symlink: Some("../plumber-ovs.service".to_string()),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lacp, OvsBondMode, PciAddr};
    use crate::node::OvsInterface;

    fn distro(name: &str) -> Distro {
        Distro::all().into_iter().find(|d| d.name == name).unwrap()
    }

    fn node() -> NodeConfig {
        let iface = |n: &str, pci: Option<&str>, mtu: Option<u32>| OvsInterface {
            name: n.into(),
            dpdk_devargs: pci.map(|p| PciAddr::parse(p).unwrap()),
            mtu_request: mtu,
        };
        NodeConfig {
            ovs: vec![
                OvsBridge {
                    name: "br-bond".into(),
                    dpdk: false,
                    mtu_request: Some(9000),
                    ports: vec![OvsPort {
                        name: "bond-br-bond".into(),
                        interfaces: vec![
                            iface("eno1", None, Some(9000)),
                            iface("eno2", None, Some(9000)),
                        ],
                        bond_mode: Some(OvsBondMode::BalanceTcp),
                        lacp: Some(Lacp::Active),
                    }],
                    owners: ["a".to_string()].into(),
                },
                OvsBridge {
                    name: "br-dpdk".into(),
                    dpdk: true,
                    mtu_request: None,
                    ports: vec![OvsPort {
                        name: "dpdk-br-dpdk".into(),
                        interfaces: vec![iface("dpdk-br-dpdk", Some("0000:af:00.0"), None)],
                        bond_mode: None,
                        lacp: None,
                    }],
                    owners: ["b".to_string()].into(),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn nothing_without_ovs() {
        assert!(render(&NodeConfig::default(), &distro("ubuntu"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn script_unit_and_enable_link() {
        let arts = render(&node(), &distro("rhel9")).unwrap();
        let paths: Vec<&str> = arts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/usr/libexec/plumber/plumber-ovs",
                "/etc/systemd/system/plumber-ovs.service",
                "/etc/systemd/system/multi-user.target.wants/plumber-ovs.service",
            ]
        );
        assert_eq!(arts[2].symlink.as_deref(), Some("../plumber-ovs.service"));
        let script = &arts[0].content;
        let head = format!(
            "#!/bin/sh\n# Generated by plumber-render {} from HostNetworkTemplates a, b.\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(script.starts_with(&head), "{script}");
        for line in [
            "vsctl set Open_vSwitch . other_config:dpdk-init=true\n",
            "vsctl --may-exist add-br br-bond -- set Bridge br-bond datapath_type=system \\\n\t-- set Interface br-bond mtu_request=9000\n",
            "if free_of_addresses br-bond eno1 eno2; then\n\tmake_room br-bond bond-br-bond eno1 eno2\n",
            "\tvsctl --may-exist add-bond br-bond bond-br-bond eno1 eno2 \\\n\t\t-- set Port bond-br-bond bond_mode=balance-tcp \\\n\t\t-- set Port bond-br-bond lacp=active \\\n\t\t-- set Interface eno1 mtu_request=9000 \\\n\t\t-- set Interface eno2 mtu_request=9000\nfi\n",
            "vsctl --may-exist add-br br-dpdk -- set Bridge br-dpdk datapath_type=netdev\n",
            "if free_of_addresses br-dpdk; then\n",
            "\tvsctl --may-exist add-port br-dpdk dpdk-br-dpdk \\\n\t\t-- set Interface dpdk-br-dpdk type=dpdk options:dpdk-devargs=0000:af:00.0 -- clear Interface dpdk-br-dpdk mtu_request\nfi\n",
        ] {
            assert!(script.contains(line), "missing {line:?} in\n{script}");
        }
        let unit = &arts[1].content;
        assert!(
            unit.contains("\nExecStart=/usr/libexec/plumber/plumber-ovs\n"),
            "{unit}"
        );
        assert!(unit.contains("\nWantedBy=multi-user.target\n"), "{unit}");
    }

    /// A profile whose init system is not systemd gets no systemd unit: OVS is refused, naming the
    /// init system, the distro and the templates.
    #[test]
    fn no_systemd_unit_for_another_init_system() {
        let mut d = distro("debian");
        d.name = "alpine".into();
        d.init = crate::distro::InitSystem::OpenRc;
        let e = render(&node(), &d).unwrap_err().to_string();
        assert_eq!(
            e,
            "spec.ovsConfig (in a, b): distro alpine starts services with openrc, and plumber's Open vSwitch boot unit (plumber-ovs.service) is a systemd unit; leave out ovsConfig for its nodes, or render for a distro whose profile says `init: systemd`"
        );
        // Nothing to refuse without OVS.
        assert!(render(&NodeConfig::default(), &d).unwrap().is_empty());
        // A profile that does not say is systemd.
        let text = "name: x\norder: 1\ndescription: x\nnetwork: networkd\npaths: {network: /n, udevRules: /u, units: /s, helpers: /h}\nhost: {requires: x, evidence: []}\n";
        let d: Distro = serde_yaml::from_str(text).unwrap();
        assert_eq!(d.init, crate::distro::InitSystem::Systemd);
        assert_eq!(render(&node(), &d).unwrap().len(), 3);
    }

    #[test]
    fn no_dpdk_init_without_dpdk() {
        let mut n = node();
        n.ovs.truncate(1);
        let arts = render(&n, &distro("ubuntu")).unwrap();
        assert!(
            !arts[0].content.contains("dpdk-init"),
            "{}",
            arts[0].content
        );
    }
}
