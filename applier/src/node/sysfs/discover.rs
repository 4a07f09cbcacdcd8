//! NIC and SR-IOV discovery from sysfs: the NICs under `class/net` (PCI, virtio and other buses) with
//! their PF and VF attributes, in HostPlumber's `interfaceStatus` format.

use std::fs;
use std::path::Path;

use plumber_render::inventory::{InterfaceStatus, SriovStatus, VfStatus};
use plumber_render::model::{PciAddr, PciId};

use crate::node::{Error, Result};

/// Every network interface under `<sysfs>/class/net` with a `device` that is not itself a VF (PCI NICs,
/// virtio and other non-PCI ones, as HostPlumber lists them), sorted by name.
///
/// Virtual interfaces (no `device` link: veth, bridges, VLANs, bonds) are skipped. A missing, unreadable or
/// unparsable attribute leaves its field `None`; only an unreadable `class/net` is an error. VF MAC, VLAN,
/// QoS, trust and spoofchk are netlink's and stay `None` here.
pub fn discover_sriov(sysfs: &Path) -> Result<Vec<InterfaceStatus>> {
    let net = sysfs.join("class/net");
    let entries = fs::read_dir(&net).map_err(|e| Error::io(net.display(), e))?;
    let mut out = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let Some(status) = interface(&net.join(&name), &name) {
            out.push(status);
        }
    }
    out.extend(without_netdev(sysfs, &out));
    out.sort_by(|a, b| a.pf_name.cmp(&b.pf_name));
    Ok(out)
}

/// PCI network controllers (class `0x02....`) that are no VF and have no network interface: a NIC
/// bound to a userspace driver (`vfio-pci` for DPDK), or to none. Listed by PCI address with their
/// driver; `pfName` is unknown here (the applier names the NICs it bound, see
/// [`crate::node::sysfs::nic`]). `listed`: the NICs found through their interfaces.
fn without_netdev(sysfs: &Path, listed: &[InterfaceStatus]) -> Vec<InterfaceStatus> {
    let Ok(entries) = fs::read_dir(sysfs.join("bus/pci/devices")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pci) = e.file_name().to_str().and_then(|n| PciAddr::parse(n).ok()) else {
            continue;
        };
        let device = e.path();
        let network = read_parsed(&device.join("class"), |s| {
            Some(s.trim_start_matches("0x").starts_with("02"))
        });
        if network != Some(true)
            || fs::symlink_metadata(device.join("physfn")).is_ok()
            || netdev(&device).is_some()
            || listed.iter().any(|n| n.pci_addr == Some(pci))
        {
            continue;
        }
        out.push(InterfaceStatus {
            pf_driver: link_basename(&device.join("driver")),
            ..pci_nic(&device, pci)
        });
    }
    out.sort_by_key(|n| n.pci_addr);
    out
}

/// One interface, or `None` when it is virtual (no `device`) or a VF.
fn interface(dir: &Path, name: &str) -> Option<InterfaceStatus> {
    let device = dir.join("device");
    fs::symlink_metadata(&device).ok()?;
    if fs::symlink_metadata(device.join("physfn")).is_ok() {
        return None;
    }
    let bus = link_basename(&device.join("subsystem"));
    let status = match (pci_link(&device), bus.as_deref()) {
        (Some(pci), None | Some("pci")) => pci_nic(&device, pci),
        _ => other_nic(&device, bus),
    };
    Some(InterfaceStatus {
        pf_name: Some(name.to_string()),
        mac: read_parsed(&dir.join("address"), |s| {
            (!s.is_empty()).then(|| s.to_string())
        }),
        mtu: read_parsed(&dir.join("mtu"), |s| s.parse().ok()),
        pf_driver: link_basename(&device.join("driver")),
        ..status
    })
}

/// A NIC that is a PCI function: its ids and SR-IOV state (`sriovEnabled` when `sriov_totalvfs` is
/// above 0, as HostPlumber has it; `sriovStatus` whenever the device has the file).
fn pci_nic(device: &Path, pci: PciAddr) -> InterfaceStatus {
    let total_vfs: Option<u32> = read_parsed(&device.join("sriov_totalvfs"), |s| s.parse().ok());
    let sriov_status = device.join("sriov_totalvfs").exists().then(|| SriovStatus {
        num_vfs: read_parsed(&device.join("sriov_numvfs"), |s| s.parse().ok()),
        total_vfs,
        vfs: vfs(device),
    });
    InterfaceStatus {
        pci_addr: Some(pci),
        vendor_id: read_parsed(&device.join("vendor"), |s| PciId::parse(s).ok()),
        device_id: read_parsed(&device.join("device"), |s| PciId::parse(s).ok()),
        sriov_enabled: Some(total_vfs.is_some_and(|t| t > 0)),
        sriov_status,
        ..InterfaceStatus::default()
    }
}

/// A NIC on another bus (`virtio`, `usb`, `netdevsim`, ...): its bus, and when its device sits on a PCI
/// function (virtio-pci) that function's address and ids. plumber does SR-IOV through PCI only:
/// `sriovEnabled: false`.
fn other_nic(device: &Path, bus: Option<String>) -> InterfaceStatus {
    let function = fs::canonicalize(device)
        .ok()
        .and_then(|d| d.parent().map(Path::to_path_buf))
        .filter(|p| link_basename(&p.join("subsystem")).as_deref() == Some("pci"));
    let pci = function
        .as_ref()
        .and_then(|f| PciAddr::parse(f.file_name()?.to_str()?).ok());
    let id = |file: &str| {
        let f = function.as_ref()?;
        read_parsed(&f.join(file), |s| PciId::parse(s).ok())
    };
    InterfaceStatus {
        pci_addr: pci,
        vendor_id: pci.and_then(|_| id("vendor")),
        device_id: pci.and_then(|_| id("device")),
        bus: Some(bus.unwrap_or_else(|| "unknown".to_string())),
        sriov_enabled: Some(false),
        ..InterfaceStatus::default()
    }
}

/// The PF's `virtfnN` links, by id.
fn vfs(device: &Path) -> Vec<VfStatus> {
    let Ok(entries) = fs::read_dir(device) else {
        return Vec::new();
    };
    let mut vfs: Vec<VfStatus> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let id: u32 = e
                .file_name()
                .to_str()?
                .strip_prefix("virtfn")?
                .parse()
                .ok()?;
            let link = e.path();
            Some(VfStatus {
                id,
                pci_addr: pci_link(&link),
                vf_driver: link_basename(&link.join("driver")),
                netdev: netdev(&link),
                ..VfStatus::default()
            })
        })
        .collect();
    vfs.sort_by_key(|v| v.id);
    vfs
}

/// The network interface a device has (`<device>/net/<name>`), the first by name when several.
fn netdev(device: &Path) -> Option<String> {
    let mut names: Vec<String> = fs::read_dir(device.join("net"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names.into_iter().next()
}

/// The basename of a symlink's target (`driver -> ../../../bus/pci/drivers/i40e` is `i40e`).
pub(crate) fn link_basename(link: &Path) -> Option<String> {
    let target = fs::read_link(link).ok()?;
    Some(target.file_name()?.to_str()?.to_string())
}

/// The PCI address a device link points to.
fn pci_link(link: &Path) -> Option<PciAddr> {
    PciAddr::parse(&link_basename(link)?).ok()
}

/// A one-value attribute, trimmed, through `parse`; `None` when missing, unreadable or unparsable.
pub(crate) fn read_parsed<T>(path: &Path, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let text = fs::read_to_string(path).ok()?;
    parse(text.trim())
}
