//! The two CustomResourceDefinitions of `plumber.k8s.pf9.io/v1`, derived from the Rust types:
//! [`HostNetworkTemplate`] (cluster-scoped, `hnt`) and [`HostNetwork`] (cluster-scoped, one per node,
//! named after it, `hn`).
//!
//! Where the types live, and why: the API's types (`TemplateSpec` and everything under it, the
//! discovered `HostNetworkStatus`) stay in plumber-render, which parses and validates them offline and
//! derives their JSON schemas with schemars (pure, no Kubernetes client). The `CustomResource` wrappers
//! are here, in the applier, because kube's derive generates code against `kube::core` and
//! `k8s-openapi` (ObjectMeta, the CRD types): putting them in the renderer would make every offline
//! user of it build the Kubernetes API types, and the applier is where the agent (the only user of the
//! wrappers) lives anyway. The wrappers add only what is Kubernetes' own: object metadata, the status
//! subresources, printer columns, short names, conditions.
//!
//! The committed YAML under `deploy/crds/` is [`files`] printed; `cargo run -p plumber --example
//! gen_crds` (or `PLUMBER_BLESS=1 cargo test -p plumber --test crd`) rewrites it, and the `crd` test
//! fails with a diff when it drifts from the types.
//!
//! What the schemas carry, and what they cannot, is listed in `tests/crd/main.rs` against the bad-input
//! corpus: ranges, enums, name/address/id syntax, list keys (`x-kubernetes-list-type`) and that an
//! SR-IOV entry names its PF are checked by the API server; rules across fields or templates
//! (conflicts, VLAN names derived from their parent, routes needing an address, VF ids below
//! `numVfs`) and what a pattern cannot say (a prefix with host bits) are the renderer's and the
//! agent's, reported in the status. The agent watches templates as [`TemplateObject`]s, so that one
//! it cannot read is reported instead of stopping its watch.

mod host_network;
mod template;
mod template_object;

pub use host_network::{
    AppliedTemplate, ApplyResult, HostNetwork, HostNetworkSpec, HostNetworkStatus, LastApply,
};
pub use template::{
    HostNetworkTemplate, HostNetworkTemplateSpec, HostNetworkTemplateStatus, MAX_FAILED_NODES,
};
pub use template_object::TemplateObject;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

/// The condition types of a `HostNetwork`.
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

/// The CRDs as the API server gets them, with the generated schema made structural in the places
/// schemars and kube leave open (see [`structural`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        structural(HostNetworkTemplate::crd()),
        structural(HostNetwork::crd()),
    ]
}

/// `(file name under deploy/crds/, YAML)` of each CRD, as committed.
pub fn files() -> Vec<(&'static str, String)> {
    crds()
        .into_iter()
        .map(|crd| {
            let file = match crd.spec.names.kind.as_str() {
                "HostNetworkTemplate" => "hostnetworktemplates.yaml",
                _ => "hostnetworks.yaml",
            };
            (file, to_yaml(&crd))
        })
        .collect()
}

/// One CRD as a YAML document, with a header naming its source; written by plumber's YAML emitter, so that
/// kubectl's YAML 1.1 reader (go-yaml v2) reads every string as a string (the `lacp` enum's `off`).
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    let body = plumber_render::yaml::to_string(crd).expect("a CRD serializes");
    format!(
        "# Generated from the Rust types (applier/src/cluster/crd/, renderer/src/model/) by\n\
         # `cargo run -p plumber --example gen_crds`. Do not edit: the crd test fails when this drifts.\n\
         {body}"
    )
}

/// Finishes what the derive leaves to do, on the schema as JSON:
///
/// * `x-kubernetes-int-or-string` values (`id: 3` or `"0-7"`, `maxUnavailable: 2` or `"25%"`) get the
///   `anyOf: [{type: integer}, {type: string}]` Kubernetes publishes for them (kube's rewriter drops the
///   branch types when the value type emits them itself, and without them JSON-schema tools would take
///   any value);
/// * `nullable` (and the `null` schemars adds to the `enum` of an optional enum) is removed: the API
///   server then drops a field written as `null` before validating, which is what the renderer does
///   with it (`field:` with no value is the field's default);
/// * `default` is removed: the stored object is what the user wrote, and serde's defaults apply when it
///   is read, as for a file;
/// * `additionalProperties: false` (from `deny_unknown_fields`) is removed: Kubernetes does not take it;
///   unknown fields are refused by strict field validation (kubectl's default) or pruned;
/// * a `format` Kubernetes does not know (schemars' `uint32`, `uint16`...) is removed: the `minimum`
///   next to it already says what it meant.
fn structural(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for v in &mut crd.spec.versions {
        let Some(schema) = v.schema.as_mut().and_then(|s| s.open_api_v3_schema.take()) else {
            continue;
        };
        let mut json = serde_json::to_value(schema).expect("a schema serializes");
        fix(&mut json);
        v.schema.as_mut().expect("checked").open_api_v3_schema =
            Some(serde_json::from_value(json).expect("the fixed schema is a JSONSchemaProps"));
    }
    crd
}

/// The formats the API server knows (k8s.io/kube-openapi's `strfmt` registry plus the numeric ones).
const KNOWN_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "datetime",
    "duration",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
];

fn fix(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                m.insert(
                    "anyOf".into(),
                    serde_json::json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            if let Some(Value::String(f)) = m.get("format") {
                if !KNOWN_FORMATS.contains(&f.as_str()) {
                    m.remove("format");
                }
            }
            if m.remove("nullable").is_some() {
                if let Some(Value::Array(e)) = m.get_mut("enum") {
                    e.retain(|x| !x.is_null());
                }
            }
            m.remove("default");
            if m.get("additionalProperties") == Some(&Value::Bool(false)) {
                m.remove("additionalProperties");
            }
            for (_, child) in m.iter_mut() {
                fix(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(fix),
        _ => {}
    }
}
