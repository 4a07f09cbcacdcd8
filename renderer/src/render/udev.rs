//! SR-IOV: `81-plumber-sriov.rules` and its helper `plumber-sriov`, the same on every distro.
//!
//! One rule per physical function (two for a PF known by name, see the template) runs the helper when
//! the PF's network interface appears: at boot, on hotplug and on `udevadm trigger`. The helper is static
//! POSIX shell; everything it needs comes from the rule as arguments, so the rule is the one place that
//! says what a PF gets:
//!
//! ```text
//! plumber-sriov $id $name NUM_VFS VF_DRIVER MTU [vf ID [KEY VALUE]...]...
//! ```
//!
//! `$id` (the PF's PCI address, from `SUBSYSTEMS=="pci"`) and `$name` (the interface's final name) are
//! udev substitutions written literally in the template; every other argument is a value printed through
//! the udev escaper, with `-` for "not set". Per-VF settings are `ip link set dev PF vf ID ...` keys.
//!
//! Rules go from the most specific match to the least (name, PCI address, vendor/device ids) and each
//! ends with `GOTO` past the others, so a PF matched by two entries (named in one template, covered by
//! another's ids) gets one helper run, the most specific one's.
//!
//! The helper sets VFs up only when it creates them: when the PF already has its VFs (a repeated event)
//! it leaves them alone, since they may be in use; changing existing VFs is the applier's runtime job.
//!
//! `sriovConfig.mtu` is the PF's MTU and, as HostPlumber has it, every VF's: when any PF has one, a
//! first rule matches every VF's network interface as it appears (`TEST=="device/physfn"`, after the
//! PF's helper made the VF and a VF driver bound to it) and runs `plumber-sriov $id $name vf KIND VALUE
//! MTU...` with one triple per PF in rule order (`name IFNAME`, `pci ADDR`, `ids VENDOR:DEVICE`); the
//! helper gives the VF the MTU of the first triple that matches its PF (`physfn`). udev cannot compare the
//! `physfn` link's target itself, so the helper does. A VF without a netdev (`vfio-pci`) has no event and
//! no MTU to set.
//!
//! A NIC given whole to a userspace driver ([`NicDriver`]: a PF's `pfDriver: vfio-pci`, a DPDK uplink)
//! gets a rule of the same kinds that runs `plumber-sriov $id $name driver DRIVER`, which binds it; bound,
//! it has no network interface, so the rule cannot fire again (no loop).

use serde::Serialize;
use std::collections::BTreeSet;

use crate::distro::Distro;
use crate::error::{Error, Result};
use crate::node::{NicDriver, NodeConfig, PfSelector, SriovPf, VfSettings};

use super::{header, render_template, Artifact};

/// udev reads rule files line by line into a buffer of this size (`UDEV_LINE_SIZE`) and expands `RUN`
/// into another one; a longer line is refused, so the renderer refuses it first.
const UDEV_LINE_MAX: usize = 16 * 1024 - 1;

#[derive(Serialize)]
struct RulesCtx {
    helper: String,
    pfs: Vec<PfCtx>,
    /// The VF rule's arguments after `$id $name vf`: `KIND VALUE MTU` per PF, in rule order; empty (no
    /// VF rule) when no PF has an MTU.
    vf_args: Vec<String>,
}

#[derive(Serialize)]
struct PfCtx {
    /// How the rule matches the PF: `name`, `pci` or `ids`.
    by: &'static str,
    name: Option<String>,
    pci: Option<String>,
    vendor: Option<String>,
    device: Option<String>,
    /// The helper's arguments after `$id $name`.
    args: Vec<String>,
    /// The PF as the VF rule's helper matches it: `name IFNAME`, `pci ADDR` or `ids VENDOR:DEVICE`.
    vf_match: [String; 2],
    /// `sriovConfig.mtu`, `-` when not set.
    mtu: String,
    /// Whether the VF rule's helper looks at this PF (a NIC given whole to a driver has no VFs).
    has_vfs: bool,
    /// Whether the rule's comment calls the NIC a DPDK uplink (else a PF).
    dpdk: bool,
}

#[derive(Serialize)]
struct HelperCtx {}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

/// `vf ID KEY VALUE...` for one VF, keys in `ip link` order (`qos` must follow `vlan`).
fn vf_args(id: u32, v: &VfSettings, pf: &str, artifact: &str) -> Result<Vec<String>> {
    let mut a = Vec::new();
    if let Some(m) = &v.mac {
        a.extend(["mac".to_string(), m.to_string()]);
    }
    match (v.vlan, v.qos) {
        (Some(vlan), qos) => {
            a.extend(["vlan".to_string(), vlan.to_string()]);
            if let Some(q) = qos {
                a.extend(["qos".to_string(), q.to_string()]);
            }
        }
        // qos 0 is what no qos means; ip link only takes qos after vlan.
        (None, None) | (None, Some(0)) => {}
        (None, Some(q)) => {
            return Err(Error::Render {
                artifact: artifact.to_string(),
                message: format!("qos {q} of VF {id} on {pf} needs a vlan on that VF"),
            })
        }
    }
    if let Some(b) = v.spoofchk {
        a.extend(["spoofchk".to_string(), on_off(b)]);
    }
    if let Some(b) = v.trust {
        a.extend(["trust".to_string(), on_off(b)]);
    }
    if let Some(r) = v.max_tx_rate {
        a.extend(["max_tx_rate".to_string(), r.to_string()]);
    }
    if let Some(r) = v.min_tx_rate {
        a.extend(["min_tx_rate".to_string(), r.to_string()]);
    }
    if a.is_empty() {
        return Ok(a);
    }
    let mut out = vec!["vf".to_string(), id.to_string()];
    out.extend(a);
    Ok(out)
}

/// How a rule matches a device: by interface name when known, else by PCI address, else by vendor and
/// device ids (which are returned); `what` names the device in the error for none of them.
type RuleMatch = (&'static str, Option<String>, Option<String>);

fn rule_match(
    name: &Option<String>,
    pci: &Option<crate::model::PciAddr>,
    selector: &PfSelector,
    what: &str,
    artifact: &str,
) -> Result<RuleMatch> {
    match (name, pci, selector) {
        (Some(_), _, _) => Ok(("name", None, None)),
        (None, Some(_), _) => Ok(("pci", None, None)),
        (None, None, PfSelector::Ids { vendor, device }) => {
            Ok(("ids", Some(vendor.to_string()), Some(device.to_string())))
        }
        (None, None, other) => Err(Error::Render {
            artifact: artifact.to_string(),
            message: format!("the {what} {other} has neither a name nor a PCI address"),
        }),
    }
}

fn pf_ctx(pf: &SriovPf, artifact: &str) -> Result<PfCtx> {
    if let Some(d) = pf.pf_driver.as_ref().filter(|d| d.is_userspace()) {
        let nic = NicDriver {
            selector: pf.selector.clone(),
            name: pf.name.clone(),
            pci: pf.pci,
            driver: d.clone(),
            owners: pf.owners.clone(),
        };
        return nic_ctx(&nic, false, artifact);
    }
    let dash = || "-".to_string();
    let mut args = vec![
        pf.num_vfs.map(|n| n.to_string()).unwrap_or_else(dash),
        pf.vf_driver
            .as_ref()
            .map(|d| d.as_str().to_string())
            .unwrap_or_else(dash),
        pf.mtu.map(|m| m.to_string()).unwrap_or_else(dash),
    ];
    let selector = pf.selector.to_string();
    for (id, v) in &pf.vfs {
        args.extend(vf_args(*id, v, &selector, artifact)?);
    }
    let (by, vendor, device) = rule_match(&pf.name, &pf.pci, &pf.selector, "SR-IOV PF", artifact)?;
    let vf_match = match by {
        "name" => pf.name.clone().unwrap_or_default(),
        "pci" => pf.pci.map(|p| p.to_string()).unwrap_or_default(),
        _ => format!(
            "{}:{}",
            vendor.as_deref().unwrap_or_default(),
            device.as_deref().unwrap_or_default()
        ),
    };
    let vf_match = [by.to_string(), vf_match];
    Ok(PfCtx {
        by,
        name: pf.name.clone(),
        pci: pf.pci.map(|p| p.to_string()),
        vendor,
        device,
        mtu: args[2].clone(),
        args,
        vf_match,
        has_vfs: true,
        dpdk: false,
    })
}

/// The rule of a NIC given whole to a userspace driver (a PF's `pfDriver: vfio-pci`, a DPDK uplink):
/// the helper's `driver DRIVER` form, which binds it. Once bound the NIC has no network interface,
/// so its rule does not fire again.
fn nic_ctx(nic: &NicDriver, dpdk: bool, artifact: &str) -> Result<PfCtx> {
    let (by, vendor, device) = rule_match(&nic.name, &nic.pci, &nic.selector, "NIC", artifact)?;
    Ok(PfCtx {
        by,
        name: nic.name.clone(),
        pci: nic.pci.map(|p| p.to_string()),
        vendor,
        device,
        args: vec!["driver".to_string(), nic.driver.as_str().to_string()],
        vf_match: [String::new(), String::new()],
        mtu: "-".to_string(),
        has_vfs: false,
        dpdk,
    })
}

pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    // DPDK uplinks to bind (a PF's pfDriver comes with its SR-IOV entry).
    let dpdk: Vec<&NicDriver> = node
        .nic_drivers
        .iter()
        .filter(|n| n.binds())
        .filter(|n| !node.sriov.iter().any(|pf| pf.selector == n.selector))
        .collect();
    if node.sriov.is_empty() && dpdk.is_empty() {
        return Ok(Vec::new());
    }
    let owners: BTreeSet<&str> = node
        .sriov
        .iter()
        .flat_map(|pf| pf.owners.iter().map(String::as_str))
        .chain(
            dpdk.iter()
                .flat_map(|n| n.owners.iter().map(String::as_str)),
        )
        .collect();
    let head = header(owners.iter().copied());
    let helper = format!("{}/plumber-sriov", distro.paths.helpers);
    let rules_path = format!("{}/81-plumber-sriov.rules", distro.paths.udev_rules);

    let mut pfs = node
        .sriov
        .iter()
        .map(|pf| pf_ctx(pf, &rules_path))
        .chain(dpdk.iter().map(|n| nic_ctx(n, true, &rules_path)))
        .collect::<Result<Vec<_>>>()?;
    // Most specific first: the first rule that matches a PF skips the rest.
    pfs.sort_by_key(|p| match p.by {
        "name" => 0,
        "pci" => 1,
        _ => 2,
    });
    let vf_args = if pfs.iter().any(|p| p.mtu != "-") {
        pfs.iter()
            .filter(|p| p.has_vfs)
            .flat_map(|p| [p.vf_match[0].clone(), p.vf_match[1].clone(), p.mtu.clone()])
            .collect()
    } else {
        Vec::new()
    };
    let rules = render_template(
        "sriov.rules.j2",
        &rules_path,
        &head,
        &RulesCtx {
            helper: helper.clone(),
            pfs,
            vf_args,
        },
    )?;
    if let Some(long) = rules.lines().find(|l| l.len() > UDEV_LINE_MAX) {
        return Err(Error::Render {
            artifact: rules_path,
            message: format!(
                "a rule is {} bytes, above udev's limit of {UDEV_LINE_MAX}: too many per-VF settings on one PF ({})",
                long.len(),
                long.split(", ").take(3).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let script = render_template("plumber-sriov.sh.j2", &helper, &head, &HelperCtx {})?;
    Ok(vec![
        Artifact::file(rules_path, 0o644, rules),
        Artifact::file(helper, 0o755, script),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DriverName, MacAddr, PciAddr, PciId};
    use std::collections::BTreeMap;

    fn distro() -> Distro {
        Distro::all()
            .into_iter()
            .find(|d| d.name == "ubuntu")
            .unwrap()
    }

    fn pf(selector: PfSelector, name: Option<&str>) -> SriovPf {
        SriovPf {
            selector,
            name: name.map(str::to_string),
            pci: None,
            num_vfs: Some(4),
            vf_driver: Some(DriverName::parse("vfio-pci").unwrap()),
            pf_driver: None,
            mtu: None,
            vfs: BTreeMap::new(),
            pools: Default::default(),
            pool: None,
            owners: ["t".to_string()].into(),
        }
    }

    fn node(pfs: Vec<SriovPf>) -> NodeConfig {
        NodeConfig {
            sriov: pfs,
            ..Default::default()
        }
    }

    #[test]
    fn nothing_without_sriov() {
        assert!(render(&NodeConfig::default(), &distro())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn one_rule_per_selector_kind() {
        let mut by_pci = pf(
            PfSelector::Pci(PciAddr::parse("0000:03:00.0").unwrap()),
            None,
        );
        by_pci.pci = Some(PciAddr::parse("0000:03:00.0").unwrap());
        by_pci.vf_driver = None;
        by_pci.num_vfs = None;
        let ids = pf(
            PfSelector::Ids {
                vendor: PciId(0x8086),
                device: PciId(0x1528),
            },
            None,
        );
        let mut named = pf(PfSelector::Name("eno2".into()), Some("eno2"));
        named.mtu = Some(9000);
        named.vfs.insert(
            0,
            VfSettings {
                mac: Some(MacAddr::parse("02:00:00:00:00:10").unwrap()),
                vlan: Some(100),
                qos: Some(3),
                trust: Some(true),
                ..Default::default()
            },
        );
        let arts = render(&node(vec![ids, by_pci, named]), &distro()).unwrap();
        assert_eq!(arts[0].path, "/etc/udev/rules.d/81-plumber-sriov.rules");
        assert_eq!(arts[1].path, "/usr/lib/plumber/plumber-sriov");
        assert_eq!(arts[1].mode, 0o755);
        assert!(arts[1]
            .content
            .starts_with("#!/bin/sh\n# Generated by plumber-render "));
        let rules: Vec<&str> = arts[0]
            .content
            .lines()
            .filter(|l| l.starts_with("ACTION"))
            .collect();
        let run = "RUN+=\"/usr/lib/plumber/plumber-sriov $id $name";
        let end = "\", GOTO=\"plumber_sriov_end\"";
        assert_eq!(
            rules,
            [
                // The VF rule first: every PF in rule order, the MTU only where one is set.
                format!("ACTION==\"add\", SUBSYSTEM==\"net\", SUBSYSTEMS==\"pci\", TEST==\"device/physfn\", {run} vf name eno2 9000 pci 0000:03:00.0 - ids 8086:1528 -{end}"),
                format!("ACTION==\"add\", SUBSYSTEM==\"net\", NAME==\"eno2\", SUBSYSTEMS==\"pci\", {run} 4 vfio-pci 9000 vf 0 mac 02:00:00:00:00:10 vlan 100 qos 3 trust on{end}"),
                format!("ACTION==\"add\", SUBSYSTEM==\"net\", NAME==\"\", KERNEL==\"eno2\", SUBSYSTEMS==\"pci\", {run} 4 vfio-pci 9000 vf 0 mac 02:00:00:00:00:10 vlan 100 qos 3 trust on{end}"),
                format!("ACTION==\"add\", SUBSYSTEM==\"net\", KERNELS==\"0000:03:00.0\", SUBSYSTEMS==\"pci\", {run} - - -{end}"),
                format!("ACTION==\"add\", SUBSYSTEM==\"net\", SUBSYSTEMS==\"pci\", ATTRS{{vendor}}==\"0x8086\", ATTRS{{device}}==\"0x1528\", TEST==\"device/sriov_totalvfs\", {run} 4 vfio-pci -{end}"),
            ]
        );
    }

    #[test]
    fn a_rule_longer_than_udev_reads_is_refused() {
        let mut p = pf(PfSelector::Name("eno2".into()), Some("eno2"));
        p.num_vfs = Some(1024);
        for id in 0..1024 {
            let vf = VfSettings {
                vlan: Some(4000),
                qos: Some(7),
                spoofchk: Some(true),
                trust: Some(false),
                max_tx_rate: Some(100000),
                ..Default::default()
            };
            p.vfs.insert(id, vf);
        }
        let err = render(&node(vec![p]), &distro()).unwrap_err().to_string();
        assert!(err.contains("above udev's limit"), "{err}");
    }

    #[test]
    fn qos_without_vlan() {
        let mut p = pf(PfSelector::Name("eno2".into()), Some("eno2"));
        p.vfs.insert(
            1,
            VfSettings {
                qos: Some(0),
                spoofchk: Some(false),
                ..Default::default()
            },
        );
        let arts = render(&node(vec![p.clone()]), &distro()).unwrap();
        assert!(
            arts[0].content.contains(" vf 1 spoofchk off\""),
            "{}",
            arts[0].content
        );
        p.vfs.insert(
            1,
            VfSettings {
                qos: Some(2),
                ..Default::default()
            },
        );
        assert!(render(&node(vec![p]), &distro()).is_err());
    }

    /// A rules context for one PF matched `by`, with good values everywhere.
    fn ctx(by: &'static str) -> RulesCtx {
        RulesCtx {
            helper: "/usr/lib/plumber/plumber-sriov".into(),
            pfs: vec![PfCtx {
                by,
                name: Some("eno2".into()),
                pci: Some("0000:03:00.0".into()),
                vendor: Some("8086".into()),
                device: Some("1528".into()),
                args: vec!["4".into(), "-".into(), "-".into()],
                vf_match: [by.into(), "eno2".into()],
                mtu: "-".into(),
                has_vfs: true,
                dpdk: false,
            }],
            vf_args: vec![],
        }
    }

    #[test]
    fn values_udev_cannot_carry_are_refused() {
        for bad in [
            "eno\"2",
            "eno$2",
            "$kernel",
            "eno%k",
            "eno\n2",
            "a b",
            "eno2\"\nRUN+=\"/bin/x",
        ] {
            // Through the renderer, with a name validation would have refused...
            let p = pf(PfSelector::Name(bad.into()), Some(bad));
            let err = render(&node(vec![p]), &distro()).unwrap_err().to_string();
            assert!(
                err.contains("cannot be written into a udev rule"),
                "{bad:?}: {err}"
            );
            // ...and the template directly, with every field a value reaches.
            let setters: [fn(&mut PfCtx, &str); 5] = [
                |c, v| {
                    c.by = "name";
                    c.name = Some(v.into())
                },
                |c, v| {
                    c.by = "pci";
                    c.pci = Some(v.into())
                },
                |c, v| c.vendor = Some(v.into()),
                |c, v| c.device = Some(v.into()),
                |c, v| c.args.push(v.into()),
            ];
            for set in setters {
                let mut c = ctx("ids");
                set(&mut c.pfs[0], bad);
                let r = render_template("sriov.rules.j2", "x.rules", "# h", &c);
                assert!(
                    r.is_err(),
                    "{bad:?} was written into a rule:\n{}",
                    r.unwrap()
                );
            }
            let mut c = ctx("ids");
            c.helper = bad.into();
            assert!(render_template("sriov.rules.j2", "x.rules", "# h", &c).is_err());
            // The VF rule's entries.
            let mut c = ctx("name");
            c.vf_args = vec!["name".into(), bad.into(), "9000".into()];
            assert!(render_template("sriov.rules.j2", "x.rules", "# h", &c).is_err());
        }
        // The same contexts with good values render.
        for by in ["name", "pci", "ids"] {
            let good = ctx(by);
            assert!(render_template("sriov.rules.j2", "x.rules", "# h", &good).is_ok());
        }
    }
}
