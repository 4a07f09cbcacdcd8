//! `networks` beside a device plugin pool (plumber's extension): the NetworkAttachmentDefinitions
//! (Multus) that let pods use the pool's VFs through SR-IOV CNI, declared where the pool is.
//!
//! ```yaml
//! sriovConfig:
//!   - pfName: eno2
//!     numVfs: 8
//!     vfDriver: iavf
//!     resourceName: net_a
//!     networks:
//!       - name: sriov-net-a            # the NetworkAttachmentDefinition's name
//!         namespaces: [team-a, team-b] # where pods use it (default: default)
//!         vlan: 100                    # SR-IOV CNI's VF settings for the pod's VF
//!         spoofchk: true
//!         trust: false
//!         ipam: '{"type": "whereabouts", "range": "10.10.0.0/24"}'   # JSON, as CNI takes it
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::de::{null_as_default, yaml11_bool_opt};
use super::VfVlan;
use crate::escape::printable;

/// One NetworkAttachmentDefinition for the pool it is declared beside.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Hash, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkConfig {
    pub name: DnsLabel,
    /// The namespaces that get it; `default` when left out.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub namespaces: Vec<DnsLabel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<VfVlan>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub spoofchk: Option<bool>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub trust: Option<bool>,
    /// The CNI `ipam` section, a JSON object as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<IpamJson>,
}

/// A DNS-1123 label (namespaces, NetworkAttachmentDefinition names): 1 to 63 lowercase letters,
/// digits and `-`, starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsLabel(String);

impl DnsLabel {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        if !b.is_empty()
            && b.len() <= 63
            && b.iter().all(|c| ok(c) || *c == b'-')
            && ok(&b[0])
            && ok(&b[b.len() - 1])
        {
            Ok(DnsLabel(s.to_string()))
        } else {
            Err(format!(
                "{} is not a DNS label (1 to 63 lowercase letters, digits or '-', starting and ending \
                 with a letter or digit)",
                printable(s)
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CNI `ipam` section: text that is one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IpamJson(String);

impl IpamJson {
    pub fn parse(s: &str) -> Result<Self, String> {
        match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Object(_)) => Ok(IpamJson(s.to_string())),
            Ok(_) => Err(format!(
                "{} is JSON but not an object ({{\"type\": ...}})",
                printable(s)
            )),
            Err(e) => Err(format!("{} is not JSON: {e}", printable(s))),
        }
    }
    /// The object.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).expect("checked when parsed")
    }
}

string_serde!(DnsLabel);
string_serde!(IpamJson);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_ipam_are_checked() {
        assert!(DnsLabel::parse("sriov-net-a").is_ok());
        for bad in ["", "Net", "-a", "a-", "a.b", &"a".repeat(64)] {
            assert!(DnsLabel::parse(bad).is_err(), "{bad}");
        }
        assert!(IpamJson::parse(r#"{"type": "host-local"}"#).is_ok());
        assert!(IpamJson::parse("[1]")
            .unwrap_err()
            .contains("not an object"));
        assert!(IpamJson::parse("{type: x}")
            .unwrap_err()
            .contains("is not JSON"));
    }
}
