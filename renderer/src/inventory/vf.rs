//! One VF of a PF's `sriovStatus.vfs`, and how it is written and read. HostPlumber's CRD requires all
//! eight fields of a VF (`id`, `vfDriver`, `pciAddr`, `mac`, `vlan`, `qos`, `spoofchk`, `trust`), so
//! plumber always writes them, with HostPlumber's values for "nothing": `vfDriver: ""` (unbound),
//! `pciAddr: ""` (sysfs does not list the VF), `mac: "00:00:00:00:00:00"` (no MAC set), and `0`/`false`
//! for a VLAN, QoS, spoofchk or trust the driver does not report, which plumber's own `notReported`
//! then names (HostPlumber always wrote `trust: false`, reported or not).
//!
//! Reading takes every form: plumber's, HostPlumber's (`vfDriver`/`pciAddr` `"."`, its `filepath.Base`
//! of nothing) and older plumber objects that left unknown fields out; each "nothing" reads as `None`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::PciAddr;

/// The MAC a VF reports when none is set.
const NO_MAC: &str = "00:00:00:00:00:00";

/// One VF as discovered. sysfs gives the id, PCI address and driver; the rest comes from netlink
/// (`IFLA_VFINFO_LIST`) and is `None` when only sysfs was read or the driver does not report it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VfStatus {
    pub id: u32,
    /// The VF's MAC; `None` when unset (all zeros).
    pub mac: Option<String>,
    pub pci_addr: Option<PciAddr>,
    pub vlan: Option<u32>,
    pub qos: Option<u32>,
    pub spoofchk: Option<bool>,
    pub trust: Option<bool>,
    /// The VF's kernel driver (`iavf`, `vfio-pci`); `None` when unbound.
    pub vf_driver: Option<String>,
    /// plumber: the VF's network interface, when its driver made one (`vfio-pci` makes none).
    pub netdev: Option<String>,
}

/// A field of a VF that the driver may leave unreported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VfField {
    Vlan,
    Qos,
    Spoofchk,
    Trust,
}

/// One VF as written: HostPlumber's eight required fields, then plumber's `notReported`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    rename = "VfStatus",
    description = "One VF as discovered: HostPlumber's eight fields, always present (vfDriver \"\" \
                   when unbound, pciAddr \"\" when sysfs does not list it, mac 00:00:00:00:00:00 when \
                   unset), and the fields the driver does not report (written 0 or false)."
)]
struct VfOut<'a> {
    id: u32,
    /// The VF's kernel driver (`iavf`, `vfio-pci`); empty when unbound.
    vf_driver: &'a str,
    /// The VF's PCI address; empty when sysfs does not list the VF.
    pci_addr: String,
    mac: &'a str,
    vlan: u32,
    qos: u32,
    spoofchk: bool,
    trust: bool,
    /// plumber: the fields the driver does not report (written as 0 or false above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    not_reported: Vec<VfField>,
    /// plumber: the VF's network interface, when its driver made one (`vfio-pci` makes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    netdev: Option<&'a str>,
}

/// One VF as read: every field optional, HostPlumber's "nothing" values taken.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VfIn {
    #[serde(default)]
    id: u32,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    pci_addr: Option<String>,
    #[serde(default)]
    vlan: Option<u32>,
    #[serde(default)]
    qos: Option<u32>,
    #[serde(default)]
    spoofchk: Option<bool>,
    #[serde(default)]
    trust: Option<bool>,
    #[serde(default)]
    vf_driver: Option<String>,
    #[serde(default)]
    not_reported: Vec<VfField>,
    #[serde(default)]
    netdev: Option<String>,
}

impl Serialize for VfStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut not_reported = Vec::new();
        let mut or_zero = |v: Option<u32>, f: VfField| {
            v.unwrap_or_else(|| {
                not_reported.push(f);
                0
            })
        };
        let vlan = or_zero(self.vlan, VfField::Vlan);
        let qos = or_zero(self.qos, VfField::Qos);
        let mut or_false = |v: Option<bool>, f: VfField| {
            v.unwrap_or_else(|| {
                not_reported.push(f);
                false
            })
        };
        let spoofchk = or_false(self.spoofchk, VfField::Spoofchk);
        let trust = or_false(self.trust, VfField::Trust);
        VfOut {
            id: self.id,
            vf_driver: self.vf_driver.as_deref().unwrap_or(""),
            pci_addr: self.pci_addr.map(|a| a.to_string()).unwrap_or_default(),
            mac: self.mac.as_deref().unwrap_or(NO_MAC),
            vlan,
            qos,
            spoofchk,
            trust,
            not_reported,
            netdev: self.netdev.as_deref(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for VfStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = VfIn::deserialize(d)?;
        let reported = |f: VfField| !v.not_reported.contains(&f);
        let something = |s: Option<String>| s.filter(|s| !s.is_empty() && s != ".");
        Ok(VfStatus {
            id: v.id,
            mac: v.mac.filter(|m| !m.eq_ignore_ascii_case(NO_MAC)),
            pci_addr: something(v.pci_addr)
                .map(|a| PciAddr::parse(&a).map_err(serde::de::Error::custom))
                .transpose()?,
            vlan: v.vlan.filter(|_| reported(VfField::Vlan)),
            qos: v.qos.filter(|_| reported(VfField::Qos)),
            spoofchk: v.spoofchk.filter(|_| reported(VfField::Spoofchk)),
            trust: v.trust.filter(|_| reported(VfField::Trust)),
            vf_driver: something(v.vf_driver),
            netdev: v.netdev,
        })
    }
}

impl JsonSchema for VfStatus {
    fn schema_name() -> Cow<'static, str> {
        VfOut::schema_name()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        VfOut::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vf_with_nothing_reported_is_written_with_all_eight_fields_and_reads_back() {
        let vf = VfStatus {
            id: 3,
            ..VfStatus::default()
        };
        let json = serde_json::to_value(&vf).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": 3, "vfDriver": "", "pciAddr": "", "mac": "00:00:00:00:00:00", "vlan": 0,
                "qos": 0, "spoofchk": false, "trust": false,
                "notReported": ["vlan", "qos", "spoofchk", "trust"],
            })
        );
        assert_eq!(serde_json::from_value::<VfStatus>(json).unwrap(), vf);
    }

    #[test]
    fn a_reported_vf_round_trips_and_hostplumbers_form_reads() {
        let vf = VfStatus {
            id: 0,
            mac: Some("02:00:00:00:00:10".into()),
            pci_addr: Some(PciAddr::parse("0000:5e:02.0").unwrap()),
            vlan: Some(100),
            qos: Some(3),
            spoofchk: Some(false),
            trust: Some(true),
            vf_driver: Some("iavf".into()),
            netdev: Some("ens1f0v0".into()),
        };
        let json = serde_json::to_value(&vf).unwrap();
        assert!(json.get("notReported").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<VfStatus>(json).unwrap(), vf);
        // HostPlumber's VF whose virtfn link and driver it could not resolve (filepath.Base("")).
        let hp: VfStatus = serde_json::from_value(serde_json::json!({
            "id": 1, "vfDriver": ".", "pciAddr": ".", "mac": "00:00:00:00:00:00", "vlan": 0,
            "qos": 0, "spoofchk": true, "trust": false,
        }))
        .unwrap();
        assert_eq!(
            hp,
            VfStatus {
                id: 1,
                vlan: Some(0),
                qos: Some(0),
                spoofchk: Some(true),
                trust: Some(false),
                ..VfStatus::default()
            }
        );
    }
}
