//! JSON schemas (OpenAPI v3, as Kubernetes CRDs take them) of the API's value types, so the
//! `HostNetworkTemplate` and `HostNetwork` CRDs are derived from the same Rust types the renderer
//! parses with (`applier/src/cluster/crd/` wraps them in kube's `CustomResource`).
//!
//! Each value type that checks itself while parsing says here what of that check OpenAPI can carry:
//! ranges as `minimum`/`maximum`, syntax as `pattern` and `maxLength`, closed sets as `enum`. A schema
//! here must never refuse a value the parser accepts (the renderer stays the authority; the schema is
//! the API server's early, partial copy of it), so where the exact rule is not a regular language
//! (the host bits of a route, an IPv6 address) the pattern is looser than the parser, never stricter.
//! The patterns use the syntax common to Go's RE2 (the API server) and ECMA-262 (JSON-schema tools).
//!
//! Why schemars lives in the renderer, unconditionally: the types are defined here and the derive must
//! sit on them; schemars is pure (serde and serde_json only, no Kubernetes client, no I/O), so the
//! renderer stays usable offline, and the impls cost nothing in the binaries that do not call them.
//! A cargo feature would put a `cfg_attr` on every derive and field attribute for no gain.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

use super::{
    DnsLabel, DriverName, IfName, IpCidr, IpConfig, IpamJson, MacAddr, MaxUnavailable,
    NodeInterfaces, PciAddr, PciId, ResourceName, ResourcePrefix, Route, RouteDest, VfIds,
};

/// One IPv4 address octet as Rust's parser takes it: decimal, no leading zeros.
const V4_OCTET: &str = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
/// An IPv6 address, loosely: hex digits, colons and dots (embedded IPv4), at least one colon.
const V6_ADDR: &str = "[0-9a-fA-F.]*:[0-9a-fA-F:.]*";
/// Prefix lengths as `u8::from_str` reads them (leading zeros allowed).
const V4_PREFIX: &str = "0*(3[0-2]|[12]?[0-9])";
const V6_PREFIX: &str = "0*(12[0-8]|1[01][0-9]|[1-9]?[0-9])";

fn v4_addr() -> String {
    format!("{V4_OCTET}(\\.{V4_OCTET}){{3}}")
}

/// Which addresses a pattern is for.
#[derive(Clone, Copy)]
enum Family {
    Any,
    V4,
    V6,
}

fn addr_re(f: Family) -> String {
    match f {
        Family::Any => format!("({}|{V6_ADDR})", v4_addr()),
        Family::V4 => v4_addr(),
        Family::V6 => V6_ADDR.to_string(),
    }
}

fn cidr_re(f: Family) -> String {
    match f {
        Family::Any => format!("({}/{V4_PREFIX}|{V6_ADDR}/{V6_PREFIX})", v4_addr()),
        Family::V4 => format!("{}/{V4_PREFIX}", v4_addr()),
        Family::V6 => format!("{V6_ADDR}/{V6_PREFIX}"),
    }
}

/// `IfName`: the kernel's 15 bytes, plumber's alphabet, not starting with `-`, not `.` or `..`
/// (without look-ahead: either some character is not a dot, or there are at least three dots).
pub const IFNAME_PATTERN: &str = r"^((\.*[A-Za-z0-9_+@]|\.+-)[A-Za-z0-9_.+@-]*|\.{3,})$";
/// `DriverName`.
pub const DRIVER_PATTERN: &str = "^[A-Za-z0-9_-]+$";
/// `PciAddr`: optional domain, bus, device `00`..`1f`, function `0`..`7`.
pub const PCI_ADDR_PATTERN: &str =
    r"^([0-9a-fA-F]{1,4}:)?[0-9a-fA-F]{1,2}:[01]?[0-9a-fA-F]\.[0-7]$";
/// `PciId`: a string (numbers are refused, as by HostPlumber's CRD).
pub const PCI_ID_PATTERN: &str = "^(0[xX])?[0-9a-fA-F]{1,4}$";
/// `MacAddr`: six hex pairs, the first one even (not multicast).
pub const MAC_PATTERN: &str = "^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$";
/// A VF id `0..=1023` (leading zeros allowed, as `u32::from_str` reads them).
const VF_ID: &str = "0*([0-9]{1,3}|10[01][0-9]|102[0-3])";
/// Whitespace `str::trim` removes, ASCII part (the parser trims Unicode spaces too; the schema does not
/// accept those).
const WS: &str = "[ \\t\\n\\v\\f\\r]*";
/// Kubernetes label value: empty, or up to 63 of `[A-Za-z0-9_.-]` starting and ending alphanumeric.
pub const LABEL_VALUE_PATTERN: &str = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

fn string_schema(pattern: &str, max_length: Option<u32>) -> Schema {
    let mut s = json_schema!({"type": "string", "pattern": pattern});
    if let Some(m) = max_length {
        s.insert("minLength".into(), 1.into());
        s.insert("maxLength".into(), m.into());
    }
    s
}

/// A value that is a number or a string: `x-kubernetes-int-or-string`, no `type` (structural), and the
/// checks of each form, which OpenAPI applies only to values of their kind.
fn int_or_string(pattern: &str, min: i64, max: i64) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
        "pattern": pattern,
        "minimum": min,
        "maximum": max,
    })
}

/// The types whose schema is a plain string or number: inlined, so the CRD has no `$ref`s.
macro_rules! schema_impl {
    ($t:ty, $name:literal, $body:expr) => {
        impl JsonSchema for $t {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $body
            }
        }
    };
}

schema_impl!(
    IfName,
    "IfName",
    string_schema(IFNAME_PATTERN, Some(super::IFNAMSIZ_MAX as u32))
);
schema_impl!(
    DriverName,
    "DriverName",
    string_schema(DRIVER_PATTERN, Some(56))
);
schema_impl!(PciAddr, "PciAddr", string_schema(PCI_ADDR_PATTERN, None));
/// `ResourceName`: the device plugin's pool name (no `-` or `.`), as a Kubernetes name part.
pub const RESOURCE_NAME_PATTERN: &str = "^[A-Za-z0-9]([A-Za-z0-9_]*[A-Za-z0-9])?$";
/// `ResourcePrefix`: a lowercase DNS subdomain (Kubernetes' own domains are refused by the parser).
pub const RESOURCE_PREFIX_PATTERN: &str =
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// `DnsLabel`: a namespace or NetworkAttachmentDefinition name.
pub const DNS_LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
schema_impl!(
    DnsLabel,
    "DnsLabel",
    string_schema(DNS_LABEL_PATTERN, Some(63))
);
// `IpamJson`: any string; whether it is a JSON object is the parser's check.
schema_impl!(IpamJson, "IpamJson", json_schema!({"type": "string"}));
schema_impl!(
    ResourceName,
    "ResourceName",
    string_schema(RESOURCE_NAME_PATTERN, Some(63))
);
schema_impl!(
    ResourcePrefix,
    "ResourcePrefix",
    string_schema(RESOURCE_PREFIX_PATTERN, Some(253))
);
schema_impl!(PciId, "PciId", string_schema(PCI_ID_PATTERN, None));
/// `MaxUnavailable`: a count of at least 1, or a percentage from 1% to 100%.
pub const MAX_UNAVAILABLE_PATTERN: &str = "^([1-9][0-9]*|([1-9][0-9]?|100)%)$";
schema_impl!(
    MaxUnavailable,
    "MaxUnavailable",
    int_or_string(MAX_UNAVAILABLE_PATTERN, 1, u32::MAX as i64)
);
schema_impl!(MacAddr, "MacAddr", string_schema(MAC_PATTERN, None));
schema_impl!(
    IpCidr,
    "IpCidr",
    string_schema(&format!("^{}$", cidr_re(Family::Any)), None)
);
schema_impl!(
    RouteDest,
    "RouteDest",
    string_schema(&format!("^(default|{})$", cidr_re(Family::Any)), None)
);
schema_impl!(
    VfIds,
    "VfIds",
    int_or_string(&format!("^{WS}{VF_ID}{WS}(-{WS}{VF_ID}{WS})?$"), 0, 1023)
);
schema_impl!(
    NodeInterfaces,
    "NodeInterfaces",
    string_schema(
        &format!("^{WS}[A-Za-z0-9_.+@:-]+{WS}(,{WS}[A-Za-z0-9_.+@:-]+{WS})*$"),
        None
    )
);

/// `route.via`: an address of either family (schemars' own `IpAddr` schema has a `format` Kubernetes
/// does not know).
pub(crate) fn gateway(_: &mut SchemaGenerator) -> Schema {
    string_schema(&format!("^{}$", addr_re(Family::Any)), None)
}

/// `nodeSelector`: label values are checked; keys cannot be (OpenAPI has no `propertyNames`).
pub(crate) fn label_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE_PATTERN},
    })
}

/// `interfaceConfig[].ipv4`: `IpConfig` with its addresses, route destinations and gateways limited to
/// IPv4.
pub(crate) fn ip_config_v4(g: &mut SchemaGenerator) -> Schema {
    ip_config(g, Family::V4)
}

/// `interfaceConfig[].ipv6`: the same for IPv6.
pub(crate) fn ip_config_v6(g: &mut SchemaGenerator) -> Schema {
    ip_config(g, Family::V6)
}

fn ip_config(g: &mut SchemaGenerator, f: Family) -> Schema {
    let mut s = <IpConfig as JsonSchema>::json_schema(g);
    let mut route = <Route as JsonSchema>::json_schema(g);
    if let Some(props) = route.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.insert(
            "to".into(),
            string_schema(&format!("^(default|{})$", cidr_re(f)), None).to_value(),
        );
        let mut via = string_schema(&format!("^{}$", addr_re(f)), None).to_value();
        via["nullable"] = true.into();
        props.insert("via".into(), via);
    }
    if let Some(props) = s.get_mut("properties").and_then(|p| p.as_object_mut()) {
        if let Some(addr) = props.get_mut("address") {
            addr["items"] = string_schema(&format!("^{}$", cidr_re(f)), None).to_value();
        }
        if let Some(routes) = props.get_mut("routes") {
            routes["items"] = route.to_value();
        }
    }
    // A section must state the family's addresses or DHCP: `ipv4: {}` or routes alone state nothing
    // about the addresses, and the renderer refuses them (leave the section out to keep the host's).
    s.insert(
        "anyOf".into(),
        serde_json::json!([{"required": ["address"]}, {"required": ["dhcp"]}]),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    // The patterns themselves are checked against the parsers with a real regex engine in tests/crd.
    #[test]
    fn schemas_are_inline_strings_or_int_or_string() {
        let mut g = SchemaGenerator::default();
        let s = <IfName as JsonSchema>::json_schema(&mut g);
        assert_eq!(s.get("type").unwrap(), "string");
        assert_eq!(s.get("maxLength").unwrap(), 15);
        let s = <PciId as JsonSchema>::json_schema(&mut g);
        assert_eq!(s.get("type").unwrap(), "string");
        let s = <VfIds as JsonSchema>::json_schema(&mut g);
        assert_eq!(s.get("x-kubernetes-int-or-string").unwrap(), true);
        assert!(s.get("type").is_none());
        let v4 = ip_config_v4(&mut g).to_value();
        assert!(v4["properties"]["address"]["items"]["pattern"]
            .as_str()
            .unwrap()
            .contains("25[0-5]"));
    }
}
