//! Names a user types that end up as kernel objects, file names and values in generated files, and the
//! Kubernetes names of templates and labels.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::escape::printable;

/// A Linux network interface name, checked against the kernel's `dev_valid_name` rules (at most 15 bytes,
/// not `.` or `..`, no `/`, `:` or whitespace) and, because the name becomes part of file names, udev rules
/// and shell scripts, limited to letters, digits and `-`, `_`, `.`, `+`, `@`.
///
/// ```yaml
/// name: enp3s0f1        # ok
/// name: enp175s0f0np0.1000   # refused: 18 bytes
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfName(String);

pub const IFNAMSIZ_MAX: usize = 15;

impl IfName {
    pub fn parse(s: &str) -> Result<Self, String> {
        check_ifname(s)?;
        Ok(IfName(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The kernel's rules plus plumber's alphabet; the error names the value and the rule it breaks.
pub fn check_ifname(s: &str) -> Result<(), String> {
    let shown = printable(s);
    if s.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if s.len() > IFNAMSIZ_MAX {
        return Err(format!(
            "{shown} is {} bytes; Linux interface names are at most {IFNAMSIZ_MAX} bytes",
            s.len()
        ));
    }
    if s == "." || s == ".." {
        return Err(format!("{shown} is not a valid interface name"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace())
    {
        return Err(format!(
            "{shown} contains {:?}; Linux interface names cannot contain '/', ':' or whitespace",
            c
        ));
    }
    if s.starts_with('-') {
        return Err(format!(
            "{shown} starts with '-', which tools read as an option (ovs-vsctl, ip)"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.+@".contains(*c)))
    {
        return Err(format!(
            "{shown} contains {c:?}; plumber accepts letters, digits and '-', '_', '.', '+', '@' in interface names"
        ));
    }
    Ok(())
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IfName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for IfName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IfName::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for IfName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A kernel driver name for `vfDriver` and `pfDriver` (`vfio-pci`, `iavf`, `i40evf`, `ixgbevf`, `mlx5_core`): 1 to 56
/// letters, digits, `_` or `-`, as module names are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DriverName(String);

impl DriverName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if !s.is_empty()
            && s.len() <= 56
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            Ok(DriverName(s.to_string()))
        } else {
            Err(format!(
                "{} is not a kernel driver name (1 to 56 letters, digits, '_' or '-')",
                printable(s)
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name the running kernel's driver has, which `driver_override` compares byte for byte (it
    /// takes driver names, not module names or aliases):
    /// * old names that were renamed but that templates (HostPlumber's own examples) still use:
    ///   `i40evf` became `iavf` in Linux 4.17 (RHEL 8's 4.18 and Ubuntu 20.04's 5.4 only have `iavf`);
    /// * the module-name spelling of a driver whose name differs from its module's only in `-` and
    ///   `_` (`vfio_pci`, the module, is the driver `vfio-pci`): the known drivers of VFs and PFs in
    ///   [`KNOWN_DRIVERS`] are matched with `-` and `_` alike and given their driver name.
    ///
    /// Any other name is kept as written (a driver plumber does not know may well exist).
    pub fn canonical(&self) -> DriverName {
        if self.0 == "i40evf" {
            return DriverName("iavf".into());
        }
        let folded = |s: &str| s.replace('-', "_");
        match KNOWN_DRIVERS.iter().find(|k| folded(k) == folded(&self.0)) {
            Some(k) => DriverName((*k).to_string()),
            None => self.clone(),
        }
    }

    /// Whether the driver hands the device to userspace (DPDK, a VM, SR-IOV CNI's PF mode): a NIC bound
    /// to it has no network interface and cannot create VFs. Any driver not among them (`vfio-pci`, `uio_pci_generic`, `igb_uio`, `pci-stub`)
    /// (by its canonical name) is taken for a kernel network driver.
    pub fn is_userspace(&self) -> bool {
        USERSPACE_DRIVERS.contains(&self.canonical().as_str())
    }
}

/// The drivers that give a PCI device to userspace, without a network interface (by canonical name).
const USERSPACE_DRIVERS: &[&str] = &["vfio-pci", "uio_pci_generic", "igb_uio", "pci-stub"];

/// Driver names as the kernel registers them (`/sys/bus/pci/drivers/<name>`) for the VF and PF drivers
/// SR-IOV templates name: userspace (`vfio-pci`, `uio_pci_generic`, `igb_uio`, `pci-stub`), Intel
/// (`iavf`, `ixgbevf`, `igbvf`, `ice`, `i40e`, `ixgbe`, `igb`), NVIDIA/Mellanox (`mlx5_core`,
/// `mlx4_core`), Broadcom (`bnxt_en`), Marvell/QLogic (`qede`, `qed`), Amazon (`ena`), virtio
/// (`virtio-pci`).
pub const KNOWN_DRIVERS: &[&str] = &[
    "vfio-pci",
    "uio_pci_generic",
    "igb_uio",
    "pci-stub",
    "virtio-pci",
    "iavf",
    "ixgbevf",
    "igbvf",
    "ice",
    "i40e",
    "ixgbe",
    "igb",
    "mlx5_core",
    "mlx4_core",
    "bnxt_en",
    "qede",
    "qed",
    "ena",
];

impl fmt::Display for DriverName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DriverName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DriverName::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
pub fn check_label_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok {
            return Err(format!(
                "{} is not a label key: its prefix must be a DNS subdomain",
                printable(k)
            ));
        }
    }
    if name.is_empty() || !label_name_ok(name) {
        return Err(format!(
            "{} is not a label key: the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
            printable(k)
        ));
    }
    Ok(())
}

/// A Kubernetes object name (`metadata.name` of a custom resource): a DNS-1123 subdomain, at most 253
/// characters, dot-separated parts of lowercase letters, digits and `-` that start and end with a letter
/// or digit. The message suggests a name that is one, when the name can be made one.
pub fn check_object_name(n: &str) -> Result<(), String> {
    if is_object_name(n) {
        return Ok(());
    }
    let lower: String = n
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.') => c,
            _ => '-',
        })
        .collect();
    let suggestion: String = lower
        .split('.')
        .map(|p| p.trim_matches('-'))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    let instead = if is_object_name(&suggestion) {
        format!(" (write {suggestion}, say)")
    } else {
        String::new()
    };
    Err(format!(
        "{} is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253): kubectl apply will refuse it{instead}",
        printable(n)
    ))
}

fn is_object_name(n: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    n.len() <= 253 && n.split('.').all(part_ok)
}

/// Kubernetes label value: empty, or at most 63 characters as in a label name.
pub fn check_label_value(v: &str) -> Result<(), String> {
    if v.is_empty() || label_name_ok(v) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
            printable(v)
        ))
    }
}

fn label_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() <= 63
        && !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

#[cfg(test)]
mod tests {

    #[test]
    fn driver_names_are_the_kernels_spelling() {
        let c = |s: &str| {
            DriverName::parse(s)
                .unwrap()
                .canonical()
                .as_str()
                .to_string()
        };
        // The module's spelling of a driver whose name has a dash, and the other way round.
        assert_eq!(c("vfio_pci"), "vfio-pci");
        assert_eq!(c("vfio-pci"), "vfio-pci");
        assert_eq!(c("virtio_pci"), "virtio-pci");
        assert_eq!(c("mlx5-core"), "mlx5_core");
        assert_eq!(c("uio-pci-generic"), "uio_pci_generic");
        // Renamed drivers, and names plumber does not know, which are kept.
        assert_eq!(c("i40evf"), "iavf");
        assert_eq!(c("my_vendor-vf"), "my_vendor-vf");
    }

    use super::*;

    #[test]
    fn kernel_name_rules() {
        assert!(IfName::parse("eno2").is_ok());
        assert!(IfName::parse("enp3s0f1.1000").is_ok());
        assert!(IfName::parse("123456789012345").is_ok());
        let e = IfName::parse("enp175s0f0np0.1000").unwrap_err();
        assert!(e.contains("18 bytes"), "{e}");
        assert!(IfName::parse("1234567890123456").is_err());
        assert!(IfName::parse("").is_err());
        assert!(IfName::parse(".").is_err());
        assert!(IfName::parse("..").is_err());
        assert!(IfName::parse("a/b").unwrap_err().contains("'/'"));
        assert!(IfName::parse("a:b").is_err());
        assert!(IfName::parse("a b").is_err());
        assert!(IfName::parse("a\tb").is_err());
        assert!(IfName::parse("$(x)").is_err());
        assert!(IfName::parse("--").unwrap_err().contains("starts with '-'"));
        assert!(IfName::parse("-eth0").is_err());
        assert!(IfName::parse("a;b").is_err());
        assert!(IfName::parse("a'b").is_err());
    }

    #[test]
    fn labels() {
        assert!(check_label_key("feature.node.kubernetes.io/network-sriov.capable").is_ok());
        assert!(check_label_key("foo").is_ok());
        assert!(check_label_key("kubernetes.io/hostname").is_ok());
        assert!(check_label_key("Foo.io/x").is_err());
        assert!(check_label_key("/x").is_err());
        assert!(check_label_value("10.128.237.204").is_ok());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("a b").is_err());
        assert!(check_label_value("-a").is_err());
    }

    #[test]
    fn drivers() {
        assert!(DriverName::parse("vfio-pci").is_ok());
        assert!(DriverName::parse("mlx5_core").is_ok());
        assert!(DriverName::parse("vfio pci").is_err());
        assert!(DriverName::parse("../x").is_err());
    }

    #[test]
    fn object_names_are_dns_subdomains() {
        for ok in ["worker-net", "a", "0", "a.b-c.d", "hostconfig-kernel-eno2"] {
            assert!(check_object_name(ok).is_ok(), "{ok}");
        }
        let e = check_object_name("Worker_Net").unwrap_err();
        assert_eq!(
            e,
            "Worker_Net is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253): kubectl apply will refuse it (write worker-net, say)"
        );
        assert!(check_object_name("HostNetworkTemplate-sample")
            .unwrap_err()
            .ends_with("(write hostnetworktemplate-sample, say)"));
        for bad in ["", "-a", "a-", "a..b", ".a", "a.", "a b", &"a".repeat(254)] {
            assert!(check_object_name(bad).is_err(), "{bad}");
        }
        assert!(check_object_name("_").unwrap_err().ends_with("refuse it"));
    }
}
