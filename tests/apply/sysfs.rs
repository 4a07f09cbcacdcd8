//! SR-IOV sysfs discovery and operations against fixture trees ([`crate::sysfs_fixture`]), with
//! [`FakeKernel`] playing the kernel where a test needs it. The code under test waits for those effects (bounded polling), so the tests are
//! deterministic: each assertion is on a state the executor already waited for.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use plumber::node::sysfs::{self, Step};
use plumber::node::Error;
use plumber_render::inventory::{HostNetwork, HostNetworkStatus, InterfaceStatus, InventoryMeta};
use plumber_render::model::{PciAddr, PciId};

use crate::sysfs_fixture::*;

const WAIT: Duration = Duration::from_secs(5);
/// eno1: SR-IOV PF 0000:03:00.0 (i40e, 64 VFs possible) with 12 VFs, VF 0 bound to iavf and a netdev
/// of its own; eno2: 0000:05:00.0 (e1000e) without SR-IOV; lo: virtual.
fn node() -> Fixture {
    let f = Fixture::new();
    let root = f.root();
    let pf = pci("0000:03:00.0");
    f.pf("eno1", pf, Some(64), "i40e");
    for k in 0..12 {
        let vf = add_vf(root, pf, k, (k == 0).then_some("iavf"));
        if k == 0 {
            add_netdev(root, &f.dev(vf), vf, "eno1v0");
        }
    }
    put(&f.dev(pf).join("sriov_numvfs"), "12\n");
    f.pf("eno2", pci("0000:05:00.0"), None, "e1000e");
    f.virtual_if("lo");
    f
}

// ---------------------------------------------------------------------------------------------------
// Discovery

#[test]
fn discovers_pfs_with_vfs_and_without_sriov() {
    let f = node();
    let found = sysfs::discover_sriov(f.root()).unwrap();
    let names: Vec<_> = found.iter().map(|i| i.pf_name.clone().unwrap()).collect();
    // lo is virtual and eno1v0 is a VF: neither is listed.
    assert_eq!(names, ["eno1", "eno2"]);

    let eno1 = &found[0];
    assert_eq!(eno1.pci_addr, Some(pci("0000:03:00.0")));
    assert_eq!(eno1.vendor_id, Some(PciId(0x8086)));
    assert_eq!(eno1.device_id, Some(PciId(0x1572)));
    assert_eq!(eno1.mac.as_deref(), Some("b4:96:91:70:19:39"));
    assert_eq!(eno1.mtu, Some(1500));
    assert_eq!(eno1.pf_driver.as_deref(), Some("i40e"));
    assert_eq!(eno1.sriov_enabled, Some(true));
    let st = eno1.sriov_status.as_ref().unwrap();
    assert_eq!((st.num_vfs, st.total_vfs), (Some(12), Some(64)));
    // By id, numerically (virtfn10 after virtfn9).
    assert_eq!(
        st.vfs.iter().map(|v| v.id).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(st.vfs[0].pci_addr, Some(pci("0000:03:02.0")));
    assert_eq!(st.vfs[0].vf_driver.as_deref(), Some("iavf"));
    assert_eq!(st.vfs[10].pci_addr, Some(pci("0000:03:03.2")));
    assert_eq!(st.vfs[10].vf_driver, None);
    // Netlink's fields are not sysfs's.
    assert!(st
        .vfs
        .iter()
        .all(|v| v.mac.is_none() && v.vlan.is_none() && v.trust.is_none()));

    assert_eq!(
        found[1],
        InterfaceStatus {
            pf_name: Some("eno2".into()),
            pci_addr: Some(pci("0000:05:00.0")),
            bus: None,
            vendor_id: Some(PciId(0x8086)),
            device_id: Some(PciId(0x1572)),
            sriov_enabled: Some(false),
            sriov_status: None,
            mac: Some("b4:96:91:70:19:39".into()),
            mtu: Some(1500),
            pf_driver: Some("e1000e".into()),
            ipv4: None,
            ipv6: None,
        }
    );
}

#[test]
fn discovery_tolerates_missing_and_unparsable_attributes() {
    let f = Fixture::new();
    let root = f.root();
    let pf = pci("0000:03:00.0");
    f.pf("eno1", pf, Some(8), "i40e");
    let dev = f.dev(pf);
    put(&dev.join("vendor"), "0xzzzz\n");
    fs::remove_file(dev.join("device")).unwrap();
    fs::remove_file(dev.join("driver")).unwrap();
    put(&dev.join("sriov_totalvfs"), "lots\n");
    put(&dev.join("sriov_numvfs"), "\n");
    let net = dev.join("net/eno1");
    put(&net.join("mtu"), "-1\n");
    fs::remove_file(net.join("address")).unwrap();
    // An unreadable attribute (a directory where a file should be).
    fs::create_dir(dev.join("virtfn0")).unwrap();
    // A USB NIC: its device is not a PCI function.
    let usb = root.join("devices/usb1/1-1/1-1:1.0");
    put(&usb.join("net/usb0/mtu"), "1500\n");
    symlink("../../../1-1:1.0", usb.join("net/usb0/device")).unwrap();
    symlink("../../../../bus/usb", usb.join("subsystem")).unwrap();
    symlink(
        "../../devices/usb1/1-1/1-1:1.0/net/usb0",
        root.join("class/net/usb0"),
    )
    .unwrap();

    let found = sysfs::discover_sriov(root).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    let eno1 = &found[0];
    assert_eq!(eno1.pci_addr, Some(pf));
    assert_eq!((eno1.vendor_id, eno1.device_id), (None, None));
    assert_eq!((eno1.mac.as_deref(), eno1.mtu), (None, None));
    assert_eq!(eno1.pf_driver, None);
    // An unreadable sriov_totalvfs is no capability (HostPlumber: totalVfs -1, not above 0).
    assert_eq!(eno1.sriov_enabled, Some(false));
    let st = eno1.sriov_status.as_ref().unwrap();
    assert_eq!((st.num_vfs, st.total_vfs), (None, None));
    assert_eq!(st.vfs.len(), 1);
    assert_eq!(
        (st.vfs[0].pci_addr, st.vfs[0].vf_driver.as_deref()),
        (None, None)
    );

    // The USB NIC is listed as HostPlumber lists every NIC, with its bus and no PCI address.
    let usb0 = &found[1];
    assert_eq!(usb0.pf_name.as_deref(), Some("usb0"));
    assert_eq!((usb0.bus.as_deref(), usb0.pci_addr), (Some("usb"), None));
    assert_eq!((usb0.sriov_enabled, usb0.mtu), (Some(false), Some(1500)));

    let e = sysfs::discover_sriov(&root.join("nonexistent")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

/// A virtio-net NIC as a VM has it: `virtio0` (bus virtio, driver virtio_net) on PCI function
/// 0000:00:03.0 (1af4:1000, driver virtio-pci), netdev `ens3` under `virtio0/net/`.
#[test]
fn discovers_a_virtio_nic_with_its_pci_function() {
    let f = Fixture::new();
    let root = f.root();
    let func = pci("0000:00:03.0");
    let dev = add_pci_device(root, func, Some("virtio-pci"));
    put(&dev.join("vendor"), "0x1af4\n");
    put(&dev.join("device"), "0x1000\n");
    let virtio = dev.join("virtio0");
    put(&virtio.join("vendor"), "0x1af4\n");
    put(&virtio.join("device"), "0x0001\n");
    symlink("../../../../../bus/virtio", virtio.join("subsystem")).unwrap();
    add_driver(root, "virtio_net");
    symlink(
        "../../../../../bus/pci/drivers/virtio_net",
        virtio.join("driver"),
    )
    .unwrap();
    let net = virtio.join("net/ens3");
    put(&net.join("address"), "52:54:00:12:34:56\n");
    put(&net.join("mtu"), "1500\n");
    symlink("../../../virtio0", net.join("device")).unwrap();
    symlink(
        format!("../../{BRIDGE}/{func}/virtio0/net/ens3"),
        root.join("class/net/ens3"),
    )
    .unwrap();

    let found = sysfs::discover_sriov(root).unwrap();
    assert_eq!(
        found,
        [InterfaceStatus {
            pf_name: Some("ens3".into()),
            pci_addr: Some(func),
            bus: Some("virtio".into()),
            vendor_id: Some(PciId(0x1af4)),
            device_id: Some(PciId(0x1000)),
            sriov_enabled: Some(false),
            sriov_status: None,
            mac: Some("52:54:00:12:34:56".into()),
            mtu: Some(1500),
            pf_driver: Some("virtio_net".into()),
            ipv4: None,
            ipv6: None,
        }]
    );
}

#[test]
fn discovered_inventory_round_trips_through_yaml() {
    let f = node();
    let inv = HostNetwork {
        api_version: "plumber.k8s.pf9.io/v1".into(),
        kind: "HostNetwork".into(),
        metadata: InventoryMeta {
            name: "node-1".into(),
        },
        status: HostNetworkStatus {
            interface_status: sysfs::discover_sriov(f.root()).unwrap(),
            ..Default::default()
        },
    };
    let yaml = serde_yaml::to_string(&inv).unwrap();
    assert!(yaml.contains("pfDriver: i40e"), "{yaml}");
    assert!(yaml.contains("vfDriver: iavf"), "{yaml}");
    assert!(yaml.contains("pciAddr: 0000:03:02.0"), "{yaml}");
    // Netlink's fields are HostPlumber's "nothing" (0, false), named unreported, never null.
    assert!(yaml.contains("spoofchk: false"), "{yaml}");
    assert!(!yaml.contains("null"), "{yaml}");
    let back = HostNetwork::parse(&yaml, "node-1.yaml").unwrap();
    assert_eq!(back, inv);
    assert_eq!(
        back.by_pci(&pci("0000:03:00.0"))
            .unwrap()
            .pf_name
            .as_deref(),
        Some("eno1")
    );
}

#[test]
fn parses_hostplumbers_published_shape() {
    // From HostPlumber's README (`kubectl get hostnetwork -o yaml`), trimmed.
    let yaml = r#"
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetwork
metadata:
  name: 145.40.65.95
  namespace: default
spec: {}
status:
  interfaceStatus:
  - deviceId: "1572"
    ipv6:
      address:
      - fe80::b696:91ff:fe70:1939/64
    mac: b4:96:91:70:19:39
    mtu: 1500
    pciAddr: "0000:01:00.1"
    pfDriver: i40e
    pfName: eno2
    sriovEnabled: true
    sriovStatus:
      numVfs: 8
      totalVfs: 64
      vfs:
      - id: 0
        mac: "00:00:00:00:00:00"
        pciAddr: 0000:02:0a.0
        qos: 0
        spoofchk: true
        trust: false
        vfDriver: i40evf
        vlan: 0
      - id: 1
        mac: "00:00:00:00:00:00"
        pciAddr: .
        qos: 0
        spoofchk: false
        trust: false
        vfDriver: .
        vlan: 0
    vendorId: "8086"
  - deviceId: "0001"
    mac: 52:54:00:12:34:56
    mtu: 1500
    pciAddr: virtio0
    pfDriver: virtio_net
    pfName: ens3
    sriovEnabled: false
    vendorId: "1af4"
  routes:
    ipv4:
    - dev: bond0
      gw: 145.40.65.94
  ovsStatus:
  - bridgeName: ovs-br01
    nodeInterface: eno2.1000
"#;
    let inv = HostNetwork::parse(yaml, "hn.yaml").unwrap();
    let eno2 = inv.by_name("eno2").unwrap();
    assert_eq!(eno2.mtu, Some(1500));
    assert_eq!(eno2.pf_driver.as_deref(), Some("i40e"));
    let vf = &eno2.sriov_status.as_ref().unwrap().vfs[0];
    assert_eq!(vf.pci_addr, Some(pci("0000:02:0a.0")));
    assert_eq!(
        (vf.vlan, vf.qos, vf.spoofchk, vf.trust),
        (Some(0), Some(0), Some(true), Some(false))
    );
    assert_eq!(vf.vf_driver.as_deref(), Some("i40evf"));
    // HostPlumber's "." for a VF whose virtfn link and driver it could not read: nothing.
    let vf1 = &eno2.sriov_status.as_ref().unwrap().vfs[1];
    assert_eq!((vf1.pci_addr, vf1.vf_driver.as_deref()), (None, None));
    // A virtio NIC's pciAddr is the virtio device's name: read as no PCI address.
    let ens3 = inv.by_name("ens3").unwrap();
    assert_eq!((ens3.pci_addr, ens3.sriov_capable()), (None, false));
    assert_eq!(inv.status.ovs_status[0].node_interface, "eno2.1000");
}

// ---------------------------------------------------------------------------------------------------
// VF counts

/// A fixture with SR-IOV PF eno1 (0000:03:00.0, at most 64 VFs) and `n` VFs.
fn one_pf(n: u32) -> (Fixture, PciAddr) {
    let f = Fixture::new();
    let pf = pci("0000:03:00.0");
    f.pf("eno1", pf, Some(64), "i40e");
    for k in 0..n {
        add_vf(f.root(), pf, k, None);
    }
    put(&f.dev(pf).join("sriov_numvfs"), &format!("{n}\n"));
    (f, pf)
}

#[test]
fn creates_vfs_from_zero() {
    let (f, pf) = one_pf(0);
    let kernel = FakeKernel::start(f.root(), &[pf]);
    let done = sysfs::set_num_vfs(f.root(), pf, 0, 4, WAIT).unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(read(&f.dev(pf).join("sriov_numvfs")), "4");
    assert_eq!(count_vfs(f.root(), pf), 4);
    assert_eq!(kernel.seen(), [(pf, 4)]);
    let found = sysfs::discover_sriov(f.root()).unwrap();
    let st = found[0].sriov_status.as_ref().unwrap();
    assert_eq!(st.num_vfs, Some(4));
    assert_eq!(st.vfs.len(), 4);

    // Undoing it removes them again.
    sysfs::rollback(f.root(), &done, WAIT).unwrap();
    assert_eq!(count_vfs(f.root(), pf), 0);
}

#[test]
fn changes_vf_count_through_zero() {
    let (f, pf) = one_pf(2);
    let kernel = FakeKernel::start(f.root(), &[pf]);
    let done = sysfs::set_num_vfs(f.root(), pf, 2, 8, WAIT).unwrap();
    assert_eq!(count_vfs(f.root(), pf), 8);
    assert_eq!(kernel.seen(), [(pf, 0), (pf, 8)]);

    sysfs::rollback(f.root(), &done, WAIT).unwrap();
    assert_eq!(count_vfs(f.root(), pf), 2);
    assert_eq!(kernel.seen(), [(pf, 0), (pf, 8), (pf, 0), (pf, 2)]);
    assert!(kernel.violations.lock().unwrap().is_empty());
}

#[test]
fn no_write_when_already_at_count() {
    let (f, pf) = one_pf(4);
    let numvfs = f.dev(pf).join("sriov_numvfs");
    let before = fs::metadata(&numvfs).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let done = sysfs::set_num_vfs(f.root(), pf, 4, 4, WAIT).unwrap();
    assert!(done.is_empty());
    assert_eq!(fs::metadata(&numvfs).unwrap().modified().unwrap(), before);
    assert_eq!(read(&numvfs), "4\n");
}

#[test]
fn refuses_more_than_totalvfs_and_a_stale_count() {
    let (f, pf) = one_pf(0);
    let e = sysfs::set_num_vfs(f.root(), pf, 0, 65, WAIT).unwrap_err();
    assert!(e.to_string().contains("at most 64"), "{e}");
    let e = sysfs::set_num_vfs(f.root(), pf, 2, 4, WAIT).unwrap_err();
    assert!(e.to_string().contains("has 0 VFs, not 2"), "{e}");
    // Not SR-IOV capable at all.
    f.pf("eno2", pci("0000:05:00.0"), None, "e1000e");
    let e = sysfs::set_num_vfs(f.root(), pci("0000:05:00.0"), 0, 1, WAIT).unwrap_err();
    assert!(e.to_string().contains("does not do SR-IOV"), "{e}");
    assert_eq!(read(&f.dev(pf).join("sriov_numvfs")), "0\n");
}

#[test]
fn times_out_when_vfs_do_not_appear_and_rolls_back() {
    // No fake kernel: the write lands in a plain file and no virtfn link ever appears.
    let (f, pf) = one_pf(0);
    let start = Instant::now();
    let e = sysfs::set_num_vfs(f.root(), pf, 0, 4, Duration::from_millis(50)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    let Error::SysfsApply(failed) = &e else {
        panic!("{e:?}")
    };
    let plumber::node::Failed {
        at: step,
        error,
        rolled_back,
        rollback_failed,
        ..
    } = &**failed;
    assert_eq!(step, "wait for 0000:03:00.0 to have 4 VFs");
    assert!(
        error.contains("timed out") && error.contains("has 0 VFs"),
        "{e}"
    );
    assert_eq!(
        rolled_back,
        &[
            "write \"0\" to bus/pci/devices/0000:03:00.0/sriov_numvfs",
            "wait for 0000:03:00.0 to have 0 VFs"
        ]
    );
    assert!(rollback_failed.is_empty());
    assert_eq!(read(&f.dev(pf).join("sriov_numvfs")), "0");
}

#[test]
fn ebusy_says_vfs_are_in_use_and_rolls_back_to_the_old_count() {
    // No file in a temp dir fails a write with EBUSY (root ignores modes; a directory gives EISDIR, a
    // FIFO without reader blocks or gives ENXIO), so the kernel's refusal is injected through
    // `run_with`'s writer; the other writes go to the fixture.
    let (f, pf) = one_pf(2);
    let _kernel = FakeKernel::start(f.root(), &[pf]);
    let plan = sysfs::plan_num_vfs(pf, 2, 4, 64).unwrap();
    let mut writes = Vec::new();
    let mut writer = |path: &Path, value: &str| -> io::Result<()> {
        writes.push(value.to_string());
        if value == "4" {
            return Err(io::Error::from_raw_os_error(16));
        }
        fs::write(path, value)
    };
    let e = sysfs::run_with(f.root(), &plan, WAIT, &mut writer).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("write \"4\" to bus/pci/devices/0000:03:00.0/sriov_numvfs: "));
    assert!(
        msg.contains("busy") && msg.contains("VFs are in use"),
        "{msg}"
    );
    assert!(msg.contains("rolled back: write \"2\""), "{msg}");
    assert_eq!(writes, ["0", "4", "2"]);
    assert_eq!(count_vfs(f.root(), pf), 2);
}

#[test]
fn a_failing_numvfs_write_names_the_path() {
    // A directory where the attribute should be: opening it for writing fails (EISDIR), reliably, as
    // root too.
    let (f, pf) = one_pf(0);
    let numvfs = f.dev(pf).join("sriov_numvfs");
    fs::remove_file(&numvfs).unwrap();
    fs::create_dir(&numvfs).unwrap();
    let e = sysfs::set_num_vfs(f.root(), pf, 0, 4, WAIT).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("write \"4\" to bus/pci/devices/0000:03:00.0/sriov_numvfs: "),
        "{msg}"
    );
    assert!(msg.contains("nothing to roll back"), "{msg}");
    assert!(!msg.contains("in use"), "{msg}");
}

// ---------------------------------------------------------------------------------------------------
// Drivers

#[test]
fn binds_a_vf_idempotently_and_undoes_it() {
    let (f, pf) = one_pf(0);
    let vf = add_vf(f.root(), pf, 0, Some("iavf"));
    let _kernel = FakeKernel::start(f.root(), &[]);
    let driver = |f: &Fixture| link_name(&f.dev(vf).join("driver"));

    let done = sysfs::bind_vf_driver(f.root(), vf, &drv("vfio-pci")).unwrap();
    assert_eq!(driver(&f).as_deref(), Some("vfio-pci"));
    assert_eq!(read(&f.dev(vf).join("driver_override")), "vfio-pci");
    assert_eq!(done.len(), 4);

    // Already bound: nothing to do.
    assert!(sysfs::bind_vf_driver(f.root(), vf, &drv("vfio-pci"))
        .unwrap()
        .is_empty());

    // The inverse: override cleared, back on iavf.
    sysfs::rollback(f.root(), &done, WAIT).unwrap();
    assert_eq!(driver(&f).as_deref(), Some("iavf"));
    assert_eq!(read(&f.dev(vf).join("driver_override")), "\n");
}

#[test]
fn binds_an_unbound_vf_by_canonical_name() {
    let (f, pf) = one_pf(0);
    let vf = add_vf(f.root(), pf, 0, None);
    let _kernel = FakeKernel::start(f.root(), &[]);
    // `i40evf` is `iavf` on current kernels.
    let done = sysfs::bind_vf_driver(f.root(), vf, &drv("i40evf")).unwrap();
    assert_eq!(
        link_name(&f.dev(vf).join("driver")).as_deref(),
        Some("iavf")
    );
    assert!(matches!(&done[0].step, Step::Write(w) if w.value == "iavf"));
    sysfs::rollback(f.root(), &done, WAIT).unwrap();
    assert!(eventually(|| fs::symlink_metadata(
        f.dev(vf).join("driver")
    )
    .is_err()));
}

#[test]
fn binding_to_a_driver_that_is_not_loaded_fails_and_restores() {
    let (f, pf) = one_pf(0);
    let vf = add_vf(f.root(), pf, 0, Some("iavf"));
    let _kernel = FakeKernel::start(f.root(), &[]);
    // No bus/pci/drivers/mlx5_core directory (module not loaded): probing leaves the VF unbound, and
    // the rollback's "unbind from mlx5_core" has nothing to do.
    let plan = sysfs::plan_bind_driver(vf, &drv("mlx5_core"), Some("iavf"), None);
    let e = sysfs::run(f.root(), &plan, Duration::from_millis(100)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("0000:03:02.0 is unbound"), "{msg}");
    assert!(msg.contains("is the mlx5_core module loaded"), "{msg}");
    assert!(
        matches!(&e, Error::SysfsApply(f) if f.rollback_failed.is_empty()),
        "{msg}"
    );
    assert_eq!(
        link_name(&f.dev(vf).join("driver")).as_deref(),
        Some("iavf")
    );
    assert_eq!(read(&f.dev(vf).join("driver_override")), "\n");
}

#[test]
fn sets_drivers_autoprobe() {
    let (f, pf) = one_pf(0);
    let path = f.dev(pf).join("sriov_drivers_autoprobe");
    assert!(sysfs::set_drivers_autoprobe(f.root(), pf, true)
        .unwrap()
        .is_empty());
    let done = sysfs::set_drivers_autoprobe(f.root(), pf, false).unwrap();
    assert_eq!(read(&path), "0");
    assert!(sysfs::set_drivers_autoprobe(f.root(), pf, false)
        .unwrap()
        .is_empty());
    sysfs::rollback(f.root(), &done, WAIT).unwrap();
    assert_eq!(read(&path), "1");
}

/// `plumber show` end to end: the real netlink state of this host plus a fixture sysfs, published as a
/// HostNetwork that the renderer's `--inventory` reads back and uses to resolve a vendor/device selector.
#[test]
fn plumber_show_publishes_what_the_renderer_reads() {
    let f = Fixture::new();
    f.pf("ens9f0", pci("0000:5e:00.0"), Some(64), "i40e");
    f.virtual_if("lo");
    let out = assert_cmd::Command::cargo_bin("plumber")
        .unwrap()
        .args(["show", "-o", "json", "--node-name", "worker-7", "--sysfs"])
        .arg(f.root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hn = plumber_render::inventory::HostNetwork::parse(&text, "show.json").unwrap();
    assert_eq!(hn.kind, "HostNetwork");
    assert_eq!(hn.metadata.name, "worker-7");
    let nic = &hn.status.interface_status[0];
    assert_eq!(nic.pf_name.as_deref(), Some("ens9f0"));
    assert_eq!(
        nic.sriov_status.as_ref().and_then(|s| s.total_vfs),
        Some(64)
    );
    // Netlink side: this host's loopback, with its address.
    let lo = hn
        .status
        .links
        .iter()
        .find(|l| l.name == "lo")
        .expect("lo in links");
    assert!(lo.up);
    assert!(
        lo.ipv4
            .as_ref()
            .is_some_and(|a| a.address.contains(&"127.0.0.1/8".to_string())),
        "{lo:?}"
    );

    let template = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: t}\nspec:\n  sriovConfig:\n    - {vendorId: \"8086\", deviceId: \"1572\", numVfs: 8}\n";
    let t = plumber_render::load(&[plumber_render::Source {
        name: "t".into(),
        text: template.into(),
    }])
    .unwrap();
    let node = plumber_render::node_config(&t, None, Some(&hn)).unwrap();
    assert_eq!(node.sriov[0].name.as_deref(), Some("ens9f0"));
    assert_eq!(node.sriov[0].pci, Some(pci("0000:5e:00.0")));
}

mod py {
    include!("../support/pyyaml.rs");
}

/// `plumber show`'s YAML reads in a YAML 1.1 reader (PyYAML, so Ansible) as its JSON output does: the
/// PCI addresses (`0000:03:00.0` is 180.0 in YAML 1.1 when plain), and links named `on` (true) and `1e3`
/// (a number) come back the same strings. In a network namespace of its own, so that both runs see the
/// same links.
#[test]
fn plumber_show_yaml_reads_in_pyyaml_as_its_json_output() {
    crate::in_netns!(
        "plumber_show_yaml_reads_in_pyyaml_as_its_json_output",
        || {
            crate::common::ip(&["link", "add", "on", "type", "veth", "peer", "name", "1e3"]);
            crate::common::ip(&["addr", "add", "192.0.2.10/24", "dev", "on"]);
            let f = node();
            let show = |format: &str| {
                let out = assert_cmd::Command::cargo_bin("plumber")
                    .unwrap()
                    .args(["show", "-o", format, "--node-name", "2024-01-01", "--sysfs"])
                    .arg(f.root())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8(out.stdout).unwrap()
            };
            let yaml = show("yaml");
            let json: serde_json::Value = serde_json::from_str(&show("json")).unwrap();
            assert_eq!(
                json["status"]["interfaceStatus"][0]["pciAddr"],
                "0000:03:00.0"
            );
            let names: Vec<&str> = json["status"]["links"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|l| l["name"].as_str())
                .collect();
            assert!(names.contains(&"on") && names.contains(&"1e3"), "{names:?}");
            py::assert_pyyaml_reads(&yaml, &json);
            // The default is YAML, and what `plumber-render --inventory` reads.
            assert_eq!(show("yaml"), yaml);
            HostNetwork::parse(&yaml, "show.yaml").unwrap();
        }
    );
}
