//! `status.pools` (plumber's addition): the device plugin pools of a node and the VFs each will
//! advertise, read from the device plugin's configuration on the node (`/etc/pcidp/config.json`,
//! plumber's or not) and resolved on the node's discovered VFs the way the device plugin (v3.6)
//! selects: `pfNames`/`rootDevices` with `#first-last` VF lists, `pciAddresses` (a whole NIC),
//! `drivers`, and the first pool keeping a device another pool also selects.
//!
//! ```yaml
//! pools:
//!   - resource: intel.com/dpdk_a
//!     devices: ["0000:af:02.0", "0000:af:02.1"]
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::InterfaceStatus;
use crate::render::pcidp::{pf_and_vfs, Config};

/// One pool as the device plugin will advertise it on this node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolStatus {
    /// The extended resource pods ask for, `<resourcePrefix>/<resourceName>`.
    pub resource: String,
    /// The PCI addresses of the VFs in the pool (empty: the pool has none on this node yet, e.g. its
    /// VFs are not bound to the pool's driver).
    #[serde(default)]
    pub devices: Vec<String>,
}

/// The pools of `config` (the device plugin's JSON) on a node whose NICs are `nics`. `Err` when the
/// configuration is not JSON of the device plugin's shape.
pub fn pools(config: &str, nics: &[InterfaceStatus]) -> Result<Vec<PoolStatus>, String> {
    let config: Config = serde_json::from_str(config).map_err(|e| e.to_string())?;
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for r in config.resource_list {
        let prefix = r
            .resource_prefix
            .unwrap_or_else(|| crate::model::DEFAULT_RESOURCE_PREFIX.into());
        let sel = r.selectors;
        let mut devices = Vec::new();
        let wanted = sel
            .pf_names
            .iter()
            .map(|s| (s, true))
            .chain(sel.root_devices.iter().map(|s| (s, false)));
        for (spec, by_name) in wanted {
            let Some((pf, ids)) = pf_and_vfs(spec) else {
                continue;
            };
            let nic = nics.iter().find(|n| {
                if by_name {
                    n.pf_name.as_deref() == Some(pf)
                } else {
                    n.pci_addr.map(|a| a.to_string()).as_deref() == Some(pf)
                }
            });
            let vfs = nic
                .and_then(|n| n.sriov_status.as_ref())
                .map(|s| s.vfs.as_slice())
                .unwrap_or_default();
            for vf in vfs {
                if ids.as_ref().is_some_and(|ids| !ids.contains(&vf.id)) {
                    continue;
                }
                let driver = vf.vf_driver.as_deref().unwrap_or("");
                if !sel.drivers.is_empty() && !sel.drivers.iter().any(|d| d == driver) {
                    continue;
                }
                let Some(addr) = vf.pci_addr.map(|a| a.to_string()) else {
                    continue;
                };
                if taken.insert(addr.clone()) {
                    devices.push(addr);
                }
            }
        }
        // Whole devices by PCI address (a NIC in PF mode), on the pool's driver.
        for addr in &sel.pci_addresses {
            let Some(nic) = nics
                .iter()
                .find(|n| n.pci_addr.map(|a| a.to_string()).as_deref() == Some(addr.as_str()))
            else {
                continue;
            };
            let driver = nic.pf_driver.as_deref().unwrap_or("");
            if !sel.drivers.is_empty() && !sel.drivers.iter().any(|d| d == driver) {
                continue;
            }
            if taken.insert(addr.clone()) {
                devices.push(addr.clone());
            }
        }
        devices.sort();
        out.push(PoolStatus {
            resource: format!("{prefix}/{}", r.resource_name),
            devices,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{SriovStatus, VfStatus};
    use crate::model::PciAddr;

    fn nic(name: &str, pci: &str, vfs: &[(u32, &str, &str)]) -> InterfaceStatus {
        InterfaceStatus {
            pf_name: Some(name.into()),
            pci_addr: Some(PciAddr::parse(pci).unwrap()),
            sriov_status: Some(SriovStatus {
                num_vfs: Some(vfs.len() as u32),
                total_vfs: Some(64),
                vfs: vfs
                    .iter()
                    .map(|(id, addr, drv)| VfStatus {
                        id: *id,
                        pci_addr: Some(PciAddr::parse(addr).unwrap()),
                        vf_driver: Some(drv.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pools_take_their_vfs_by_pf_range_and_driver_first_pool_first() {
        let nics = [
            nic(
                "eno2",
                "0000:af:00.0",
                &[
                    (0, "0000:af:02.0", "vfio-pci"),
                    (1, "0000:af:02.1", "vfio-pci"),
                    (2, "0000:af:02.2", "iavf"),
                ],
            ),
            nic("eno3", "0000:af:00.1", &[(0, "0000:af:0a.0", "iavf")]),
        ];
        let config = r#"{"resourceList": [
            {"resourceName": "a", "selectors": {"drivers": ["vfio-pci"], "pfNames": ["eno2#0-2"]}},
            {"resourceName": "b", "resourcePrefix": "example.com", "selectors": {"rootDevices": ["0000:af:00.0#1", "0000:af:00.1"]}},
            {"resourceName": "c", "selectors": {"pfNames": ["eno9"]}}
        ]}"#;
        let p = pools(config, &nics).unwrap();
        let got: Vec<(&str, Vec<&str>)> = p
            .iter()
            .map(|p| {
                (
                    p.resource.as_str(),
                    p.devices.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // VF 2 is on iavf, not the pool's driver.
                ("intel.com/a", vec!["0000:af:02.0", "0000:af:02.1"]),
                // VF 1 of eno2 is a's already; eno3's VFs all.
                ("example.com/b", vec!["0000:af:0a.0"]),
                ("intel.com/c", vec![]),
            ]
        );
        assert!(pools("not json", &nics).is_err());

        // A whole NIC (PF mode), by PCI address and on the pool's driver only.
        let mut whole = nic("x", "0000:af:00.3", &[]);
        whole.pf_name = None;
        whole.pf_driver = Some("vfio-pci".into());
        let config = r#"{"resourceList": [
            {"resourceName": "w", "selectors": {"drivers": ["vfio-pci"], "pciAddresses": ["0000:af:00.3", "0000:af:00.9"]}},
            {"resourceName": "k", "selectors": {"drivers": ["i40e"], "pciAddresses": ["0000:af:00.3"]}}
        ]}"#;
        let p = pools(config, &[whole]).unwrap();
        assert_eq!(p[0].devices, ["0000:af:00.3"]);
        assert!(p[1].devices.is_empty());
    }
}
