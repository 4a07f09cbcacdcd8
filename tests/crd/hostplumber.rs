//! HostPlumber's HostNetworkTemplate CRD (`tests/crd/hostplumber/hostnetworktemplates.yaml`, the
//! fixture `plumber migrate`'s cluster test starts from): its fields are those of HostPlumber's Go types,
//! and plumber's template CRD has a place for each, so a template `plumber migrate` moves keeps every
//! field it had.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{root, schema_of};

/// The json tags of HostPlumber's `HostNetworkTemplateSpec` and the types under it
/// (platform9/luigi, hostplumber/api/v1/hostnetworktemplate_types.go at 11e2030), as paths.
const GO_FIELDS: &[&str] = &[
    "nodeSelector",
    "interfaceConfig",
    "interfaceConfig[].name",
    "interfaceConfig[].mtu",
    "interfaceConfig[].ipv4",
    "interfaceConfig[].ipv4.address",
    "interfaceConfig[].ipv6",
    "interfaceConfig[].ipv6.address",
    "interfaceConfig[].vlan",
    "interfaceConfig[].vlan[].id",
    "interfaceConfig[].vlan[].name",
    "sriovConfig",
    "sriovConfig[].pfName",
    "sriovConfig[].pciAddr",
    "sriovConfig[].vendorId",
    "sriovConfig[].deviceId",
    "sriovConfig[].numVfs",
    "sriovConfig[].mtu",
    "sriovConfig[].vfDriver",
    "sriovConfig[].pfDriver",
    "ovsConfig",
    "ovsConfig[].nodeInterface",
    "ovsConfig[].bridgeName",
    "ovsConfig[].dpdk",
    "ovsConfig[].params",
    "ovsConfig[].params.mtuRequest",
    "ovsConfig[].params.bondMode",
    "ovsConfig[].params.lacp",
];

/// HostPlumber fields plumber's CRD does not have yet (none: `pfDriver` was the last); `plumber
/// migrate` refuses a template using one, as plumber's parser does.
const NOT_YET: &[&str] = &[];

/// Every path of an OpenAPI schema: object properties by name, array items as `[]`.
fn paths(s: &Value, at: &str, out: &mut BTreeSet<String>) {
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let p = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            out.insert(p.clone());
            paths(v, &p, out);
        }
    }
    if let Some(items) = s.get("items") {
        paths(items, &format!("{at}[]"), out);
    }
}

#[test]
fn hostplumbers_template_fields_have_a_place_in_plumbers_crd() {
    let text =
        std::fs::read_to_string(root().join("tests/crd/hostplumber/hostnetworktemplates.yaml"))
            .unwrap();
    let crd: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut theirs = BTreeSet::new();
    paths(spec, "", &mut theirs);
    let go: BTreeSet<String> = GO_FIELDS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        theirs, go,
        "the fixture's fields are HostPlumber's Go types'"
    );

    let mut ours = BTreeSet::new();
    paths(
        &schema_of("HostNetworkTemplate")["properties"]["spec"],
        "",
        &mut ours,
    );
    let missing: Vec<&String> = theirs
        .iter()
        .filter(|p| !ours.contains(*p) && !NOT_YET.contains(&p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "plumber's CRD has no place for {missing:?}"
    );
    for p in NOT_YET {
        assert!(
            !ours.contains(*p),
            "plumber's CRD has {p} now: take it out of NOT_YET (and the README's pfDriver row)"
        );
    }
}
