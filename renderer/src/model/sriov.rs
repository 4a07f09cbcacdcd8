//! `sriovConfig`: SR-IOV physical functions, how many VFs, which VF driver, and per-VF settings.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::de::{null_as_default, yaml11_bool_opt};
use super::{
    DriverName, IfName, MacAddr, Mtu, NetworkConfig, NumVfs, PciAddr, PciId, ResourceName,
    ResourcePrefix, TxRate, VfQos, VfVlan,
};

/// One SR-IOV entry. The PF is chosen by `pfName`, `pciAddr` or `vendorId`+`deviceId` (every PF of
/// that model); an entry with more than one uses the first of that order and warns of the others
/// (HostPlumber's rule).
///
/// ```yaml
/// sriovConfig:
///   - pfName: enp3s0f1
///     numVfs: 8
///     vfDriver: ixgbevf
///   - vendorId: "8086"
///     deviceId: "1528"
///     numVfs: 32
///     vfDriver: vfio-pci
///   - pfName: ens4f0             # the whole NIC to DPDK ("PF mode")
///     pfDriver: vfio-pci
///   - pciAddr: 0000:03:00.0
///     numVfs: 4
///     mtu: 9000
///     vfs:                       # plumber: per-VF settings
///       - id: 0
///         mac: 02:00:00:00:00:10
///         vlan: 100
///         qos: 3
///         trust: true
///         spoofchk: false
///         maxTxRate: 1000        # Mbit/s
///       - id: 1-3                # a range
///         spoofchk: true
///   - pfName: eno2
///     numVfs: 8
///     vfDriver: vfio-pci
///     resourceName: dpdk_a       # plumber: the device plugin pool intel.com/dpdk_a (VFs 0-5)
///     vfs:
///       - id: 6-7
///         resourceName: dpdk_b   # and intel.com/dpdk_b
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// The PF selector rule as far as OpenAPI goes: at least one of the three ways (more is HostPlumber's
// precedence, with a warning).
#[schemars(extend("anyOf" = [
    {"required": ["pfName"]},
    {"required": ["pciAddr"]},
    {"required": ["vendorId", "deviceId"]},
]))]
pub struct SriovConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_name: Option<IfName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<PciId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<PciId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_addr: Option<PciAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_vfs: Option<NumVfs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vf_driver: Option<DriverName>,
    /// The driver the PF itself is bound to (HostPlumber's field). A userspace driver (`vfio-pci`,
    /// `uio_pci_generic`, `igb_uio`) gives the whole NIC to DPDK or SR-IOV CNI's "PF mode": plumber binds
    /// it (and binds the old driver back when no template asks any more); the PF then has no network
    /// interface, so `numVfs` above 0, `vfDriver`, `mtu` and `vfs` are refused beside it. A kernel
    /// network driver must be the one the PF has: plumber checks it and moves nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_driver: Option<DriverName>,
    /// MTU of the PF, and of its VFs' network interfaces (set after the PF's: VFs cannot exceed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Mtu>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub vfs: Vec<VfConfig>,
    /// plumber: the device plugin pool these VFs are advertised in, `<resourcePrefix>/<resourceName>`
    /// (see [`ResourceName`]); on the entry, every VF no `vfs` entry gives another pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<ResourceName>,
    /// plumber: the pool's prefix; `intel.com` (the device plugin's default) when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_prefix: Option<ResourcePrefix>,
    /// plumber: the pool's pods get `/dev/vhost-net` too (the device plugin's `needVhostNet`).
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub need_vhost_net: Option<bool>,
    /// plumber: the pool's pods get the VFs' RDMA devices too (the device plugin's `isRdma`).
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_rdma: Option<bool>,
    /// plumber: the NetworkAttachmentDefinitions for this pool (see [`NetworkConfig`]).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub networks: Vec<NetworkConfig>,
}

/// Settings of one VF or a range of VFs, applied by the PF driver (`ip link set PF vf N ...`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VfConfig {
    pub id: VfIds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<VfVlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<VfQos>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub trust: Option<bool>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub spoofchk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tx_rate: Option<TxRate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tx_rate: Option<TxRate>,
    /// plumber: the device plugin pool these VFs are advertised in, `<resourcePrefix>/<resourceName>`
    /// (see [`ResourceName`]); of this VF or range of VFs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<ResourceName>,
    /// plumber: the pool's prefix; `intel.com` (the device plugin's default) when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_prefix: Option<ResourcePrefix>,
    /// plumber: the pool's pods get `/dev/vhost-net` too (the device plugin's `needVhostNet`).
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub need_vhost_net: Option<bool>,
    /// plumber: the pool's pods get the VFs' RDMA devices too (the device plugin's `isRdma`).
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_rdma: Option<bool>,
    /// plumber: the NetworkAttachmentDefinitions for this pool (see [`NetworkConfig`]).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub networks: Vec<NetworkConfig>,
}

/// `id: 3` or `id: 0-7` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VfIds {
    pub first: u32,
    pub last: u32,
}

impl VfIds {
    pub fn iter(&self) -> impl Iterator<Item = u32> {
        self.first..=self.last
    }
    pub fn len(&self) -> u32 {
        self.last - self.first + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for VfIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl<'de> Deserialize<'de> for VfIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = VfIds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a VF id (0) or an inclusive range (\"0-7\")")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<VfIds, E> {
                let n = u32::try_from(v)
                    .ok()
                    .filter(|n| *n < 1024)
                    .ok_or_else(|| E::custom(format!("{v} is not in 0..=1023")))?;
                Ok(VfIds { first: n, last: n })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<VfIds, E> {
                if v < 0 {
                    return Err(E::custom(format!("{v} is not in 0..=1023")));
                }
                self.visit_u64(v as u64)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<VfIds, E> {
                let bad = || {
                    E::custom(format!(
                        "{} is not a VF id or range like 0-7",
                        crate::escape::printable(s)
                    ))
                };
                let num = |p: &str| -> Result<u32, E> {
                    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad());
                    }
                    p.parse::<u32>().ok().filter(|n| *n < 1024).ok_or_else(bad)
                };
                let (a, b) = match s.split_once('-') {
                    Some((a, b)) => (num(a.trim())?, num(b.trim())?),
                    None => {
                        let n = num(s.trim())?;
                        (n, n)
                    }
                };
                if a > b {
                    return Err(E::custom(format!("{s}: the range is empty ({a} > {b})")));
                }
                Ok(VfIds { first: a, last: b })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for VfIds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.first == self.last {
            s.serialize_u32(self.first)
        } else {
            s.collect_str(self)
        }
    }
}
