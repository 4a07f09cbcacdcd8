//! The real SR-IOV network device plugin (`sriovdp` v3.6.2, unmodified, from `../shared/sriovdp/`) reads
//! the `/etc/pcidp/config.json` plumber-render writes, against a sysfs built to match the template (the
//! PFs with their VFs bound as the template says), and must put exactly the template's VFs in each pool:
//! nothing more, nothing less, no VF claimed twice.
//!
//! How it runs (see `../shared/sriovdp/README.md`): in private mount and network namespaces
//! (`unshare`), the fixture bind-mounted over `/sys`, a tmpfs over `/run` (it writes device-info files
//! there), a kernel link for every netdev the fixture reports (it looks them up over netlink; this
//! kernel has no `dummy`, so they are bridges), and `pci.ids` for device names. Before registering with
//! a kubelet it logs each pool (`Creating new ResourcePool: NAME`) and each device it adds (`device
//! added: [identifier: PCI, ...`); with no kubelet socket it then fails to bind and exits. The log is
//! read, not the exit status; `timeout` bounds a run that would wait (a pool with no device).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const PCI_IDS: &str = "/usr/share/misc/pci.ids";

/// The device plugin binary: `PLUMBER_SRIOVDP`, else `../shared/sriovdp/sriovdp.xz` unpacked once into
/// `.cache/sriovdp/` (keyed by the archive's size). Missing: a failure naming the fix, never a skip.
fn sriovdp() -> PathBuf {
    if let Some(p) = std::env::var_os("PLUMBER_SRIOVDP") {
        return PathBuf::from(p);
    }
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let xz = repo_root().join("../shared/sriovdp/sriovdp.xz");
    let len = fs::metadata(&xz)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the SR-IOV device plugin binary is missing (put the project's shared/ \
                 beside the repository, or set PLUMBER_SRIOVDP to a sriovdp binary)",
                xz.display()
            )
        })
        .len();
    let dir = repo_root().join(format!(".cache/sriovdp/{len}"));
    let bin = dir.join("sriovdp");
    if bin.is_file() {
        return bin;
    }
    fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!(".sriovdp.{}", std::process::id()));
    let out = fs::File::create(&tmp).unwrap();
    let st = Command::new(require_tool("xz"))
        .arg("-dc")
        .arg(&xz)
        .stdout(out)
        .status()
        .unwrap();
    assert!(st.success(), "xz -dc {} failed", xz.display());
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&tmp, &bin).unwrap();
    bin
}

/// One PF of the fixture: its PCI address and interface, its VFs' driver and whether they have
/// network interfaces (a kernel driver) or not (`vfio-pci`).
struct FixturePf {
    pci: &'static str,
    name: &'static str,
    vfs: u32,
    vf_driver: &'static str,
}

/// The PCI address of VF `k` of a fixture PF: bus `af`, device `02` + 8 per PF function, function k.
fn vf_pci(pf: &FixturePf, k: u32) -> String {
    let func: u32 = pf.pci[pf.pci.len() - 1..].parse().unwrap();
    let dev = 2 + 8 * func + k / 8;
    format!("0000:af:{dev:02x}.{}", k % 8)
}

fn put(p: &Path, s: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, s).unwrap();
}

/// The sysfs files the device plugin (through the ghw library) reads, for `pfs`; returns the names of
/// the network interfaces, which must exist as kernel links when it runs.
fn build_sysfs(root: &Path, pfs: &[FixturePf]) -> Vec<String> {
    const BRIDGE: &str = "devices/pci0000:00/0000:00:03.0";
    for d in ["i40e", "iavf", "vfio-pci"] {
        fs::create_dir_all(root.join("bus/pci/drivers").join(d)).unwrap();
    }
    fs::create_dir_all(root.join("bus/pci/devices")).unwrap();
    let dev = |pci: &str, device: &str, driver: &str| -> PathBuf {
        let d = root.join(BRIDGE).join(pci);
        put(&d.join("vendor"), "0x8086\n");
        put(&d.join("device"), &format!("0x{device}\n"));
        put(&d.join("class"), "0x020000\n");
        let modalias = format!(
            "pci:v00008086d0000{}sv00008086sd00000000bc02sc00i00\n",
            device.to_uppercase()
        );
        put(&d.join("modalias"), &modalias);
        put(&d.join("numa_node"), "0\n");
        put(&d.join("driver_override"), "(null)\n");
        symlink("../../../bus/pci", d.join("subsystem")).unwrap();
        symlink(
            format!("../../../bus/pci/drivers/{driver}"),
            d.join("driver"),
        )
        .unwrap();
        let link = root.join("bus/pci/devices").join(pci);
        symlink(format!("../../../{BRIDGE}/{pci}"), link).unwrap();
        d
    };
    let mut netdevs = Vec::new();
    let mut net = |d: &Path, name: &str, mac: &str| {
        let n = d.join("net").join(name);
        put(&n.join("address"), &format!("{mac}\n"));
        put(&n.join("mtu"), "1500\n");
        put(&n.join("type"), "1\n");
        fs::create_dir_all(root.join("class/net")).unwrap();
        let rel = format!(
            "../../{}/net/{name}",
            d.strip_prefix(root).unwrap().display()
        );
        symlink(rel, root.join("class/net").join(name)).unwrap();
        netdevs.push(name.to_string());
    };
    for (i, pf) in pfs.iter().enumerate() {
        let d = dev(pf.pci, "1572", "i40e");
        net(&d, pf.name, &format!("b4:96:91:00:00:{i:02x}"));
        put(&d.join("sriov_totalvfs"), "64\n");
        put(&d.join("sriov_numvfs"), &format!("{}\n", pf.vfs));
        for k in 0..pf.vfs {
            let v = vf_pci(pf, k);
            let vd = dev(&v, "154c", pf.vf_driver);
            symlink(format!("../{v}"), d.join(format!("virtfn{k}"))).unwrap();
            symlink(format!("../{}", pf.pci), vd.join("physfn")).unwrap();
            let group = 100 * (i as u32 + 1) + k;
            fs::create_dir_all(root.join(format!("kernel/iommu_groups/{group}/devices"))).unwrap();
            symlink(
                format!("../../../kernel/iommu_groups/{group}"),
                vd.join("iommu_group"),
            )
            .unwrap();
            if pf.vf_driver != "vfio-pci" {
                net(
                    &vd,
                    &format!("{}v{k}", pf.name),
                    &format!("02:00:00:00:{i:02x}:{k:02x}"),
                );
            }
        }
    }
    // The whole NIC on vfio-pci: a network controller without an interface, SR-IOV-capable but with
    // no VFs, in an IOMMU group of its own.
    let d = dev(WHOLE_NIC, "1572", "vfio-pci");
    put(&d.join("sriov_totalvfs"), "64\n");
    put(&d.join("sriov_numvfs"), "0\n");
    fs::create_dir_all(root.join("kernel/iommu_groups/99/devices")).unwrap();
    symlink("../../../kernel/iommu_groups/99", d.join("iommu_group")).unwrap();
    netdevs
}

/// Runs the device plugin on `config` against the fixture `sysfs` and returns each pool's devices, as
/// its log says, and every line about a device claimed twice.
fn pools_of(
    config: &Path,
    sysfs: &Path,
    netdevs: &[String],
) -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let bin = sriovdp();
    assert!(
        Path::new(PCI_IDS).exists(),
        "{PCI_IDS} is missing (Debian's pci.ids; ./ci-test.sh installs it)"
    );
    let links: String = netdevs
        .iter()
        .map(|n| format!("ip link add {n} type bridge\n"))
        .collect();
    // Paths go in as arguments ($1..$3), never into the script's text.
    let script = format!(
        "set -e\nmount --bind \"$1\" /sys\nmount -t tmpfs tmpfs /run\n{links}\
         PCIDB_PATH={PCI_IDS} timeout 30 \"$2\" --config-file \"$3\" --logtostderr -v 10 2>&1 || true\n"
    );
    let out = Command::new(require_tool("unshare"))
        .args(["--mount", "--net", "--fork", "--propagation", "private"])
        .args(["sh", "-c", &script, "sh"])
        .arg(sysfs)
        .arg(&bin)
        .arg(config)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "unshare: {}\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pools: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut twice = Vec::new();
    for line in log.lines() {
        if let Some(p) = line.split("Creating new ResourcePool: ").nth(1) {
            current = Some(p.trim().to_string());
            pools.entry(p.trim().to_string()).or_default();
        } else if let Some(rest) = line.split("device added: [identifier: ").nth(1) {
            let pci = rest.split(',').next().unwrap().to_string();
            let pool = current
                .clone()
                .unwrap_or_else(|| panic!("a device before any pool:\n{log}"));
            pools.get_mut(&pool).unwrap().insert(pci);
        } else if line.contains("Already allocated") {
            twice.push(line.to_string());
        }
    }
    assert!(!pools.is_empty(), "the device plugin made no pool:\n{log}");
    (pools, twice)
}

const TEMPLATE: &str = "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata:
  name: pools
spec:
  sriovConfig:
    - pfName: eno2
      numVfs: 8
      vfDriver: vfio-pci
      resourceName: dpdk_a
      vfs:
        - id: 6-7
          resourceName: dpdk_b
          needVhostNet: true
    - pciAddr: 0000:af:00.1
      numVfs: 4
      vfDriver: iavf
      resourceName: net_a
      resourcePrefix: example.com
    - pfName: eno4
      numVfs: 2
      vfDriver: iavf
    - pciAddr: 0000:af:00.3
      pfDriver: vfio-pci
      resourceName: pf_dpdk
";

const INVENTORY: &str = "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetwork
metadata:
  name: node-1
status:
  interfaceStatus:
    - {pfName: eno2, pciAddr: \"0000:af:00.0\", vendorId: \"8086\", deviceId: \"1572\", sriovEnabled: true, sriovStatus: {totalVfs: 64}}
    - {pfName: eno3, pciAddr: \"0000:af:00.1\", vendorId: \"8086\", deviceId: \"1572\", sriovEnabled: true, sriovStatus: {totalVfs: 64}}
    - {pfName: eno4, pciAddr: \"0000:af:00.2\", vendorId: \"8086\", deviceId: \"1572\", sriovEnabled: true, sriovStatus: {totalVfs: 64}}
    - {pciAddr: \"0000:af:00.3\", vendorId: \"8086\", deviceId: \"1572\", pfDriver: vfio-pci, sriovEnabled: false}
";

const FIXTURE: &[FixturePf] = &[
    FixturePf {
        pci: "0000:af:00.0",
        name: "eno2",
        vfs: 8,
        vf_driver: "vfio-pci",
    },
    FixturePf {
        pci: "0000:af:00.1",
        name: "eno3",
        vfs: 4,
        vf_driver: "iavf",
    },
    FixturePf {
        pci: "0000:af:00.2",
        name: "eno4",
        vfs: 2,
        vf_driver: "iavf",
    },
];

/// The whole NIC in PF mode: on vfio-pci, no VFs, no network interface.
const WHOLE_NIC: &str = "0000:af:00.3";

/// The pools the template means: VFs 0-5 and 6-7 of eno2, every VF of eno3, none of eno4, and the
/// whole NIC.
fn wanted() -> BTreeMap<String, BTreeSet<String>> {
    let vfs = |pf: usize, ids: std::ops::Range<u32>| ids.map(|k| vf_pci(&FIXTURE[pf], k)).collect();
    BTreeMap::from([
        ("dpdk_a".to_string(), vfs(0, 0..6)),
        ("dpdk_b".to_string(), vfs(0, 6..8)),
        ("net_a".to_string(), vfs(1, 0..4)),
        (
            "pf_dpdk".to_string(),
            BTreeSet::from([WHOLE_NIC.to_string()]),
        ),
    ])
}

/// plumber-render's config.json for the template (with `--inventory FILE` when given).
fn render_config(dir: &Path, inventory: Option<&str>) -> (PathBuf, String) {
    let t = dir.join("pools.yaml");
    fs::write(&t, TEMPLATE).unwrap();
    let out = dir.join("out");
    let mut c = assert_cmd::Command::cargo_bin("plumber-render").unwrap();
    c.args(["--distro", "rhel9", "--out"]).arg(&out).arg(&t);
    if let Some(inv) = inventory {
        let p = dir.join("inventory.yaml");
        fs::write(&p, inv).unwrap();
        c.arg("--inventory").arg(p);
    }
    let r = c.output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let config = out.join("etc/pcidp/config.json");
    let text =
        fs::read_to_string(&config).expect("plumber-render wrote the device plugin's config");
    (config, text)
}

#[test]
fn the_device_plugin_puts_exactly_the_templates_vfs_in_each_pool() {
    let s = scratch();
    let sysfs = s.path().join("sys");
    let netdevs = build_sysfs(&sysfs, FIXTURE);
    for (case, inventory) in [
        ("without an inventory", None),
        ("with the node's inventory", Some(INVENTORY)),
    ] {
        let dir = s.path().join(case.replace(' ', "-"));
        fs::create_dir_all(&dir).unwrap();
        let (config, text) = render_config(&dir, inventory);
        // Without an inventory eno2 is known by name only; with one, every PF by PCI address.
        match inventory {
            None => assert!(
                text.contains("\"eno2#0-5\"") && text.contains("\"0000:af:00.1#0-3\""),
                "{text}"
            ),
            Some(_) => assert!(
                text.contains("\"0000:af:00.0#0-5\"") && !text.contains("eno2#"),
                "{text}"
            ),
        }
        let (pools, twice) = pools_of(&config, &sysfs, &netdevs);
        assert_eq!(pools, wanted(), "{case}:\n{text}");
        assert!(
            twice.is_empty(),
            "{case}: VFs claimed twice: {twice:?}\n{text}"
        );
    }
}
