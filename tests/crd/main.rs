//! The CRDs under `deploy/crds/`: that they are what the Rust types derive (drift) and read the same in a
//! YAML 1.1 reader (kubectl's go-yaml v2; PyYAML here), that their schemas
//! are structural, that they accept every example and golden input, which of the bad-input corpus they
//! reject (and why the rest cannot be), that the value patterns agree with the parsers, and that a big
//! node's `HostNetwork` stays small.
//!
//! The API server is emulated with a JSON-schema validator on the CRD's `openAPIV3Schema`, plus what the
//! server does around it: `null` fields are dropped first (no field is nullable), unknown fields are
//! refused (strict field validation, kubectl's default since 1.27), and `x-kubernetes-list-type`
//! `set`/`map` lists must not repeat an item/key. Other `x-kubernetes-*` keys are annotations.
//!
//! `PLUMBER_BLESS=1 cargo test -p plumber --test crd` rewrites `deploy/crds/` (as
//! `cargo run -p plumber --example gen_crds` does).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use plumber::cluster::crd;
use serde_json::{json, Value};

mod deploy;
mod device_plugin;
mod hostplumber;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn crd_json(kind: &str) -> Value {
    let c = crd::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap();
    serde_json::to_value(c).unwrap()
}

fn schema_of(kind: &str) -> Value {
    crd_json(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

// ---------------------------------------------------------------------------------------------------
// (1) drift

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = root().join("deploy/crds");
    let bless = std::env::var_os("PLUMBER_BLESS").is_some();
    let mut failures = String::new();
    for (file, yaml) in crd::files() {
        let path = dir.join(file);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &yaml).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != yaml {
            let diff = similar::TextDiff::from_lines(&committed, &yaml);
            failures += &format!(
                "\n{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&format!("deploy/crds/{file} (committed)"), "generated")
            );
        }
    }
    assert!(
        failures.is_empty(),
        "deploy/crds/ differs from the CRDs the Rust types derive; review and run \
         `cargo run -p plumber --example gen_crds` (or PLUMBER_BLESS=1):{failures}"
    );
}

mod py {
    include!("../support/pyyaml.rs");
}

/// kubectl reads the CRDs with go-yaml v2, a YAML 1.1 reader, as PyYAML does: each committed CRD must read
/// there as the CRD's JSON. (Written by serde_yaml, the `lacp` enum's `off` was plain and read as `false`.)
#[test]
fn committed_crds_read_in_a_yaml_1_1_reader_as_their_json() {
    for c in crd::crds() {
        let yaml = crd::to_yaml(&c);
        py::assert_pyyaml_reads(&yaml, &serde_json::to_value(&c).unwrap());
    }
}

#[test]
fn crd_names_scope_and_subresources() {
    for (kind, plural, short) in [
        ("HostNetworkTemplate", "hostnetworktemplates", "hnt"),
        ("HostNetwork", "hostnetworks", "hn"),
    ] {
        let c = crd_json(kind);
        assert_eq!(
            c["metadata"]["name"],
            format!("{plural}.plumber.k8s.pf9.io")
        );
        assert_eq!(c["spec"]["scope"], "Cluster");
        assert_eq!(c["spec"]["names"]["shortNames"], json!([short]));
        let v = &c["spec"]["versions"][0];
        assert_eq!(v["name"], "v1");
        assert_eq!(v["subresources"]["status"], json!({}));
        // Every printer column points at a field the schema has.
        let schema = &v["schema"]["openAPIV3Schema"];
        for col in v["additionalPrinterColumns"].as_array().unwrap() {
            let path = col["jsonPath"].as_str().unwrap();
            if path == ".metadata.creationTimestamp" {
                continue;
            }
            let mut s = schema;
            for part in path.trim_start_matches('.').split('.') {
                let (name, each) = match part.strip_suffix("[*]") {
                    Some(n) => (n, true),
                    None => (part, false),
                };
                s = &s["properties"][name];
                assert!(!s.is_null(), "{kind}: printer column {path}: no {name}");
                if each {
                    s = &s["items"];
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// (2) structural schemas

/// Kubernetes' structural-schema rules, walked over every node of a schema.
fn check_structural(s: &Value, at: &str, problems: &mut Vec<String>) {
    let m = s.as_object().unwrap();
    let int_or_string = m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if int_or_string {
        if m.contains_key("type") {
            problems.push(format!("{at}: int-or-string with a type"));
        }
    } else if !m.contains_key("type") {
        problems.push(format!("{at}: no type"));
    }
    for k in [
        "$ref",
        "definitions",
        "$defs",
        "$schema",
        "nullable",
        "const",
        "uniqueItems",
    ] {
        if m.contains_key(k) {
            problems.push(format!("{at}: has {k}"));
        }
    }
    if m.contains_key("x-kubernetes-preserve-unknown-fields") {
        problems.push(format!("{at}: preserves unknown fields"));
    }
    if m.contains_key("properties") && m.contains_key("additionalProperties") {
        problems.push(format!("{at}: properties and additionalProperties"));
    }
    if m.get("additionalProperties") == Some(&Value::Bool(false)) {
        problems.push(format!("{at}: additionalProperties: false"));
    }
    for j in ["anyOf", "oneOf", "allOf", "not"] {
        let Some(branches) = m.get(j) else { continue };
        let branches: Vec<&Value> = match branches {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        let is_ios_pattern = j == "anyOf"
            && int_or_string
            && m[j] == json!([{"type": "integer"}, {"type": "string"}]);
        for (i, b) in branches.iter().enumerate() {
            for k in [
                "type",
                "description",
                "default",
                "additionalProperties",
                "nullable",
                "properties",
                "items",
            ] {
                if b.get(k).is_some() && !(is_ios_pattern && k == "type") {
                    problems.push(format!("{at}.{j}[{i}]: sets {k} inside a junctor"));
                }
            }
        }
    }
    if let Some(f) = m.get("format").and_then(|f| f.as_str()) {
        if !["int32", "int64", "date-time", "double", "float"].contains(&f) {
            problems.push(format!("{at}: format {f}"));
        }
    }
    match m.get("x-kubernetes-list-type").and_then(|v| v.as_str()) {
        Some("map") => {
            let keys = m["x-kubernetes-list-map-keys"].as_array().unwrap();
            let req = m["items"]["required"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for k in keys {
                if !req.contains(k) {
                    problems.push(format!("{at}: list-map key {k} is not required"));
                }
            }
        }
        Some("set") => {
            let t = m["items"]["type"].as_str().unwrap_or("");
            if !["string", "integer", "number", "boolean"].contains(&t) {
                problems.push(format!("{at}: set of non-scalars"));
            }
        }
        Some("atomic") | None => {}
        Some(other) => problems.push(format!("{at}: list type {other}")),
    }
    if let Some(p) = m.get("properties").and_then(|p| p.as_object()) {
        for (k, v) in p {
            check_structural(v, &format!("{at}.{k}"), problems);
        }
    }
    if let Some(i) = m.get("items") {
        check_structural(i, &format!("{at}[]"), problems);
    }
    if let Some(a @ Value::Object(_)) = m.get("additionalProperties") {
        check_structural(a, &format!("{at}{{}}"), problems);
    }
}

#[test]
fn schemas_are_structural() {
    for kind in ["HostNetworkTemplate", "HostNetwork"] {
        let mut problems = Vec::new();
        check_structural(&schema_of(kind), kind, &mut problems);
        assert!(problems.is_empty(), "{kind}:\n{}", problems.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------------
// the API server, emulated

/// The CRD schema as a JSON schema with the API server's behaviour around it made explicit.
fn as_json_schema(mut s: Value, root: bool) -> Value {
    fn walk(s: &mut Value) {
        let Some(m) = s.as_object_mut() else { return };
        if m.get("x-kubernetes-list-type") == Some(&json!("set")) {
            m.insert("uniqueItems".into(), true.into());
        }
        if m.contains_key("properties") {
            m.insert("additionalProperties".into(), false.into());
        }
        if let Some(p) = m.get_mut("properties").and_then(|p| p.as_object_mut()) {
            p.values_mut().for_each(walk);
        }
        if let Some(i) = m.get_mut("items") {
            walk(i);
        }
        if let Some(a @ Value::Object(_)) = m.get_mut("additionalProperties") {
            walk(a);
        }
    }
    walk(&mut s);
    if root {
        // Implicit in every CRD: apiVersion, kind and metadata (checked by the API server itself).
        let p = s["properties"].as_object_mut().unwrap();
        p.insert("apiVersion".into(), json!({"type": "string"}));
        p.insert("kind".into(), json!({"type": "string"}));
        p.insert("metadata".into(), json!({"type": "object"}));
    }
    s
}

/// Drops `null` fields, as the API server does for fields that are not nullable (none is).
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// `x-kubernetes-list-type: map`: no two items with the same keys.
fn list_map_duplicates(s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let Some(ps) = s.get("properties").and_then(|p| p.get(k)) {
                    list_map_duplicates(ps, x, &format!("{at}.{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            if s.get("x-kubernetes-list-type") == Some(&json!("map")) {
                let keys = s["x-kubernetes-list-map-keys"].as_array().unwrap();
                let mut seen = BTreeSet::new();
                for (i, item) in a.iter().enumerate() {
                    let key: Vec<String> = keys
                        .iter()
                        .map(|k| item[k.as_str().unwrap()].to_string())
                        .collect();
                    if !seen.insert(key.clone()) {
                        out.push(format!("{at}[{i}]: Duplicate value: {}", key.join(",")));
                    }
                }
            }
            for (i, item) in a.iter().enumerate() {
                list_map_duplicates(&s["items"], item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

struct Server {
    schema: Value,
    validator: jsonschema::Validator,
}

impl Server {
    fn new(kind: &str) -> Self {
        let schema = schema_of(kind);
        let validator = jsonschema::validator_for(&as_json_schema(schema.clone(), true))
            .expect("the CRD schema compiles as a JSON schema");
        Server { schema, validator }
    }

    /// The API server's errors for one object; empty when it would be stored.
    fn check(&self, doc: &serde_yaml::Value) -> Vec<String> {
        let mut v: Value = serde_json::to_value(doc).unwrap();
        prune_nulls(&mut v);
        let mut errors: Vec<String> = self
            .validator
            .iter_errors(&v)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        list_map_duplicates(&self.schema, &v, "", &mut errors);
        errors
    }
}

fn documents(path: &Path) -> Result<Vec<serde_yaml::Value>, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for d in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(d).map_err(|e| e.to_string())?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

use serde::Deserialize;

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------------
// (3) every example and golden input is accepted

#[test]
fn schema_accepts_every_example_and_golden_input() {
    let server = Server::new("HostNetworkTemplate");
    let mut files = yaml_files(&root().join("examples"));
    for case in std::fs::read_dir(root().join("tests/golden")).unwrap() {
        let input = case.unwrap().path().join("input.yaml");
        if input.exists() {
            files.push(input);
        }
    }
    files.sort();
    assert!(files.len() >= 7 + 13, "{files:?}");
    let mut failures = String::new();
    let mut n = 0;
    for f in &files {
        for (i, doc) in documents(f).unwrap().iter().enumerate() {
            n += 1;
            for e in server.check(doc) {
                failures += &format!("\n{}#{}: {e}", f.display(), i + 1);
            }
        }
    }
    assert!(n >= 25, "only {n} documents");
    assert!(
        failures.is_empty(),
        "the CRD schema refuses valid templates:{failures}"
    );
}

// ---------------------------------------------------------------------------------------------------
// (4) the bad-input corpus: what the schema rejects, and what it cannot

/// Rejected by the HostNetworkTemplate schema (or the list keys the API server enforces).
const REJECTED: &[&str] = &[
    "bond-mode-unknown",          // enum
    "bool-word",                  // type boolean (the server reads unquoted `off` as one)
    "cidr-family",                // ipv4 addresses have an IPv4 pattern
    "cidr-garbage",               // octets 0..255
    "cidr-no-prefix",             // a prefix length is required
    "cidr-prefix",                // prefix 0..32
    "ifname-16-bytes",            // maxLength 15
    "ifname-colon",               // pattern
    "ifname-dotdot",              // pattern (no `.`/`..`)
    "ifname-leading-dash",        // pattern
    "ifname-slash",               // pattern
    "ifname-space",               // pattern
    "pool-name-hyphen",           // pattern (no `-` in a device plugin resource name)
    "network-name-not-dns-label", // pattern
    "ip-section-states-nothing",  // anyOf: address or dhcp required
    "max-unavailable-range",      // pattern: 1% to 100%
    "mtu-high",                   // maximum
    "mtu-low",                    // minimum
    "not-a-template",             // other kinds: the server routes them elsewhere
    "numvfs-negative",            // minimum
    "numvfs-range",               // maximum
    "ovs-bond-one-member",        // nodeInterface pattern: no empty entry
    "ovs-bondmode-unknown",       // enum
    "pciaddr-bad",                // pattern
    "pci-id-hex-unquoted",        // a number: the ids are strings
    "pci-id-number",              // a number: the ids are strings
    "pf-selector-none",           // anyOf of the selectors
    "priority-range",             // maximum
    "routes-without-address",     // anyOf: address or dhcp required
    "unknown-field",              // strict field validation
    "vendor-without-device",      // anyOf: vendorId needs deviceId
    "vendorid-float",             // a number: the ids are strings
    "vf-mac-multicast",           // the first octet must be even
    "vlan-duplicate",             // x-kubernetes-list-type map keyed by id
    "vlan-id-range",              // maximum
    "vlan-id-zero",               // minimum
    // `spec` is required (a template without one configures nothing, and the agent can always read
    // the objects it lists). The kind itself is not the schema's: the API server routes by it.
    "wrong-kind",
];

/// Accepted by the schema: each needs more than one field, another template, the node or arithmetic
/// that OpenAPI value validation cannot express. The renderer refuses them (`plumber-render`, and the
/// agent reports them in `HostNetwork.status` / the template's conditions). Some could be CEL rules
/// (`x-kubernetes-validations`) later.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "pf-driver-vfio-by-model",
        "pfDriver's value compared with which selectors are set",
    ),
    (
        "pool-whole-nic-and-vfs",
        "how several entries of one pool name their devices",
    ),
    (
        "pool-whole-nic-by-name-without-inventory",
        "a PF only the node's inventory resolves",
    ),
    (
        "network-declared-twice",
        "two entries of one list compared by name and namespace",
    ),
    (
        "network-ipam-not-json",
        "whether a string is a JSON object is no regular language",
    ),
    (
        "networks-without-pool",
        "a field allowed only beside another one",
    ),
    (
        "hostplumber-head-eno2-three-roles",
        "one NIC's roles across several entries (sriovConfig, ovsConfig)",
    ),
    (
        "pool-by-ids-without-inventory",
        "a PF only the node's inventory resolves",
    ),
    (
        "pool-option-without-name",
        "a field allowed only beside another one",
    ),
    (
        "pool-pfname-and-pciaddr",
        "how several entries of one pool name their PFs",
    ),
    (
        "pool-prefix-kubernetes",
        "the reserved domains (kubernetes.io, k8s.io) are left to the parser's check",
    ),
    (
        "pool-two-device-types",
        "the VF drivers of several entries of one pool",
    ),
    (
        "pool-two-option-sets",
        "the options of several entries of one pool",
    ),
    (
        "pool-vf-in-two-pools",
        "VF ranges of two templates compared",
    ),
    (
        "pool-without-vfs",
        "resourceName compared with numVfs, another field",
    ),
    (
        "annotation-switch-value",
        "annotations are metadata: the CRD schema covers spec only",
    ),
    (
        "bond-member-with-address",
        "a member of a bond (another list) must have no addresses",
    ),
    (
        "conflict",
        "two templates disagree: only the merge of both sees it",
    ),
    (
        "conflict-link-kind",
        "two templates disagree: only the merge of both sees it",
    ),
    (
        "dpdk-name-without-inventory",
        "needs the node's inventory to resolve the name",
    ),
    (
        "dpdk-uplink-is-sriov-pf",
        "an ovsConfig uplink compared with an sriovConfig entry",
    ),
    (
        "duplicate-template-name",
        "two objects: the API server's own name uniqueness, not a schema",
    ),
    (
        "ifname-too-long",
        "the VLAN's name is <parent>.<id>, built from two fields",
    ),
    (
        "label-key-bad",
        "map keys cannot be constrained (no propertyNames in Kubernetes' OpenAPI)",
    ),
    (
        "ovs-bondmode-without-bond",
        "bondMode depends on how many interfaces nodeInterface lists",
    ),
    (
        "ovs-name-twice",
        "two ovsConfig entries compared with each other",
    ),
    (
        "ovs-uplink-with-address",
        "an ovsConfig uplink compared with an interfaceConfig entry",
    ),
    (
        "pf-driver-two-templates",
        "two templates' sriovConfig entries for one PF: only the merge of both sees it",
    ),
    (
        "pf-driver-vfio-nic-also-vlan-parent",
        "an sriovConfig pfDriver compared with an interfaceConfig entry",
    ),
    (
        "pf-driver-vfio-with-vfs",
        "pfDriver compared with numVfs, another field (a CEL rule could say it)",
    ),
    (
        "route-gateway-off-link",
        "a gateway inside a subnet of the link's addresses: arithmetic across fields",
    ),
    (
        "route-host-bits",
        "host bits of a prefix are arithmetic, not a regular language",
    ),
    (
        "routes-with-empty-address",
        "routes need an address or DHCP on their family: the length of another field",
    ),
    (
        "sriov-mtu-interface-mtu",
        "an sriovConfig MTU compared with an interfaceConfig entry's",
    ),
    (
        "vf-id-overlap",
        "VF id ranges of one PF compared with each other",
    ),
    (
        "vf-id-above-numvfs",
        "VF ids are compared with numVfs, another field",
    ),
    (
        "vlan-mtu-above-parent",
        "an MTU compared with another interfaceConfig entry's",
    ),
];

/// Not an object at all: no schema sees it.
const UNPARSABLE: &[&str] = &["not-yaml"];

#[test]
fn schema_rejects_the_bad_inputs_openapi_can_express() {
    let server = Server::new("HostNetworkTemplate");
    let (mut rejected, mut accepted, mut unparsable) = (Vec::new(), Vec::new(), Vec::new());
    let mut why = String::new();
    for f in yaml_files(&root().join("tests/bad")) {
        let name = f.file_stem().unwrap().to_str().unwrap().to_string();
        match documents(&f) {
            Err(_) => unparsable.push(name),
            Ok(docs) => {
                let errors: Vec<String> = docs.iter().flat_map(|d| server.check(d)).collect();
                if errors.is_empty() {
                    accepted.push(name);
                } else {
                    why += &format!("\n{name}: {}", errors[0]);
                    rejected.push(name);
                }
            }
        }
    }
    rejected.sort();
    accepted.sort();
    let mut want_accepted: Vec<&str> = ACCEPTED.iter().map(|(n, _)| *n).collect();
    want_accepted.sort();
    let mut want_rejected = REJECTED.to_vec();
    want_rejected.sort();
    assert_eq!(rejected, want_rejected, "rejected by the schema:{why}");
    assert_eq!(accepted, want_accepted, "accepted by the schema");
    assert_eq!(unparsable, UNPARSABLE);
}

// ---------------------------------------------------------------------------------------------------
// the value patterns against the parsers

/// The sub-schema at a path of `properties`/`items` steps under `spec` (`[]` for items).
fn sub(kind: &str, path: &str) -> jsonschema::Validator {
    let mut s = schema_of(kind)["properties"]["spec"].clone();
    for step in path.split('.') {
        s = if step == "[]" {
            s["items"].clone()
        } else {
            s["properties"][step].clone()
        };
        assert!(!s.is_null(), "{path}: no {step}");
    }
    jsonschema::validator_for(&as_json_schema(s, false)).unwrap()
}

/// Strings over `alphabet` up to `len` characters.
fn strings(alphabet: &[&str], len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..len {
        last = last
            .iter()
            .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

/// The schema never refuses what the parser takes; with `exact`, it refuses everything else too.
fn agree(
    what: &str,
    v: &jsonschema::Validator,
    cases: impl IntoIterator<Item = Value>,
    parse: impl Fn(&Value) -> bool,
    exact: bool,
) {
    let mut bad = Vec::new();
    for c in cases {
        let (p, s) = (parse(&c), v.is_valid(&c));
        if (p && !s) || (exact && s && !p) {
            bad.push(format!("{c} (parser {p}, schema {s})"));
        }
    }
    assert!(bad.is_empty(), "{what}: {}", bad.join(", "));
}

fn from<T: serde::de::DeserializeOwned>(v: &Value) -> bool {
    serde_json::from_value::<T>(v.clone()).is_ok()
}

#[test]
fn interface_name_pattern_is_the_parser() {
    use plumber_render::model::IfName;
    let v = sub("HostNetworkTemplate", "interfaceConfig.[].name");
    let mut cases = strings(&["a", ".", "-", "_", ":", "/", " ", "@", "é", "0"], 3);
    cases.extend(
        [
            "123456789012345",
            "1234567890123456",
            "enp175s0f0np0.1000",
            "..-",
            ".-x",
            "....",
        ]
        .map(String::from),
    );
    agree(
        "interface names",
        &v,
        cases.into_iter().map(Value::String),
        from::<IfName>,
        true,
    );
}

#[test]
fn address_patterns_accept_what_the_parsers_accept() {
    use plumber_render::model::{IpCidr, MacAddr, PciAddr, PciId, VfIds};
    let cidrs = [
        "192.168.195.7/24",
        "0.0.0.0/0",
        "255.255.255.255/32",
        "10.0.0.1/032",
        "10.0.0.1/33",
        "10.0.0.256/24",
        "01.2.3.4/8",
        "1.2.3/8",
        "fc00:1::3/112",
        "::/0",
        "::ffff:1.2.3.4/128",
        "fe80::1/129",
        "fc00::1",
        "10.0.0.1",
        "x/24",
        "1.2.3.4/+8",
        "1.2.3.4/-1",
        "a:b/64",
    ];
    // Both families (the ipv4/ipv6 fields narrow this to one; see the bad corpus).
    let v4 = sub("HostNetworkTemplate", "interfaceConfig.[].ipv4.address.[]");
    agree(
        "IPv4 CIDRs",
        &v4,
        cidrs.map(|s| json!(s)),
        |c| serde_json::from_value::<IpCidr>(c.clone()).is_ok_and(|c| c.is_ipv4()),
        true,
    );
    let v6 = sub("HostNetworkTemplate", "interfaceConfig.[].ipv6.address.[]");
    agree(
        "IPv6 CIDRs",
        &v6,
        cidrs.map(|s| json!(s)),
        |c| serde_json::from_value::<IpCidr>(c.clone()).is_ok_and(|c| !c.is_ipv4()),
        false,
    );

    let pci = sub("HostNetworkTemplate", "sriovConfig.[].pciAddr");
    let mut cases: Vec<String> = [
        "0000:03:00.0",
        "03:00.1",
        "0000:AF:00.7",
        "0000:03.00.1",
        "0000:03:00.8",
        "0000:03:20.0",
        "0000:03:1f.0",
        "3:0.0",
        "00000:03:00.0",
        "../../x",
        "0000:03:00",
        "0000:03:00.0 ",
    ]
    .map(String::from)
    .to_vec();
    cases.extend(strings(&["0", "1", "f", "g", ":", "."], 5));
    agree(
        "PCI addresses",
        &pci,
        cases.into_iter().map(Value::String),
        from::<PciAddr>,
        true,
    );

    let id = sub("HostNetworkTemplate", "sriovConfig.[].vendorId");
    let ids = [
        json!(8086),
        json!(1528),
        json!(0),
        json!(9999),
        json!(10000),
        json!(-1),
        json!(1e10),
        json!("8086"),
        json!("10FB"),
        json!("0x1528"),
        json!("0X1"),
        json!("12345"),
        json!(""),
        json!("0x"),
        json!("g"),
        json!(true),
        json!(1.5),
    ];
    agree("PCI ids", &id, ids, from::<PciId>, true);

    let mac = sub("HostNetworkTemplate", "sriovConfig.[].vfs.[].mac");
    let macs = [
        "02:00:00:00:00:10",
        "02:AA:bb:cc:dd:ee",
        "00:00:00:00:00:00",
        "01:00:5e:00:00:01",
        "ff:ff:ff:ff:ff:ff",
        "02:00:00:00:00",
        "02-00-00-00-00-01",
        "2:0:0:0:0:1",
        "fe:00:00:00:00:01",
    ];
    agree("MACs", &mac, macs.map(|s| json!(s)), from::<MacAddr>, true);

    let vf = sub("HostNetworkTemplate", "sriovConfig.[].vfs.[].id");
    let vfs = [
        json!(0),
        json!(1023),
        json!(1024),
        json!(-1),
        json!("0-7"),
        json!("3"),
        json!(" 1 - 7 "),
        json!("1023"),
        json!("1024"),
        json!("0-1024"),
        json!("007"),
        json!("a-b"),
        json!("1-"),
        json!("-1"),
        json!(""),
        json!(true),
    ];
    // "7-1" (an empty range) is refused by the parser only.
    agree("VF ids", &vf, vfs, from::<VfIds>, true);
}

#[test]
fn node_interface_and_label_patterns() {
    use plumber_render::model::NodeInterfaces;
    let v = sub("HostNetworkTemplate", "ovsConfig.[].nodeInterface");
    let cases = [
        "eno1",
        "eno1,eno2",
        "eno1, eno2",
        " eno1 ,eno2 ",
        "0000:03:00.1",
        "eno1,",
        ",eno1",
        "",
        "eno1,,eno2",
        "eno 1",
        "eno1,0000:03:00.0",
    ];
    // Looser than the parser: each entry's own name rules are the parser's.
    agree(
        "nodeInterface",
        &v,
        cases.map(|s| json!(s)),
        from::<NodeInterfaces>,
        false,
    );

    let v = sub("HostNetworkTemplate", "nodeSelector");
    for (value, ok) in [
        ("true", true),
        ("", true),
        ("10.128.237.204", true),
        ("a b", false),
        ("-a", false),
        ("a-", false),
        (&"x".repeat(63), true),
        (&"x".repeat(64), false),
    ] {
        assert_eq!(
            v.is_valid(&json!({ "k": value })),
            ok,
            "label value {value:?}"
        );
        assert_eq!(plumber_render::model::check_label_value(value).is_ok(), ok);
    }
}

// ---------------------------------------------------------------------------------------------------
// HostNetwork: what `plumber show` publishes is accepted, `--inventory` reads the CRD's objects, and
// the object stays small.

fn big_host_network() -> crd::HostNetwork {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use plumber_render::inventory::{InterfaceStatus, LinkStatus, SriovStatus, VfStatus};
    let t = Time("2026-01-02T03:04:05Z".parse().unwrap());
    let mut status = crd::HostNetworkStatus::default();
    for pf in 0..2u32 {
        let vfs = (0..128u32)
            .map(|id| VfStatus {
                id,
                mac: Some(format!("02:00:00:00:{pf:02x}:{id:02x}")),
                pci_addr: Some(format!("0000:3b:{:02x}.{}", 2 + id / 8, id % 8).parse_pci()),
                vlan: Some(0),
                qos: Some(0),
                spoofchk: Some(true),
                trust: Some(false),
                vf_driver: Some("vfio-pci".into()),
                netdev: None,
            })
            .collect();
        status.discovered.interface_status.push(InterfaceStatus {
            pf_name: Some(format!("ens1f{pf}")),
            pci_addr: Some(format!("0000:3b:00.{pf}").parse_pci()),
            bus: None,
            vendor_id: Some(serde_json::from_value(json!("8086")).unwrap()),
            device_id: Some(serde_json::from_value(json!("158b")).unwrap()),
            sriov_enabled: Some(true),
            sriov_status: Some(SriovStatus {
                num_vfs: Some(128),
                total_vfs: Some(128),
                vfs,
            }),
            mac: Some(format!("b4:96:91:70:19:3{pf}")),
            mtu: Some(9000),
            pf_driver: Some("i40e".into()),
            ipv4: None,
            ipv6: None,
        });
    }
    for id in 1..=1500u16 {
        status.discovered.links.push(LinkStatus {
            name: format!("bond0.{id}"),
            kind: "vlan".into(),
            mtu: 9000,
            up: true,
            parent: Some("bond0".into()),
            vlan_id: Some(id),
            controller: None,
            ipv4: None,
            ipv6: None,
        });
    }
    status.applied_templates = (0..10)
        .map(|i| crd::AppliedTemplate {
            name: format!("template-{i}"),
            generation: Some(i),
        })
        .collect();
    status.last_apply = Some(crd::LastApply {
        result: crd::ApplyResult::Applied,
        time: t.clone(),
        digest: "a".repeat(64),
    });
    status.conditions = [crd::AVAILABLE, crd::PROGRESSING, crd::DEGRADED]
        .iter()
        .map(|c| Condition {
            type_: c.to_string(),
            status: "False".into(),
            reason: "Applied".into(),
            message: "the node matches its templates".into(),
            last_transition_time: t.clone(),
            observed_generation: Some(1),
        })
        .collect();
    let mut hn = crd::HostNetwork::new("worker-1", crd::HostNetworkSpec {});
    hn.status = Some(status);
    hn
}

trait ParsePci {
    fn parse_pci(&self) -> plumber_render::model::PciAddr;
}
impl ParsePci for String {
    fn parse_pci(&self) -> plumber_render::model::PciAddr {
        plumber_render::model::PciAddr::parse(self).unwrap()
    }
}

#[test]
fn host_network_with_1500_vlans_and_256_vfs_stays_under_256_kib() {
    let hn = big_host_network();
    let json = serde_json::to_vec(&hn).unwrap();
    eprintln!(
        "HostNetwork with 1500 VLAN links and 256 VFs: {} bytes",
        json.len()
    );
    assert!(json.len() < 256 * 1024, "{} bytes", json.len());
    // And the API server would take it.
    let server = Server::new("HostNetwork");
    let doc: serde_yaml::Value = serde_json::from_slice(&json).unwrap();
    let errors = server.check(&doc);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn inventory_reads_a_host_network_object_unchanged() {
    let hn = big_host_network();
    let yaml = serde_yaml::to_string(&hn).unwrap();
    let inv = plumber_render::inventory::HostNetwork::parse(&yaml, "worker-1.yaml").unwrap();
    assert_eq!(inv.metadata.name, "worker-1");
    assert_eq!(inv.status, hn.status.as_ref().unwrap().discovered);
    // And the agent reads back what it wrote.
    let back: crd::HostNetwork = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back.status, hn.status);
}

#[test]
fn host_network_status_examples_are_accepted() {
    // HostPlumber's published object (trimmed) and what `plumber show` prints for a golden inventory.
    let server = Server::new("HostNetwork");
    let hostplumber = r#"
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetwork
metadata: {name: 145.40.65.95}
spec: {}
status:
  interfaceStatus:
  - deviceId: "1572"
    ipv6:
      address: [fe80::b696:91ff:fe70:1939/64]
    mac: b4:96:91:70:19:39
    mtu: 1500
    pciAddr: "0000:01:00.1"
    pfDriver: i40e
    pfName: eno2
    sriovEnabled: true
    sriovStatus:
      numVfs: 1
      totalVfs: 64
      vfs:
      - {id: 0, mac: "00:00:00:00:00:00", pciAddr: 0000:02:0a.0, qos: 0, spoofchk: true, trust: false, vfDriver: i40evf, vlan: 0}
    vendorId: "8086"
  routes:
    ipv4:
    - {dev: bond0, gw: 145.40.65.94}
    - {dev: bond0, dst: 10.0.0.0/8, gw: 10.66.12.130}
    ipv6:
    - {dev: lo, dst: "::/96"}
"#;
    let doc: serde_yaml::Value = serde_yaml::from_str(hostplumber).unwrap();
    assert_eq!(server.check(&doc), Vec::<String>::new());
    let mut files = Vec::new();
    for case in std::fs::read_dir(root().join("tests/golden")).unwrap() {
        let inv = case.unwrap().path().join("inventory.yaml");
        if inv.exists() {
            files.push(inv);
        }
    }
    assert!(!files.is_empty());
    for f in files {
        for doc in documents(&f).unwrap() {
            let mut doc = doc;
            // Inventories of the goldens may omit `spec`; the agent always writes `spec: {}`.
            if let serde_yaml::Value::Mapping(m) = &mut doc {
                m.entry("spec".into())
                    .or_insert(serde_yaml::Value::Mapping(Default::default()));
            }
            assert_eq!(server.check(&doc), Vec::<String>::new(), "{}", f.display());
        }
    }
}
