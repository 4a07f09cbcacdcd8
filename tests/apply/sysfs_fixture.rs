//! A sysfs fixture tree and [`FakeKernel`], shared by the sysfs and apply tests: temp dirs laid out
//! like `/sys`, with real relative symlinks (`class/net/eno1 -> ../../devices/pci0000:00/0000:00:02.0/0000:03:00.0/net/eno1`,
//! `device`, `driver`, `subsystem`, `virtfnN`, `physfn`, `bus/pci/devices/<pci>`).
//!
//! Plain files do nothing when written, so [`FakeKernel`], a thread polling the tree every millisecond,
//! plays the kernel where a test needs it: it makes the `virtfnN` links (and VF devices) follow
//! `sriov_numvfs`, and makes `driver` links follow writes to `drivers/<d>/bind`, `drivers/<d>/unbind`
//! and `drivers_probe` (honouring `driver_override`, and only for drivers whose directory exists, i.e.
//! "loaded" modules), and makes a PF's network interface go away when it is bound to no network driver
//! (`vfio-pci`) and come back under its name when it is again.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use plumber_render::model::{DriverName, PciAddr};

/// Where the fixture's PCI devices live.
pub const BRIDGE: &str = "devices/pci0000:00/0000:00:02.0";

pub fn pci(s: &str) -> PciAddr {
    PciAddr::parse(s).unwrap()
}

pub fn drv(s: &str) -> DriverName {
    DriverName::parse(s).unwrap()
}

pub fn put(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

pub fn link_name(path: &Path) -> Option<String> {
    fs::read_link(path)
        .ok()
        .map(|t| t.file_name().unwrap().to_string_lossy().into_owned())
}

/// The PCI address of VF `k` of a PF: `0000:03:00.0` → `0000:03:02.k` (8 functions per device).
pub fn vf_pci(pf: PciAddr, k: u32) -> PciAddr {
    PciAddr {
        device: 2 + (k / 8) as u8,
        function: (k % 8) as u8,
        ..pf
    }
}

/// A sysfs tree in a temp dir.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("class/net")).unwrap();
        fs::create_dir_all(root.join("bus/pci/devices")).unwrap();
        fs::create_dir_all(root.join(BRIDGE)).unwrap();
        put(&root.join("bus/pci/drivers_probe"), "");
        for d in ["i40e", "iavf", "vfio-pci", "e1000e"] {
            add_driver(root, d);
        }
        Fixture { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn dev(&self, pci: PciAddr) -> PathBuf {
        self.root().join(format!("bus/pci/devices/{pci}"))
    }

    /// A PF netdev `name` on PCI function `pf`; SR-IOV capable when `total` is given.
    pub fn pf(&self, name: &str, pf: PciAddr, total: Option<u32>, driver: &str) {
        let root = self.root();
        let dev = add_pci_device(root, pf, Some(driver));
        put(&dev.join("vendor"), "0x8086\n");
        put(&dev.join("device"), "0x1572\n");
        put(&dev.join("class"), "0x020000\n");
        if let Some(total) = total {
            put(&dev.join("sriov_totalvfs"), &format!("{total}\n"));
            put(&dev.join("sriov_numvfs"), "0\n");
            put(&dev.join("sriov_drivers_autoprobe"), "1\n");
        }
        add_netdev(root, &dev, pf, name);
    }

    /// A virtual interface (no `device` link).
    pub fn virtual_if(&self, name: &str) {
        let dir = self.root().join("devices/virtual/net").join(name);
        put(&dir.join("address"), "00:00:00:00:00:00\n");
        put(&dir.join("mtu"), "65536\n");
        symlink(
            format!("../../devices/virtual/net/{name}"),
            self.root().join("class/net").join(name),
        )
        .unwrap();
    }
}

pub fn add_driver(root: &Path, d: &str) {
    put(&root.join("bus/pci/drivers").join(d).join("bind"), "");
    put(&root.join("bus/pci/drivers").join(d).join("unbind"), "");
}

/// `devices/.../<pci>` with `subsystem`, `driver_override`, optionally `driver`, and its
/// `bus/pci/devices/<pci>` link.
pub fn add_pci_device(root: &Path, pci: PciAddr, driver: Option<&str>) -> PathBuf {
    let dev = root.join(BRIDGE).join(pci.to_string());
    fs::create_dir_all(&dev).unwrap();
    put(&dev.join("driver_override"), "(null)\n");
    symlink("../../../../bus/pci", dev.join("subsystem")).unwrap();
    if let Some(d) = driver {
        symlink(
            format!("../../../../bus/pci/drivers/{d}"),
            dev.join("driver"),
        )
        .unwrap();
    }
    symlink(
        format!("../../../{BRIDGE}/{pci}"),
        root.join(format!("bus/pci/devices/{pci}")),
    )
    .unwrap();
    dev
}

/// `<dev>/net/<name>` with `address`, `mtu` and `device`, and its `class/net/<name>` link.
pub fn add_netdev(root: &Path, dev: &Path, pci: PciAddr, name: &str) {
    let net = dev.join("net").join(name);
    put(&net.join("address"), "b4:96:91:70:19:39\n");
    put(&net.join("mtu"), "1500\n");
    symlink(format!("../../../{pci}"), net.join("device")).unwrap();
    symlink(
        format!("../../{BRIDGE}/{pci}/net/{name}"),
        root.join("class/net").join(name),
    )
    .unwrap();
}

/// VF `k` of `pf`: its device (with `physfn`) and the PF's `virtfnK` link.
pub fn add_vf(root: &Path, pf: PciAddr, k: u32, driver: Option<&str>) -> PciAddr {
    let vf = vf_pci(pf, k);
    let dev = add_pci_device(root, vf, driver);
    put(&dev.join("vendor"), "0x8086\n");
    put(&dev.join("device"), "0x154c\n");
    symlink(format!("../{pf}"), dev.join("physfn")).unwrap();
    symlink(
        format!("../{vf}"),
        root.join(BRIDGE)
            .join(pf.to_string())
            .join(format!("virtfn{k}")),
    )
    .unwrap();
    vf
}

pub fn remove_vfs(root: &Path, pf: PciAddr) {
    let pf_dir = root.join(BRIDGE).join(pf.to_string());
    for e in fs::read_dir(&pf_dir).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("virtfn") {
            let vf = link_name(&e.path()).unwrap();
            fs::remove_dir_all(root.join(BRIDGE).join(&vf)).unwrap();
            fs::remove_file(root.join("bus/pci/devices").join(&vf)).unwrap();
            fs::remove_file(e.path()).unwrap();
        }
    }
}

pub fn count_vfs(root: &Path, pf: PciAddr) -> usize {
    fs::read_dir(root.join(BRIDGE).join(pf.to_string()))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("virtfn")
        })
        .count()
}

/// The kernel's side of the writes, played by a polling thread (see the module doc).
pub struct FakeKernel {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Every `sriov_numvfs` value it acted on, per PF, in order.
    numvfs_seen: Arc<Mutex<Vec<(PciAddr, u32)>>>,
    /// N→M changes with both non-zero, which a real kernel refuses with EBUSY.
    pub violations: Arc<Mutex<Vec<String>>>,
}

impl FakeKernel {
    pub fn start(root: &Path, pfs: &[PciAddr]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let numvfs_seen = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let (root, pfs) = (root.to_path_buf(), pfs.to_vec());
        let thread = {
            let (stop, seen, violations) = (stop.clone(), numvfs_seen.clone(), violations.clone());
            std::thread::spawn(move || {
                let mut unbound_netdevs = std::collections::BTreeMap::new();
                while !stop.load(Ordering::SeqCst) {
                    for &pf in &pfs {
                        step_vfs(&root, pf, &seen, &violations);
                    }
                    step_drivers(&root);
                    for &pf in &pfs {
                        step_netdev(&root, pf, &mut unbound_netdevs);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        FakeKernel {
            stop,
            thread: Some(thread),
            numvfs_seen,
            violations,
        }
    }

    pub fn seen(&self) -> Vec<(PciAddr, u32)> {
        self.numvfs_seen.lock().unwrap().clone()
    }
}

impl Drop for FakeKernel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Makes the VFs of `pf` follow `sriov_numvfs` (not a readable number, e.g. a directory: nothing).
pub fn step_vfs(
    root: &Path,
    pf: PciAddr,
    seen: &Mutex<Vec<(PciAddr, u32)>>,
    violations: &Mutex<Vec<String>>,
) {
    let path = root.join(BRIDGE).join(pf.to_string()).join("sriov_numvfs");
    let Some(n) = fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    let have = count_vfs(root, pf) as u32;
    if n == have {
        return;
    }
    if n != 0 && have != 0 {
        violations
            .lock()
            .unwrap()
            .push(format!("{pf}: {have} -> {n}"));
    }
    seen.lock().unwrap().push((pf, n));
    remove_vfs(root, pf);
    for k in 0..n {
        add_vf(root, pf, k, None);
    }
}

/// The fixture's network drivers: a PF bound to one has its network interface.
pub const NET_DRIVERS: &[&str] = &["i40e", "iavf", "e1000e"];

/// Makes a PF's network interface follow its driver: gone when it is bound to no network driver (its
/// name kept in `names`), back under that name when it is bound to one again.
pub fn step_netdev(
    root: &Path,
    pf: PciAddr,
    names: &mut std::collections::BTreeMap<PciAddr, String>,
) {
    let dev = root.join(BRIDGE).join(pf.to_string());
    let net_driver =
        link_name(&dev.join("driver")).is_some_and(|d| NET_DRIVERS.contains(&d.as_str()));
    let name = fs::read_dir(dev.join("net"))
        .ok()
        .and_then(|mut e| e.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned());
    match (name, net_driver) {
        (Some(n), false) => {
            fs::remove_file(root.join("class/net").join(&n)).unwrap();
            fs::remove_dir_all(dev.join("net")).unwrap();
            names.insert(pf, n);
        }
        (None, true) => {
            if let Some(n) = names.remove(&pf) {
                add_netdev(root, &dev, pf, &n);
            }
        }
        _ => {}
    }
}

/// Takes a write-once command file's content (`bind`, `unbind`, `drivers_probe`) and empties it.
pub fn take(path: &Path) -> Option<PciAddr> {
    let text = fs::read_to_string(path).ok()?;
    if text.is_empty() {
        return None;
    }
    fs::write(path, "").unwrap();
    PciAddr::parse(text.trim()).ok()
}

pub fn set_driver(root: &Path, dev: PciAddr, driver: &str) {
    let link = root.join(BRIDGE).join(dev.to_string()).join("driver");
    let _ = fs::remove_file(&link);
    symlink(format!("../../../../bus/pci/drivers/{driver}"), link).unwrap();
}

/// Unbinds (only from the driver named), then binds, then probes (by `driver_override`, when that
/// driver is "loaded"). Binding replaces any driver link, so the final state does not depend on which
/// of an unbind and a later bind or probe this thread saw first.
pub fn step_drivers(root: &Path) {
    let drivers = root.join("bus/pci/drivers");
    let names: Vec<String> = fs::read_dir(&drivers)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for d in &names {
        if let Some(dev) = take(&drivers.join(d).join("unbind")) {
            let link = root.join(BRIDGE).join(dev.to_string()).join("driver");
            if link_name(&link).as_deref() == Some(d) {
                fs::remove_file(link).unwrap();
            }
        }
    }
    for d in &names {
        if let Some(dev) = take(&drivers.join(d).join("bind")) {
            set_driver(root, dev, d);
        }
    }
    if let Some(dev) = take(&root.join("bus/pci/drivers_probe")) {
        let ov = read(
            &root
                .join(BRIDGE)
                .join(dev.to_string())
                .join("driver_override"),
        );
        let ov = ov.trim();
        if !ov.is_empty() && ov != "(null)" && drivers.join(ov).is_dir() {
            set_driver(root, dev, ov);
        }
    }
}

/// Polls `f` for up to a second (for effects nothing in the code under test waits for).
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}
