//! Planning without a node: a hand-built [`Discovered`] against a target whose root, sysfs and OVSDB do
//! not exist. The plan comes from what discovery found alone, refusals included, in the order an apply
//! meets them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use plumber_render::distro::Distro;
use plumber_render::render::Artifact;

use super::*;
use crate::node::apply::{InstalledFile, InstalledFiles, Scope};
use crate::node::ovs::{OvsState, Ovsdb};
use crate::node::state::{CurrentKind, CurrentState, LinkState};
use crate::node::sysfs::node::Binding;

/// Nothing of this exists: planning that read the disk or ran ovs-vsctl would see no files and fail
/// to reach OVSDB.
fn target() -> Target {
    Target {
        root: PathBuf::from("/nonexistent/plumber-planning-test"),
        state_dir: PathBuf::from("/var/lib/plumber"),
        sysfs: PathBuf::from("/nonexistent/plumber-planning-test/sys"),
        distro: Distro::by_name("ubuntu").unwrap(),
        scope: Scope::All,
        node_name: "n1".into(),
        ovsdb: Ovsdb {
            vsctl: PathBuf::from("/nonexistent/plumber-planning-test/ovs-vsctl"),
            ..Ovsdb::default()
        },
        guard: crate::node::guard::Guard {
            timeout: Duration::ZERO,
            ..crate::node::guard::Guard::default()
        },
        strict: false,
    }
}

fn desired(artifacts: Vec<Artifact>) -> Desired {
    let node = plumber_render::node_config_of_spec(
        "  interfaceConfig:\n    - name: eno1\n      mtu: 9000\n  ovsConfig:\n    - bridgeName: br-int\n",
    )
    .unwrap();
    Desired {
        node,
        artifacts,
        allow_disconnect: false,
    }
}

fn file(mode: u32, content: &str) -> Option<InstalledFile> {
    Some(InstalledFile {
        mode,
        link: None,
        content: Some(content.as_bytes().to_vec()),
    })
}

fn found(files: InstalledFiles, ovs: OvsFound) -> Discovered {
    let eno1 = LinkState {
        name: "eno1".into(),
        kind: CurrentKind::Device,
        mtu: 1500,
        up: true,
        controller: None,
        addresses: vec![],
        vfs: vec![],
    };
    Discovered {
        state: CurrentState {
            links: [("eno1".to_string(), eno1)].into_iter().collect(),
            routes: vec![],
        },
        inventory: Default::default(),
        indexes: BTreeMap::new(),
        bindings: BTreeMap::new(),
        owned: Default::default(),
        bound: Default::default(),
        applied: Default::default(),
        files: Some(files),
        ovs: Some(ovs),
    }
}

#[test]
fn the_plan_is_made_of_what_discovery_found() {
    let artifacts = vec![
        Artifact::file("/etc/netplan/a.yaml".into(), 0o600, "new\n".into()),
        Artifact::file("/etc/netplan/b.yaml".into(), 0o600, "same\n".into()),
    ];
    let files = InstalledFiles {
        owned: [
            "/etc/netplan/a.yaml",
            "/etc/netplan/b.yaml",
            "/etc/netplan/gone.yaml",
        ]
        .map(String::from)
        .into(),
        current: [
            ("/etc/netplan/a.yaml".to_string(), file(0o600, "old\n")),
            ("/etc/netplan/b.yaml".to_string(), file(0o644, "same\n")),
        ]
        .into(),
    };
    let (plan, counts) = plan_node(
        &target(),
        &desired(artifacts.clone()),
        &found(files, OvsFound::Found(OvsState::default())),
    )
    .unwrap();
    assert!(counts.is_empty());
    let text = plan.to_string();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "file: update /etc/netplan/a.yaml",
            "file: chmod /etc/netplan/b.yaml 0644 -> 0600",
            "let go: file: remove /etc/netplan/gone.yaml",
            "link: set mtu of eno1: 1500 -> 9000",
            "ovs: add bridge br-int (datapath_type system)",
        ],
        "{text}"
    );
}

#[test]
fn refusals_come_from_what_discovery_found_in_the_same_order() {
    let artifacts = vec![Artifact::file(
        "/etc/netplan/a.yaml".into(),
        0o600,
        "ours\n".into(),
    )];
    let foreign = InstalledFiles {
        owned: Default::default(),
        current: [("/etc/netplan/a.yaml".to_string(), file(0o600, "theirs\n"))].into(),
    };
    let none = InstalledFiles::default();
    let unreachable = || OvsFound::Unreachable("OVSDB is not reachable: no socket".into());

    // A foreign file is refused before OVSDB is looked at, as when planning read them itself.
    let e = plan_node(
        &target(),
        &desired(artifacts.clone()),
        &found(foreign, unreachable()),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Foreign(ref p) if p == "/etc/netplan/a.yaml"),
        "{e}"
    );

    let e = plan_node(
        &target(),
        &desired(artifacts.clone()),
        &found(none.clone(), unreachable()),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ovs: the templates configure OVS bridges (br-int) but OVSDB is not reachable: no socket"
    );

    let unreadable = OvsFound::Unreadable("reading OVSDB: exit status 1".into());
    let e = plan_node(&target(), &desired(artifacts), &found(none, unreadable)).unwrap_err();
    assert_eq!(e.to_string(), "ovs: reading OVSDB: exit status 1");
}

#[test]
fn vf_drivers_are_planned_on_the_discovered_bindings() {
    use plumber_render::model::{DriverName, PciAddr};
    use plumber_render::node::{PfSelector, SriovPf};

    let pci = |s: &str| PciAddr::parse(s).unwrap();
    let mut want = desired(vec![]);
    want.node.sriov.push(SriovPf {
        selector: PfSelector::Name("ens1f0".into()),
        name: Some("ens1f0".into()),
        pci: Some(pci("0000:03:00.0")),
        num_vfs: None,
        vf_driver: Some(DriverName::parse("vfio-pci").unwrap()),
        pf_driver: None,
        mtu: None,
        vfs: Default::default(),
        pools: Default::default(),
        pool: None,
        owners: Default::default(),
    });
    let mut node = found(InstalledFiles::default(), OvsFound::NotNeeded);
    node.inventory
        .status
        .interface_status
        .push(crate::node::sysfs::node::sample_nic(
            "ens1f0",
            "0000:03:00.0",
            2,
            8,
            &["0000:03:02.0", "0000:03:02.1"],
        ));
    // VF 0 is bound as wanted; VF 1 is on iavf. sysfs (which does not exist here) is not read.
    let bound = |d: &str| Binding {
        driver: Some(d.into()),
        driver_override: Some(d.into()),
    };
    node.bindings = [
        (pci("0000:03:02.0"), bound("vfio-pci")),
        (pci("0000:03:02.1"), bound("iavf")),
    ]
    .into();
    let mut t = target();
    t.scope = Scope::Runtime;
    node.files = None;
    node.ovs = Some(OvsFound::Found(OvsState::default()));
    let (plan, _) = plan_node(&t, &want, &node).unwrap();
    let sriov: Vec<&str> = plan.sriov.iter().map(|c| c.text.as_str()).collect();
    assert!(!sriov.is_empty(), "{plan}");
    assert!(
        sriov.iter().all(|s| !s.contains("0000:03:02.0")),
        "VF 0 is bound already: {sriov:?}"
    );
    assert!(
        sriov
            .iter()
            .any(|s| s.contains("0000:03:02.1") && s.contains("iavf")),
        "VF 1 leaves iavf: {sriov:?}"
    );
}
