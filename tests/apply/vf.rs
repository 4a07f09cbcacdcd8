//! SR-IOV VF properties over netlink. There is no SR-IOV hardware (nor netdevsim) here: the message
//! formats are unit-tested in `plumber::node::netlink::vf`, the kernel round trip awaits the VM harness.
//! What a plain kernel can show: discovery's own link dump (raw, with `RTEXT_FILTER_VF`) sees the same
//! links as rtnetlink's, a VF request to a link without VFs comes back as a clean error and changes
//! nothing, and `plumber show` merges netlink's VF fields into the sysfs VF list.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use plumber::node::netlink::{self, vf};
use plumber::node::state::{CurrentKind, CurrentState, LinkState, VfState};
use plumber_render::inventory::VfStatus;
use plumber_render::model::MacAddr;
use plumber_render::node::VfSettings;
use rtnetlink::packet_route::link::LinkAttribute;

use crate::common::*;
use crate::in_netns;
use crate::sysfs_fixture::*;

#[test]
fn discovery_dump_sees_the_links_rtnetlink_sees_and_no_vfs() {
    in_netns!(
        "discovery_dump_sees_the_links_rtnetlink_sees_and_no_vfs",
        || {
            veth("p0", "q0");
            sh("link add br0 type bridge");
            let s = discover();
            let theirs: Vec<String> = netlink::run(async {
                let h = netlink::connection().unwrap();
                let links: Vec<_> = h.link().get().execute().try_collect().await.unwrap();
                links
                    .iter()
                    .filter_map(|l| {
                        l.attributes.iter().find_map(|a| match a {
                            LinkAttribute::IfName(n) => Some(n.clone()),
                            _ => None,
                        })
                    })
                    .collect()
            });
            let mut theirs = theirs;
            theirs.sort();
            let ours: Vec<String> = s.links.keys().cloned().collect();
            assert_eq!(ours, theirs);
            assert!(ours.contains(&"p0".to_string()) && ours.contains(&"br0".to_string()));
            assert!(s.links.values().all(|l| l.vfs.is_empty()), "{s:#?}");
            // No `vfs:` key when there are none.
            assert!(!yaml(&s).contains("vfs"), "{}", yaml(&s));
        }
    );
}

#[test]
fn setting_a_vf_on_a_link_without_vfs_fails_cleanly() {
    in_netns!("setting_a_vf_on_a_link_without_vfs_fails_cleanly", || {
        veth("p0", "q0");
        let before = settled(&["p0", "q0"]);
        let want = VfSettings {
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            vlan: Some(100),
            qos: Some(1),
            trust: Some(true),
            spoofchk: Some(false),
            max_tx_rate: Some(1000),
            min_tx_rate: Some(10),
        };
        let err = netlink::run(async {
            let h = netlink::connection().unwrap();
            let mut links = h.link().get().match_name("p0").execute();
            let index = links.try_next().await.unwrap().unwrap().header.index;
            h.link()
                .set(vf::set_vf_message(index, 0, &want))
                .execute()
                .await
                .unwrap_err()
        });
        let code = match &err {
            rtnetlink::Error::NetlinkError(m) => m.raw_code(),
            e => panic!("not a kernel refusal: {e}"),
        };
        // veth has no ndo_set_vf_*: EOPNOTSUPP (a kernel that checks the VF number first: EINVAL).
        assert!(
            code == -EOPNOTSUPP || code == -EINVAL,
            "unexpected error {code}: {err}"
        );
        assert_eq!(yaml(&discover()), yaml(&before));
    });
}

const EOPNOTSUPP: i32 = 95;
const EINVAL: i32 = 22;

#[test]
fn show_merges_netlink_vfs_into_sysfs_vfs() {
    let f = Fixture::new();
    let root = f.root();
    let pf = pci("0000:03:00.0");
    f.pf("eno1", pf, Some(8), "i40e");
    for k in 0..2 {
        add_vf(root, pf, k, (k == 0).then_some("iavf"));
    }
    put(&f.dev(pf).join("sriov_numvfs"), "2\n");

    let mut state = CurrentState::default();
    state.links.insert(
        "eno1".into(),
        LinkState {
            name: "eno1".into(),
            kind: CurrentKind::Device,
            mtu: 1500,
            up: true,
            controller: None,
            addresses: vec![],
            vfs: vec![
                VfState {
                    id: 0,
                    mac: Some(MacAddr([2, 0, 0, 0, 0, 0x10])),
                    vlan: 100,
                    qos: 3,
                    spoofchk: Some(true),
                    trust: Some(true),
                    ..VfState::default()
                },
                VfState {
                    id: 1,
                    ..VfState::default()
                },
                // Created after sysfs was read.
                VfState {
                    id: 2,
                    spoofchk: Some(true),
                    trust: Some(false),
                    ..VfState::default()
                },
            ],
        },
    );
    let hn = plumber::node::show::host_network("node1", &state, root).unwrap();
    let eno1 = &hn.status.interface_status[0];
    assert_eq!(eno1.pf_name.as_deref(), Some("eno1"));
    let vfs = &eno1.sriov_status.as_ref().unwrap().vfs;
    assert_eq!(
        vfs,
        &vec![
            VfStatus {
                id: 0,
                mac: Some("02:00:00:00:00:10".into()),
                pci_addr: Some(vf_pci(pf, 0)),
                vlan: Some(100),
                qos: Some(3),
                spoofchk: Some(true),
                trust: Some(true),
                vf_driver: Some("iavf".into()),
                netdev: None,
            },
            VfStatus {
                id: 1,
                pci_addr: Some(vf_pci(pf, 1)),
                vlan: Some(0),
                qos: Some(0),
                ..VfStatus::default()
            },
            VfStatus {
                id: 2,
                vlan: Some(0),
                qos: Some(0),
                spoofchk: Some(true),
                trust: Some(false),
                ..VfStatus::default()
            },
        ]
    );
    // What the renderer reads back: the same VFs.
    let text = serde_yaml::to_string(&hn).unwrap();
    let back = plumber_render::inventory::HostNetwork::parse(&text, "show.yaml").unwrap();
    assert_eq!(
        &back.status.interface_status[0]
            .sriov_status
            .as_ref()
            .unwrap()
            .vfs,
        vfs
    );
    // And the plan of the VF settings against it: only what differs.
    let desired: BTreeMap<u32, VfSettings> = [(
        0,
        VfSettings {
            vlan: Some(100),
            trust: Some(false),
            ..VfSettings::default()
        },
    )]
    .into_iter()
    .collect();
    let changes = plumber::node::plan::vf::vf_changes("eno1", &state.links["eno1"].vfs, &desired);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to_string(), "vf 0 of eno1: trust off");
}
