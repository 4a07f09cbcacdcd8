//! SR-IOV device plugin pools (plumber's extension): the names a pool of VFs is advertised under to
//! Kubernetes, `<resourcePrefix>/<resourceName>` (`intel.com/dpdk_a`), as the SR-IOV network device
//! plugin and Kubernetes extended resources allow them.
//!
//! ```yaml
//! sriovConfig:
//!   - pfName: eno2
//!     numVfs: 8
//!     vfDriver: vfio-pci
//!     resourceName: dpdk_a       # VFs 0-5: every VF no `vfs` entry gives another pool
//!     needVhostNet: true
//!     vfs:
//!       - id: 6-7
//!         resourceName: dpdk_b   # intel.com/dpdk_b
//! ```

use crate::escape::printable;

/// The device plugin's default `resourcePrefix`.
pub const DEFAULT_RESOURCE_PREFIX: &str = "intel.com";

/// A pool's `resourceName`: 1 to 63 letters, digits and `_`, starting and ending with a letter or digit
/// (the name part of a Kubernetes extended resource, without the `-` and `.` the device plugin refuses).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceName(String);

impl ResourceName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let alnum = |c: &u8| c.is_ascii_alphanumeric();
        if !b.is_empty()
            && b.len() <= 63
            && b.iter().all(|c| alnum(c) || *c == b'_')
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
        {
            Ok(ResourceName(s.to_string()))
        } else {
            Err(format!(
                "{} is not a device plugin resource name (1 to 63 letters, digits or '_', starting and \
                 ending with a letter or digit; no '-' or '.')",
                printable(s)
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A pool's `resourcePrefix`: a lowercase DNS subdomain outside Kubernetes' own domains (`intel.com`,
/// `example.com`), as extended resources must be.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePrefix(String);

impl ResourcePrefix {
    pub fn parse(s: &str) -> Result<Self, String> {
        let label_ok = |l: &str| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        };
        if s.is_empty() || s.len() > 253 || !s.split('.').all(label_ok) {
            return Err(format!(
                "{} is not a resource prefix (a lowercase DNS subdomain such as intel.com)",
                printable(s)
            ));
        }
        let reserved = ["kubernetes.io", "k8s.io"];
        if reserved
            .iter()
            .any(|r| s == *r || s.ends_with(&format!(".{r}")))
        {
            return Err(format!(
                "{s} is Kubernetes' own domain, which extended resources may not use; use your \
                 organisation's domain, or leave resourcePrefix out for {DEFAULT_RESOURCE_PREFIX}"
            ));
        }
        Ok(ResourcePrefix(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_serde!(ResourceName);
string_serde!(ResourcePrefix);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_are_what_the_device_plugin_and_kubernetes_take() {
        for ok in ["dpdk_a", "A", "sriov_net_A", "x1", &"a".repeat(63)] {
            assert!(ResourceName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "dpdk-a", "a.b", "_a", "a_", "a b", "ä", &"a".repeat(64)] {
            assert!(ResourceName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resource_prefixes_are_lowercase_subdomains_outside_kubernetes() {
        for ok in ["intel.com", "mellanox.com", "example", "a-b.example.org"] {
            assert!(ResourcePrefix::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Intel.com", "a..b", "-a.com", "a_b.com", "a/b"] {
            assert!(ResourcePrefix::parse(bad).is_err(), "{bad}");
        }
        let e = ResourcePrefix::parse("devices.kubernetes.io").unwrap_err();
        assert!(e.contains("Kubernetes' own domain"), "{e}");
        assert!(ResourcePrefix::parse("k8s.io").is_err());
    }
}
