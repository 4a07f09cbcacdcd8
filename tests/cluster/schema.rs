//! The CRDs on the real API server: they establish; every HostPlumber README example and every example
//! of deploy/ is accepted; every bad input whose fault the schema can express is rejected by the server
//! itself (its own YAML reader, its own OpenAPI validation, strict field validation); the others are
//! accepted, and the agent of a node they select reports them (`Degraded`, the renderer's message).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::assets::repo;
use crate::harness::cluster::shared;
use crate::harness::kube::Kube;
use crate::harness::node::CASE;
use crate::harness::status::{self, condition, template_path};
use crate::harness::wait;

/// The bad inputs the schema cannot express, and what the agent says about each (the `# expect:`
/// line's text unless given here). `route-host-bits` is the one more the server accepts: the agent's
/// template type cannot even be read from it (tests/cluster/unreadable.rs).
const ACCEPTED: &[(&str, Expect)] = &[
    ("annotation-switch-value", Expect::Invalid),
    ("bond-member-with-address", Expect::Invalid),
    ("conflict", Expect::Conflict),
    ("conflict-link-kind", Expect::Conflict),
    ("dpdk-name-without-inventory", Expect::Invalid),
    ("dpdk-uplink-is-sriov-pf", Expect::Invalid),
    ("duplicate-template-name", Expect::OneObject),
    ("ifname-too-long", Expect::Invalid),
    ("label-key-bad", Expect::SelectsNoNode),
    ("ovs-bondmode-without-bond", Expect::Invalid),
    ("ovs-name-twice", Expect::Invalid),
    ("ovs-uplink-with-address", Expect::Invalid),
    ("pf-driver-two-templates", Expect::Invalid),
    ("pf-driver-vfio-nic-also-vlan-parent", Expect::Invalid),
    ("pf-driver-vfio-with-vfs", Expect::Invalid),
    ("pf-driver-vfio-by-model", Expect::Invalid),
    ("route-gateway-off-link", Expect::Invalid),
    ("routes-with-empty-address", Expect::Invalid),
    ("sriov-mtu-interface-mtu", Expect::Conflict),
    ("vf-id-overlap", Expect::Invalid),
    ("vf-id-above-numvfs", Expect::Invalid),
    ("vlan-mtu-above-parent", Expect::Invalid),
    ("hostplumber-head-eno2-three-roles", Expect::Invalid),
    ("pool-by-ids-without-inventory", Expect::ResolvedOnTheNode),
    ("pool-option-without-name", Expect::Invalid),
    ("pool-pfname-and-pciaddr", Expect::ResolvedOnTheNode),
    ("pool-prefix-kubernetes", Expect::Invalid),
    ("pool-two-device-types", Expect::Conflict),
    ("pool-two-option-sets", Expect::Conflict),
    ("pool-vf-in-two-pools", Expect::Conflict),
    ("pool-without-vfs", Expect::Invalid),
    ("pool-whole-nic-and-vfs", Expect::ResolvedOnTheNode),
    (
        "pool-whole-nic-by-name-without-inventory",
        Expect::ResolvedOnTheNode,
    ),
    ("network-declared-twice", Expect::Invalid),
    ("network-ipam-not-json", Expect::Invalid),
    ("networks-without-pool", Expect::Invalid),
];

/// What the agent makes of an accepted bad input.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `Degraded` `InvalidTemplate` with the `# expect:` text.
    Invalid,
    /// `Degraded` `TemplateConflict` with the `# expect:` text (two templates, or two fields of one
    /// that set the same value: an SR-IOV MTU and an interface MTU of one PF).
    Conflict,
    /// A nodeSelector key no Node can carry (the server refuses it as a label): the template selects no
    /// node, so no agent evaluates it and none reports it; the rollup counts 0 nodes matched.
    SelectsNoNode,
    /// Two documents of one name are one object on a server: the second apply replaces the first.
    OneObject,
    /// A refusal of `plumber-render` without an inventory (a device plugin pool whose PFs only the
    /// node can name one way): an agent always has its node's, so there is nothing to report; the
    /// node has none of the PFs and applies the rest.
    ResolvedOnTheNode,
}

/// Not YAML: nothing to send.
const UNPARSABLE: &[&str] = &["not-yaml"];

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

/// The documents of a file, as text (the server reads each), split on `---` lines.
fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let d = docs.last_mut().unwrap();
            d.push_str(line);
            d.push('\n');
        }
    }
    docs.retain(|d| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
    });
    docs
}

/// The `metadata.name` of a YAML document (what kubectl would address), or `unnamed`.
fn name_of(doc: &str) -> String {
    serde_yaml::from_str::<Value>(doc)
        .ok()
        .and_then(|v| v["metadata"]["name"].as_str().map(String::from))
        .unwrap_or_else(|| "unnamed".into())
}

fn expect_line(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("no # expect: line"))
        .to_string()
}

/// Every document of `file` through a server-side dry-run apply as a template: the errors.
fn dry_run(admin: &Kube, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    documents(&text)
        .iter()
        .filter_map(|d| {
            admin
                .apply_yaml(&template_path(&name_of(d)), d, true)
                .err()
                .map(|e| e.to_string())
        })
        .collect()
}

#[test]
fn crds_establish_and_every_readme_example_is_accepted() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    for crd in ["hostnetworktemplates", "hostnetworks"] {
        let path = format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}.plumber.k8s.pf9.io"
        );
        let obj = admin.get(&path).expect("deploy/ installed the CRD");
        for (kind, want) in [
            ("Established", "True"),
            ("NamesAccepted", "True"),
            ("NonStructuralSchema", ""),
        ] {
            let got = condition(&obj, kind).map(|c| c.0).unwrap_or_default();
            assert_eq!(got, want, "{crd}: condition {kind}: {}", obj["status"]);
        }
    }
    let mut files = yaml_files(&repo().join("examples"));
    files.extend(yaml_files(&repo().join("deploy/examples")));
    assert!(files.len() >= 12, "{files:?}");
    let mut checked = 0;
    let mut uppercase = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for d in documents(&text) {
            let name = name_of(&d);
            checked += 1;
            match admin.apply_yaml(&template_path(&name), &d, true) {
                Ok(_) => {}
                // Two of HostPlumber's examples are named `HostNetworkTemplate-…`, which no API server
                // takes (names are lowercase); plumber-render warns about exactly that. Refused for the
                // name alone: the same document under the lowercase name is accepted.
                Err(e) if name != name.to_lowercase() => {
                    assert!(
                        e.code == 422
                            && e.message.contains("metadata.name: Invalid value")
                            && e.message.contains("lowercase RFC 1123 subdomain"),
                        "{}: {name} refused for more than its name: {e}",
                        f.display()
                    );
                    let lower = d.replace(&name, &name.to_lowercase());
                    if let Err(e) =
                        admin.apply_yaml(&template_path(&name.to_lowercase()), &lower, true)
                    {
                        panic!("{} ({name} lowercased) refused: {e}", f.display());
                    }
                    uppercase.push(name);
                }
                Err(e) => panic!("{}: {name} refused by the API server: {e}", f.display()),
            }
        }
    }
    uppercase.sort();
    assert_eq!(
        uppercase,
        ["HostNetworkTemplate-1528-dev", "HostNetworkTemplate-sample"],
        "the examples whose names Kubernetes refuses"
    );
    assert!(checked >= files.len());
}

#[test]
fn every_bad_input_the_schema_can_express_is_rejected_by_the_api_server() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let (mut rejected, mut accepted) = (Vec::new(), Vec::new());
    let mut why = String::new();
    for f in yaml_files(&repo().join("tests/bad")) {
        let name = f.file_stem().unwrap().to_str().unwrap().to_string();
        if UNPARSABLE.contains(&name.as_str()) {
            continue;
        }
        let errors = dry_run(&admin, &f);
        if errors.is_empty() {
            accepted.push(name);
        } else {
            why += &format!("\n{name}: {}", errors[0]);
            rejected.push(name);
        }
    }
    let mut want_accepted: Vec<&str> = ACCEPTED.iter().map(|(n, _)| *n).collect();
    want_accepted.push("route-host-bits");
    let mut accepted_sorted = accepted.clone();
    accepted_sorted.sort();
    let mut want_sorted = want_accepted.clone();
    want_sorted.sort();
    assert_eq!(
        accepted_sorted, want_sorted,
        "the API server accepted exactly these; it rejected:{why}"
    );
    // tests/crd's emulation of the server rejects 37 of the corpus: the real server agrees.
    assert_eq!(rejected.len(), 37, "rejected:{why}");
    println!("rejected by kube-apiserver:{why}");
}

/// `doc` as JSON, selecting only nodes labelled `CASE=schema` (besides its own selector).
fn selecting_the_case(doc: &str) -> Value {
    let mut v: Value = serde_yaml::from_str(doc).unwrap();
    if v["spec"].is_null() {
        v["spec"] = json!({});
    }
    let sel = v["spec"]
        .as_object_mut()
        .unwrap()
        .entry("nodeSelector")
        .or_insert_with(|| json!({}));
    sel[CASE] = json!("schema");
    v
}

#[test]
fn bad_inputs_the_schema_cannot_express_are_accepted_and_the_agent_reports_them() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    // The label HostPlumber's examples select (the HEAD README's comprehensive one keeps its selector).
    let sriov_capable = ("feature.node.kubernetes.io/network-sriov.capable", "true");
    let mut node = c.node("schema-1", &[(CASE, "schema"), sriov_capable]);
    node.start_agent();
    status::wait_host_network(&admin, "schema-1", "Available NoTemplates", |hn| {
        status::is(hn, "Available", "True", "NoTemplates")
    });
    let mut failures = Vec::new();
    for (case, expect) in ACCEPTED {
        let text = std::fs::read_to_string(repo().join(format!("tests/bad/{case}.yaml"))).unwrap();
        let docs = documents(&text);
        let mut names = Vec::new();
        for d in &docs {
            let v = selecting_the_case(d);
            let name = name_of(d);
            admin
                .apply(&template_path(&name), &v)
                .unwrap_or_else(|e| panic!("{case}: the server refused {name}: {e}"));
            names.push(name);
        }
        names.dedup();
        let want = expect_line(&text);
        match expect {
            Expect::ResolvedOnTheNode => {
                status::wait_host_network(&admin, "schema-1", &format!("{case}: applied"), |hn| {
                    condition(hn, "Degraded").is_some_and(|(s, _, _)| s == "False")
                        && status::applied(hn).iter().any(|(n, _)| *n == names[0])
                });
            }
            Expect::OneObject => {
                let list = admin
                    .get(&format!("{}/hostnetworktemplates", status::GROUP))
                    .unwrap();
                let same = list["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|t| t["metadata"]["name"] == names[0].as_str())
                    .count();
                assert_eq!(same, 1, "{case}: one object per name");
            }
            Expect::SelectsNoNode => {
                let bad = admin.apply(
                    "/api/v1/nodes/schema-1",
                    &json!({"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": "schema-1", "labels": {"Bad Key": "x"}}}),
                );
                assert!(
                    bad.as_ref().is_err_and(|e| e.code == 422),
                    "{case}: a Node labelled with the key: {bad:?}"
                );
                status::wait_counts(&admin, &names[0], (0, 0, 0));
                // No node can report it; the rollup does, on the template.
                let t = wait::until(
                    &format!("{case}: the template Degraded InvalidTemplate"),
                    std::time::Duration::from_secs(30),
                    |last| {
                        let t = admin.get(&template_path(&names[0]))?;
                        *last = t["status"].to_string();
                        status::is(&t, "Degraded", "True", "InvalidTemplate").then_some(t)
                    },
                );
                let (_, _, message) = condition(&t, "Degraded").unwrap();
                if !message.contains(&want) {
                    failures.push(format!(
                        "{case}: the rollup says {message:?}, the renderer {want:?}"
                    ));
                }
                let hn = status::host_network(&admin, "schema-1").unwrap();
                assert!(
                    status::is(&hn, "Available", "True", "NoTemplates"),
                    "{case}: {hn}"
                );
            }
            Expect::Invalid | Expect::Conflict => {
                let reason = match expect {
                    Expect::Conflict => "TemplateConflict",
                    _ => "InvalidTemplate",
                };
                let hn = status::wait_host_network(
                    &admin,
                    "schema-1",
                    &format!("{case}: Degraded"),
                    |hn| {
                        condition(hn, "Degraded").is_some_and(|(s, r, m)| {
                            s == "True"
                                && r == reason
                                && names.iter().all(|n| m.contains(n.as_str()))
                        })
                    },
                );
                let (_, _, message) = condition(&hn, "Degraded").unwrap();
                if !message.contains(&want) {
                    failures.push(format!(
                        "{case}: the agent says {message:?}, the renderer {want:?}"
                    ));
                }
            }
        }
        for n in &names {
            admin.delete(&template_path(n)).unwrap();
        }
        status::wait_host_network(
            &admin,
            "schema-1",
            &format!("{case}: deleted, Available again"),
            |hn| {
                status::is(hn, "Available", "True", "NoTemplates")
                    && condition(hn, "Degraded").is_some_and(|(s, _, _)| s == "False")
            },
        );
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        node.agent_tail(40)
    );
}

/// deploy/components/sriov-device-plugin: the API server takes its DaemonSet (a server-side dry run in
/// plumber's namespace), with the component's image as kustomize would set it.
#[test]
fn the_device_plugin_components_daemonset_is_accepted() {
    let Some(c) = shared() else { return };
    let text = std::fs::read_to_string(
        repo().join("deploy/components/sriov-device-plugin/daemonset.yaml"),
    )
    .unwrap();
    let image = "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.6.2";
    let doc = text.replace(
        "image: sriov-network-device-plugin",
        &format!("image: {image}"),
    );
    let path = "/apis/apps/v1/namespaces/plumber-system/daemonsets/sriov-device-plugin";
    let back = c
        .admin()
        .apply_yaml(path, &doc, true)
        .unwrap_or_else(|e| panic!("the API server refused the device plugin's DaemonSet: {e}"));
    assert_eq!(
        back["spec"]["template"]["spec"]["containers"][0]["image"], image,
        "{back}"
    );
}
