//! A `HostNetwork` as plumber really writes it (`plumber show -o yaml`, in a network namespace with a
//! veth pair, a bridge, addresses, a route and an OVS bridge, over a sysfs fixture with an SR-IOV PF and
//! its VFs, a PCI NIC without SR-IOV and a virtio NIC) validates against HostPlumber's own CRD schema
//! (`tests/crd/hostplumber/hostnetworks.yaml`, written from its source) and carries HostPlumber's fields
//! with HostPlumber's meanings; what an API server with HostPlumber's CRD keeps of it (plumber's
//! additions pruned) still reads as plumber's inventory.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::*;
use crate::in_netns;
use crate::ovs::ovsdb_fixture::Ovsdb;
use crate::sysfs_fixture::*;

/// HostPlumber's `openAPIV3Schema`, from the fixture.
fn hostplumber_schema() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/crd/hostplumber/hostnetworks.yaml");
    let crd: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The API server's validation errors for `doc` under `schema`. Fields the schema does not name are
/// not errors: the server prunes them (field validation `Warn`, its default) or refuses them
/// (`Strict`, what kubectl asks for; the agent writes by server-side apply without it).
fn errors(schema: &Value, doc: &Value) -> Vec<String> {
    let v = jsonschema::validator_for(schema).unwrap();
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// What the API server stores under `schema`: every field the schema does not name removed.
fn prune(schema: &Value, doc: &Value) -> Value {
    match doc {
        Value::Object(m) => {
            let props = schema.get("properties");
            Value::Object(
                m.iter()
                    .filter_map(|(k, v)| {
                        let s = props?.get(k)?;
                        Some((k.clone(), prune(s, v)))
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| prune(&schema["items"], v)).collect()),
        v => v.clone(),
    }
}

/// The fixture: `eno1` (PF 0000:03:00.0, 8 VFs possible, 2 made: VF 0 on iavf, VF 1 unbound),
/// `eno2` (0000:05:00.0, no SR-IOV) and `ens3` (virtio0 on 0000:00:03.0).
fn sysfs() -> Fixture {
    let f = Fixture::new();
    let root = f.root();
    let pf = pci("0000:03:00.0");
    f.pf("eno1", pf, Some(8), "i40e");
    add_vf(root, pf, 0, Some("iavf"));
    add_vf(root, pf, 1, None);
    put(&f.dev(pf).join("sriov_numvfs"), "2\n");
    f.pf("eno2", pci("0000:05:00.0"), None, "e1000e");
    let func = pci("0000:00:03.0");
    let dev = add_pci_device(root, func, Some("virtio-pci"));
    put(&dev.join("vendor"), "0x1af4\n");
    put(&dev.join("device"), "0x1000\n");
    let virtio = dev.join("virtio0");
    std::fs::create_dir_all(&virtio).unwrap();
    std::os::unix::fs::symlink("../../../../../bus/virtio", virtio.join("subsystem")).unwrap();
    let net = virtio.join("net/ens3");
    put(&net.join("address"), "52:54:00:12:34:56\n");
    put(&net.join("mtu"), "1500\n");
    std::os::unix::fs::symlink("../../../virtio0", net.join("device")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../{BRIDGE}/{func}/virtio0/net/ens3"),
        root.join("class/net/ens3"),
    )
    .unwrap();
    f.virtual_if("lo");
    f
}

#[test]
fn plumber_show_validates_against_hostplumbers_crd_with_its_meanings() {
    in_netns!(
        "plumber_show_validates_against_hostplumbers_crd_with_its_meanings",
        || {
            // eno1 is a veth end here too, so the PF's addresses come from netlink as on a node.
            veth("eno1", "peer0");
            sh("link add br0 type bridge");
            sh("link set peer0 master br0");
            sh("link set br0 up");
            sh("addr add 10.9.0.2/24 dev eno1");
            sh("route add 10.50.0.0/16 via 10.9.0.1 dev eno1");
            settled(&["eno1", "peer0"]);
            let db = Ovsdb::start();
            db.vsctl(&["add-br", "br-ex"]);
            sh("link add a0 type veth peer name a1");
            db.vsctl(&["add-port", "br-ex", "a1"]);
            let f = sysfs();
            let out = assert_cmd::Command::cargo_bin("plumber")
                .unwrap()
                .args([
                    "show",
                    "-o",
                    "yaml",
                    "--node-name",
                    "worker-1",
                    "--ovsdb-socket",
                ])
                .arg(&db.sock)
                .arg("--sysfs")
                .arg(f.root())
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let yaml = String::from_utf8(out.stdout).unwrap();
            let doc: Value = serde_yaml::from_str(&yaml).unwrap();

            let schema = hostplumber_schema();
            assert_eq!(errors(&schema, &doc), Vec::<String>::new(), "{yaml}");
            // The schema can fail: a VF without trust, an MTU as a string, no sriovEnabled.
            let mut bad = doc.clone();
            let nics = bad["status"]["interfaceStatus"].as_array_mut().unwrap();
            nics[0]["sriovStatus"]["vfs"][0]
                .as_object_mut()
                .unwrap()
                .remove("trust");
            nics[1]["mtu"] = json!("1500");
            nics[2].as_object_mut().unwrap().remove("sriovEnabled");
            assert_eq!(
                errors(&schema, &bad).len(),
                3,
                "{:?}",
                errors(&schema, &bad)
            );

            // HostPlumber's meanings. Every NIC (a netdev with a device that is no VF): the PF, the
            // NIC without SR-IOV, the virtio NIC; not the veth peer, the bridge or the VFs.
            let s = &doc["status"];
            let nics = s["interfaceStatus"].as_array().unwrap();
            let names: Vec<&str> = nics.iter().map(|n| n["pfName"].as_str().unwrap()).collect();
            assert_eq!(names, ["eno1", "eno2", "ens3"]);
            for n in nics {
                let total = n["sriovStatus"]["totalVfs"].as_u64().unwrap_or(0);
                assert_eq!(n["sriovEnabled"], json!(total > 0), "{n}");
                assert_eq!(n["mtu"], json!(1500), "{n}");
                assert!(n["mac"].as_str().unwrap().contains(':'), "{n}");
            }
            assert_eq!(nics[0]["pciAddr"], "0000:03:00.0");
            assert_eq!(
                (&nics[0]["vendorId"], &nics[0]["deviceId"]),
                (&json!("8086"), &json!("1572"))
            );
            assert_eq!(nics[0]["pfDriver"], "i40e");
            assert_eq!(nics[0]["ipv4"]["address"], json!(["10.9.0.2/24"]));
            assert_eq!(nics[0]["sriovStatus"]["numVfs"], 2);
            let vfs = nics[0]["sriovStatus"]["vfs"].as_array().unwrap();
            assert_eq!(
                vfs.iter()
                    .map(|v| v["vfDriver"].clone())
                    .collect::<Vec<_>>(),
                [json!("iavf"), json!("")]
            );
            assert_eq!(vfs[1]["pciAddr"], "0000:03:02.1");
            for v in vfs {
                for field in [
                    "id", "vfDriver", "pciAddr", "mac", "vlan", "qos", "spoofchk", "trust",
                ] {
                    assert!(v.get(field).is_some(), "VF without {field}: {v}");
                }
            }
            assert_eq!(
                (
                    &nics[2]["pciAddr"],
                    &nics[2]["vendorId"],
                    &nics[2]["pfDriver"]
                ),
                (&json!("0000:00:03.0"), &json!("1af4"), &Value::Null)
            );
            assert_eq!(nics[2]["sriovEnabled"], false);
            let routes = s["routes"]["ipv4"].as_array().unwrap();
            assert!(
                routes.contains(&json!({"dev": "eno1", "dst": "10.50.0.0/16", "gw": "10.9.0.1"})),
                "{routes:?}"
            );
            assert_eq!(
                s["ovsStatus"],
                json!([{"bridgeName": "br-ex", "nodeInterface": "a1"}])
            );
            // plumber's additions sit beside them.
            let links: Vec<&str> = s["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["name"].as_str().unwrap())
                .collect();
            for l in ["eno1", "peer0", "br0", "a0", "a1"] {
                assert!(links.contains(&l), "{links:?}");
            }
            assert_eq!(s["ovsBridges"][0]["name"], "br-ex");

            // Stored under HostPlumber's CRD, plumber's additions are pruned; the rest reads as an
            // inventory and still resolves the PF.
            let kept = prune(&schema, &doc);
            assert!(kept["status"].get("links").is_none());
            let inv = plumber_render::inventory::HostNetwork::parse(
                &serde_yaml::to_string(&kept).unwrap(),
                "kept",
            )
            .unwrap();
            let eno1 = inv.by_pci(&pci("0000:03:00.0")).unwrap();
            assert_eq!(eno1.pf_name.as_deref(), Some("eno1"));
            assert!(eno1.sriov_capable());
            assert!(!inv.by_name("ens3").unwrap().sriov_capable());
        }
    );
}
