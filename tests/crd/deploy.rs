//! The manifests under `deploy/` (the CRDs themselves are checked by the parent module):
//!
//! * every document is the Kubernetes object its `apiVersion`/`kind` claims, with no unknown or
//!   misspelled field: it deserializes into the k8s-openapi type (or plumber's `HostNetworkTemplate`)
//!   and serializes back to exactly the same JSON (k8s-openapi ignores unknown fields when reading, so
//!   the round trip is what catches them). Templates are also checked by the CRD schema and the renderer;
//! * `kustomization.yaml` lists every manifest and nothing else, in the namespace `namespace.yaml` makes;
//! * the RBAC grants exactly `plumber::cluster::access::{AGENT, ROLLUP}`, to the right ServiceAccounts;
//! * the DaemonSet and the rollup's Deployment keep what the agent and the rollup rely on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, Namespace, PodSpec, Probe, ServiceAccount, Volume,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use plumber::cluster::access::{Access, AGENT, METRICS_READER, ROLLUP};
use plumber::cluster::crd::HostNetworkTemplate;
use plumber::cluster::metrics_access::METRICS_PATH;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{documents, root, Server};

const AGENT_SA: &str = "plumber-agent";
const ROLLUP_SA: &str = "plumber-rollup";

fn deploy() -> PathBuf {
    root().join("deploy")
}

/// A path relative to `deploy/`, with `/` separators (as kustomization.yaml writes them).
fn rel(p: &Path) -> String {
    p.strip_prefix(deploy())
        .unwrap()
        .components()
        .map(|c| c.as_os_str().to_str().unwrap())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `dir`, recursively, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// The YAML files this module checks as objects: everything under deploy/ but the CRDs (the parent
/// module's), the optional components (`device_plugin`'s) and kustomization.yaml (not an object).
fn object_files() -> Vec<PathBuf> {
    walk(&deploy())
        .into_iter()
        .filter(|p| is_yaml(p))
        .filter(|p| !rel(p).starts_with("crds/") && !rel(p).starts_with("components/"))
        .filter(|p| rel(p) != "kustomization.yaml")
        .collect()
}

/// The files kustomization.yaml must list: every manifest, the CRDs included, but not the examples.
fn manifest_files() -> Vec<String> {
    walk(&deploy())
        .iter()
        .filter(|p| is_yaml(p))
        .map(|p| rel(p))
        .filter(|r| !r.starts_with("examples/") && !r.starts_with("components/"))
        .filter(|r| r != "kustomization.yaml")
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// strict parsing

/// One document of a manifest, as the type its apiVersion/kind names.
#[derive(Debug)]
pub(crate) enum Object {
    Namespace(Namespace),
    ServiceAccount(ServiceAccount),
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    Role(Role),
    RoleBinding(RoleBinding),
    DaemonSet(DaemonSet),
    Deployment(Deployment),
    Template(HostNetworkTemplate),
}

/// Where each difference between `file` (the document) and `typed` (its round trip) is.
fn json_diff(file: &Value, typed: &Value, at: &str, out: &mut Vec<String>) {
    match (file, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, x) in a {
                match b.get(k) {
                    Some(y) => json_diff(x, y, &format!("{at}.{k}"), out),
                    None => out.push(format!(
                        "{at}.{k}: not a field of the type (unknown or misspelled)"
                    )),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{at}.{k}: added by the round trip"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff(x, y, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{at}: {a} in the file, {b} after the round trip")),
    }
}

/// `doc` as a `T`, refusing anything the type does not carry back unchanged.
fn strict<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<T, Vec<String>> {
    let t: T = serde_json::from_value(doc.clone()).map_err(|e| vec![e.to_string()])?;
    let back = serde_json::to_value(&t).unwrap();
    let mut diff = Vec::new();
    json_diff(doc, &back, "", &mut diff);
    if diff.is_empty() {
        Ok(t)
    } else {
        Err(diff)
    }
}

pub(crate) fn parse_object(doc: &Value) -> Result<Object, Vec<String>> {
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    Ok(match (api, kind) {
        ("v1", "Namespace") => Object::Namespace(strict(doc)?),
        ("v1", "ServiceAccount") => Object::ServiceAccount(strict(doc)?),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => Object::ClusterRole(strict(doc)?),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            Object::ClusterRoleBinding(strict(doc)?)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => Object::Role(strict(doc)?),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => Object::RoleBinding(strict(doc)?),
        ("apps/v1", "DaemonSet") => Object::DaemonSet(strict(doc)?),
        ("apps/v1", "Deployment") => Object::Deployment(strict(doc)?),
        ("plumber.k8s.pf9.io/v1", "HostNetworkTemplate") => Object::Template(strict(doc)?),
        _ => {
            return Err(vec![format!(
                "{api} {kind}: not a kind deploy/ is expected to hold"
            )])
        }
    })
}

/// Every object under deploy/ (but the CRDs), with `file#document`; panics with every problem found.
fn objects() -> Vec<(String, Object)> {
    let mut out = Vec::new();
    let mut failures = String::new();
    for f in object_files() {
        let docs = documents(&f).unwrap_or_else(|e| panic!("{}: {e}", rel(&f)));
        assert!(!docs.is_empty(), "{}: no document", rel(&f));
        for (i, d) in docs.iter().enumerate() {
            let at = format!("{}#{}", rel(&f), i + 1);
            let v: Value = serde_json::to_value(d).unwrap();
            match parse_object(&v) {
                Ok(o) => out.push((at, o)),
                Err(e) => failures += &format!("\n{at}: {}", e.join(&format!("\n{at}: "))),
            }
        }
    }
    assert!(failures.is_empty(), "deploy/ manifests:{failures}");
    out
}

#[test]
fn every_manifest_is_the_object_it_claims_with_no_unknown_field() {
    let objs = objects();
    let kinds: BTreeSet<&str> = objs
        .iter()
        .map(|(_, o)| match o {
            Object::Namespace(_) => "Namespace",
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::ClusterRole(_) => "ClusterRole",
            Object::ClusterRoleBinding(_) => "ClusterRoleBinding",
            Object::Role(_) => "Role",
            Object::RoleBinding(_) => "RoleBinding",
            Object::DaemonSet(_) => "DaemonSet",
            Object::Deployment(_) => "Deployment",
            Object::Template(_) => "HostNetworkTemplate",
        })
        .collect();
    // Templates are examples, and examples are only templates (they are not part of the install).
    for (at, o) in &objs {
        let example = at.starts_with("examples/");
        match o {
            Object::Template(t) => {
                assert!(example, "{at}: a HostNetworkTemplate outside examples/");
                assert!(t.metadata.name.is_some(), "{at}: no name");
            }
            _ => assert!(!example, "{at}: not a HostNetworkTemplate"),
        }
    }
    for k in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "DaemonSet",
        "Deployment",
        "HostNetworkTemplate",
    ] {
        assert!(kinds.contains(k), "no {k} under deploy/");
    }
}

#[test]
fn the_strict_parse_catches_misspelled_fields() {
    // The check itself: a typo that k8s-openapi alone would silently drop.
    let doc = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"hostNetwrok": true, "containers": [{"name": "c"}]}}
        }
    });
    assert!(serde_json::from_value::<DaemonSet>(doc.clone()).is_ok());
    let e = strict::<DaemonSet>(&doc).unwrap_err();
    assert_eq!(
        e,
        [".spec.template.spec.hostNetwrok: not a field of the type (unknown or misspelled)"]
    );
    let mut wrong_kind = doc.clone();
    wrong_kind["kind"] = "Deployment".into();
    assert!(strict::<DaemonSet>(&wrong_kind).is_err());
}

#[test]
fn example_templates_pass_the_crd_schema_and_the_renderer() {
    let server = Server::new("HostNetworkTemplate");
    let files: Vec<PathBuf> = walk(&deploy().join("examples"))
        .into_iter()
        .filter(|p| is_yaml(p))
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    let distros = plumber_render::distro::Distro::all();
    let mut failures = String::new();
    for f in &files {
        let name = rel(f);
        for (i, doc) in documents(f).unwrap().iter().enumerate() {
            let v: Value = serde_json::to_value(doc).unwrap();
            assert_eq!(v["kind"], "HostNetworkTemplate", "{name}#{}", i + 1);
            for e in server.check(doc) {
                failures += &format!("\n{name}#{}: CRD schema: {e}", i + 1);
            }
        }
        // Each file on its own: parsed, validated, merged and rendered for every distro.
        let source = plumber_render::Source {
            name: name.clone(),
            text: std::fs::read_to_string(f).unwrap(),
        };
        for d in &distros {
            match plumber_render::render_sources(std::slice::from_ref(&source), d, None, None) {
                Ok(files) => assert!(!files.is_empty(), "{name}: renders nothing"),
                Err(e) => failures += &format!("\n{name}: renderer ({}): {e}", d.name),
            }
        }
    }
    assert!(failures.is_empty(), "deploy/examples:{failures}");
}

// ---------------------------------------------------------------------------------------------------
// kustomization.yaml

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Kustomization {
    api_version: String,
    kind: String,
    namespace: String,
    resources: Vec<String>,
    // Read so that deny_unknown_fields accepts it; not checked.
    #[serde(default, rename = "labels")]
    _labels: Vec<serde_yaml::Value>,
    #[serde(default)]
    images: Vec<Image>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Image {
    name: String,
    new_name: Option<String>,
    new_tag: Option<String>,
}

fn kustomization() -> Kustomization {
    let text = std::fs::read_to_string(deploy().join("kustomization.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn kustomization_lists_every_manifest_in_the_namespace_of_namespace_yaml() {
    let k = kustomization();
    assert_eq!(k.api_version, "kustomize.config.k8s.io/v1beta1");
    assert_eq!(k.kind, "Kustomization");
    let listed: BTreeSet<&str> = k.resources.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), k.resources.len(), "a resource listed twice");
    for r in &k.resources {
        assert!(
            deploy().join(r).is_file(),
            "kustomization.yaml lists {r}, which is not there"
        );
    }
    let files = manifest_files();
    let files: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(
        listed, files,
        "kustomization.yaml resources vs the manifests under deploy/"
    );
    // CRDs first: kubectl apply -k sorts by kind anyway, but a reader (and plain kubectl apply -f of
    // the same list) should see them first.
    assert!(k.resources[..2].iter().all(|r| r.starts_with("crds/")));

    let objs = objects();
    let namespaces: Vec<&Namespace> = objs
        .iter()
        .filter_map(|(_, o)| match o {
            Object::Namespace(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(namespaces.len(), 1);
    assert_eq!(namespaces[0].metadata.name.as_deref(), Some(&*k.namespace));
    // Namespaced objects already say so themselves (for a plain kubectl apply -f, and for the reader).
    for (at, o) in &objs {
        let ns = match o {
            Object::ServiceAccount(x) => &x.metadata.namespace,
            Object::Role(x) => &x.metadata.namespace,
            Object::RoleBinding(x) => &x.metadata.namespace,
            Object::DaemonSet(x) => &x.metadata.namespace,
            Object::Deployment(x) => &x.metadata.namespace,
            _ => continue,
        };
        assert_eq!(ns.as_deref(), Some(&*k.namespace), "{at}");
    }
    // The image the manifests name is the one `images:` retags, so setting a registry reaches them all.
    let images: Vec<&Image> = k.images.iter().filter(|i| i.name == "plumber").collect();
    assert_eq!(images.len(), 1, "one images: entry for plumber");
    let tag = images[0]
        .new_tag
        .as_deref()
        .expect("images: plumber has a newTag");
    // newName is the user's registry: anything.
    let _ = &images[0].new_name;
    assert_eq!(
        tag,
        env!("CARGO_PKG_VERSION"),
        "the image tag is the crate's version"
    );
    for (at, o) in &objs {
        let pod = match o {
            Object::DaemonSet(d) => pod_spec_ds(d),
            Object::Deployment(d) => pod_spec_deploy(d),
            _ => continue,
        };
        for c in &pod.containers {
            assert_eq!(c.image.as_deref(), Some(&*format!("plumber:{tag}")), "{at}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// RBAC

/// `(group, resource, namespaced)` → verbs.
type Grants = BTreeMap<(String, String, bool), BTreeSet<String>>;

fn table_grants(table: &[Access]) -> Grants {
    let mut g = Grants::new();
    for a in table {
        g.entry((a.group.into(), a.resource.into(), a.namespaced))
            .or_default()
            .extend(a.verbs.iter().map(|v| v.to_string()));
    }
    g
}

/// Adds a role's rules to `g`, refusing wildcards and anything that is not group × resource × verb.
fn add_rules(
    g: &mut Grants,
    rules: &[k8s_openapi::api::rbac::v1::PolicyRule],
    namespaced: bool,
    at: &str,
) {
    for (i, r) in rules.iter().enumerate() {
        let at = format!("{at} rule {i}");
        assert!(r.non_resource_urls.is_none(), "{at}: nonResourceURLs");
        assert!(r.resource_names.is_none(), "{at}: resourceNames");
        let groups = r.api_groups.as_deref().unwrap_or_default();
        let resources = r.resources.as_deref().unwrap_or_default();
        assert!(
            !groups.is_empty() && !resources.is_empty() && !r.verbs.is_empty(),
            "{at}: empty"
        );
        for s in groups.iter().chain(resources).chain(&r.verbs) {
            assert!(!s.contains('*'), "{at}: wildcard {s:?}");
        }
        for grp in groups {
            for res in resources {
                g.entry((grp.clone(), res.clone(), namespaced))
                    .or_default()
                    .extend(r.verbs.iter().cloned());
            }
        }
    }
}

/// Whether a binding's subjects are exactly this ServiceAccount of `ns`.
fn binds_only(
    subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>,
    sa: &str,
    ns: &str,
) -> bool {
    let s = subjects.map(Vec::as_slice).unwrap_or_default();
    s.len() == 1
        && s[0].kind == "ServiceAccount"
        && s[0].name == sa
        && s[0].namespace.as_deref() == Some(ns)
        && s[0].api_group.as_deref().unwrap_or("").is_empty()
}

/// What the manifests grant the ServiceAccount `sa` of `ns`, checking each binding on the way.
fn granted(objs: &[(String, Object)], sa: &str, ns: &str) -> Grants {
    let cluster_roles: BTreeMap<&str, (&String, &ClusterRole)> = objs
        .iter()
        .filter_map(|(at, o)| match o {
            Object::ClusterRole(r) => Some((r.metadata.name.as_deref().unwrap(), (at, r))),
            _ => None,
        })
        .collect();
    let roles: BTreeMap<&str, (&String, &Role)> = objs
        .iter()
        .filter_map(|(at, o)| match o {
            Object::Role(r) => Some((r.metadata.name.as_deref().unwrap(), (at, r))),
            _ => None,
        })
        .collect();
    let mut g = Grants::new();
    let mentions = |subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.is_some_and(|s| s.iter().any(|s| s.name == sa))
    };
    let cluster_role = |at: &str, rr: &RoleRef| {
        assert_eq!(rr.api_group, "rbac.authorization.k8s.io", "{at}");
        assert_eq!(rr.kind, "ClusterRole", "{at}");
        let (rat, r) = cluster_roles
            .get(rr.name.as_str())
            .unwrap_or_else(|| panic!("{at}: no ClusterRole {}", rr.name));
        assert!(r.aggregation_rule.is_none(), "{rat}: aggregated");
        (*rat, *r)
    };
    for (at, o) in objs {
        match o {
            Object::ClusterRoleBinding(b) if mentions(b.subjects.as_ref()) => {
                assert!(binds_only(b.subjects.as_ref(), sa, ns), "{at}: subjects");
                let (rat, r) = cluster_role(at, &b.role_ref);
                add_rules(&mut g, r.rules.as_deref().unwrap_or_default(), false, rat);
            }
            Object::RoleBinding(b) if mentions(b.subjects.as_ref()) => {
                assert!(binds_only(b.subjects.as_ref(), sa, ns), "{at}: subjects");
                assert_eq!(b.metadata.namespace.as_deref(), Some(ns), "{at}");
                assert_eq!(b.role_ref.api_group, "rbac.authorization.k8s.io", "{at}");
                // A RoleBinding to a ClusterRole grants its rules in this namespace only.
                let rules = if b.role_ref.kind == "ClusterRole" {
                    cluster_role(at, &b.role_ref)
                        .1
                        .rules
                        .as_deref()
                        .unwrap_or_default()
                } else {
                    assert_eq!(b.role_ref.kind, "Role", "{at}");
                    let (_, r) = roles
                        .get(b.role_ref.name.as_str())
                        .unwrap_or_else(|| panic!("{at}: no Role {}", b.role_ref.name));
                    assert_eq!(r.metadata.namespace.as_deref(), Some(ns), "{at}");
                    r.rules.as_deref().unwrap_or_default()
                };
                add_rules(&mut g, rules, true, at);
            }
            _ => {}
        }
    }
    g
}

#[test]
fn rbac_grants_exactly_the_access_tables() {
    let objs = objects();
    let ns = kustomization().namespace;
    for (sa, table) in [(AGENT_SA, AGENT), (ROLLUP_SA, ROLLUP)] {
        let sas: Vec<&ServiceAccount> = objs
            .iter()
            .filter_map(|(_, o)| match o {
                Object::ServiceAccount(s) if s.metadata.name.as_deref() == Some(sa) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(sas.len(), 1, "ServiceAccount {sa}");
        assert_eq!(sas[0].metadata.namespace.as_deref(), Some(&*ns));
        assert_eq!(
            granted(&objs, sa, &ns),
            table_grants(table),
            "{sa}: the RBAC under deploy/ vs plumber::cluster::access"
        );
    }
    // Every role is bound, every binding binds one of the two, and nothing else has a ServiceAccount.
    let mut bound = BTreeSet::new();
    for (at, o) in &objs {
        let (subjects, rr) = match o {
            Object::ClusterRoleBinding(b) => (b.subjects.as_ref(), &b.role_ref),
            Object::RoleBinding(b) => (b.subjects.as_ref(), &b.role_ref),
            Object::ServiceAccount(s) => {
                let n = s.metadata.name.as_deref().unwrap();
                assert!(
                    [AGENT_SA, ROLLUP_SA].contains(&n),
                    "{at}: ServiceAccount {n}"
                );
                continue;
            }
            _ => continue,
        };
        assert!(
            binds_only(subjects, AGENT_SA, &ns) || binds_only(subjects, ROLLUP_SA, &ns),
            "{at}: binds {subjects:?}"
        );
        bound.insert((rr.kind.clone(), rr.name.clone()));
    }
    for (at, o) in &objs {
        let key = match o {
            // The metrics reader is for the cluster's scrapers: unbound, and exactly `get /metrics`.
            Object::ClusterRole(r) if r.metadata.name.as_deref() == Some(METRICS_READER) => {
                let rules = r.rules.as_deref().unwrap_or_default();
                assert_eq!(rules.len(), 1, "{at}: {rules:?}");
                assert_eq!(
                    (
                        rules[0].non_resource_urls.as_deref(),
                        rules[0].verbs.as_slice(),
                        rules[0].api_groups.as_deref(),
                        rules[0].resources.as_deref()
                    ),
                    (
                        Some(&[METRICS_PATH.to_string()][..]),
                        &["get".to_string()][..],
                        None,
                        None
                    ),
                    "{at}"
                );
                assert!(
                    !bound.iter().any(|(_, n)| n == METRICS_READER),
                    "{at}: deploy/ binds {METRICS_READER}"
                );
                continue;
            }
            Object::ClusterRole(r) => ("ClusterRole", r.metadata.name.clone().unwrap()),
            Object::Role(r) => ("Role", r.metadata.name.clone().unwrap()),
            _ => continue,
        };
        assert!(
            bound.contains(&(key.0.to_string(), key.1.clone())),
            "{at}: {key:?} is bound to nobody"
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// the workloads

fn pod_spec_ds(d: &DaemonSet) -> &PodSpec {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn pod_spec_deploy(d: &Deployment) -> &PodSpec {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn the_one<'a, T>(objs: &'a [(String, Object)], f: impl Fn(&'a Object) -> Option<&'a T>) -> &'a T {
    let found: Vec<&T> = objs.iter().filter_map(|(_, o)| f(o)).collect();
    assert_eq!(found.len(), 1);
    found[0]
}

fn env<'a>(c: &'a Container, name: &str) -> &'a EnvVar {
    c.env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

fn field_ref<'a>(c: &'a Container, name: &str) -> &'a str {
    let e = env(c, name);
    assert!(e.value.is_none(), "{name}");
    let f = e.value_from.as_ref().and_then(|v| v.field_ref.as_ref());
    let f = f.unwrap_or_else(|| panic!("{name} is not from the downward API"));
    assert!(f.api_version.as_deref().unwrap_or("v1") == "v1");
    &f.field_path
}

/// A probe's `(path, port)`.
fn http_probe(p: Option<&Probe>) -> (&str, &IntOrString) {
    let g = p
        .and_then(|p| p.http_get.as_ref())
        .expect("an httpGet probe");
    assert!(g.host.is_none() && g.scheme.as_deref().unwrap_or("HTTP") == "HTTP");
    (g.path.as_deref().unwrap(), &g.port)
}

fn host_paths(volumes: Option<&Vec<Volume>>) -> Vec<&Volume> {
    volumes
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|v| v.host_path.is_some())
        .collect()
}

fn only_container(pod: &PodSpec) -> &Container {
    assert_eq!(pod.containers.len(), 1);
    assert!(pod.init_containers.is_none());
    &pod.containers[0]
}

#[test]
fn the_agent_daemonset() {
    let objs = objects();
    let ds = the_one(&objs, |o| match o {
        Object::DaemonSet(d) => Some(d),
        _ => None,
    });
    let spec = ds.spec.as_ref().unwrap();
    let strategy = spec.update_strategy.as_ref().unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let ru = strategy.rolling_update.as_ref().unwrap();
    assert_eq!(ru.max_unavailable, Some(IntOrString::Int(1)));
    assert!(
        ru.max_surge.is_none(),
        "hostNetwork pods on one port cannot surge"
    );

    let pod = pod_spec_ds(ds);
    assert_eq!(pod.service_account_name.as_deref(), Some(AGENT_SA));
    assert_ne!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.host_network, Some(true));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-node-critical")
    );
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    // Tolerates every taint: control plane, NotReady, unreachable, unschedulable.
    let tolerations = pod.tolerations.as_deref().unwrap_or_default();
    assert!(
        tolerations
            .iter()
            .any(|t| t.operator.as_deref() == Some("Exists")
                && t.key.is_none()
                && t.effect.is_none()
                && t.value.is_none()
                && t.toleration_seconds.is_none()),
        "{tolerations:?}"
    );

    let c = only_container(pod);
    assert_eq!(c.args.as_deref(), Some(&["agent".to_string()][..]));
    assert!(c.command.is_none(), "the image's ENTRYPOINT is /plumber");
    assert_eq!(field_ref(c, "NODE_NAME"), "spec.nodeName");
    assert_eq!(field_ref(c, "POD_NAMESPACE"), "metadata.namespace");
    assert_eq!(env(c, "PLUMBER_LOG_FORMAT").value.as_deref(), Some("json"));
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.privileged, Some(true));

    let port = IntOrString::Int(plumber::cluster::agent::config::DEFAULT_PORT.into());
    assert_eq!(http_probe(c.liveness_probe.as_ref()), ("/healthz", &port));
    assert_eq!(http_probe(c.readiness_probe.as_ref()), ("/readyz", &port));
    let ports = c.ports.as_deref().unwrap_or_default();
    assert!(ports
        .iter()
        .any(|p| p.container_port == i32::from(plumber::cluster::agent::config::DEFAULT_PORT)));

    // The host's root at /host, and no other host path.
    let hp = host_paths(pod.volumes.as_ref());
    assert_eq!(hp.len(), 1, "exactly one hostPath volume");
    assert_eq!(hp[0].host_path.as_ref().unwrap().path, "/");
    let mounts: Vec<_> = c
        .volume_mounts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|m| m.name == hp[0].name)
        .collect();
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0].mount_path, "/host");
    assert_ne!(
        mounts[0].read_only,
        Some(true),
        "the agent writes under /host"
    );
    assert!(mounts[0].sub_path.is_none());
    // PLUMBER_HOST_ROOT (if set) is where the host is mounted.
    if let Some(e) = c
        .env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|e| e.name == "PLUMBER_HOST_ROOT")
    {
        assert_eq!(e.value.as_deref(), Some("/host"));
    }

    let r = c.resources.as_ref().unwrap();
    let (req, lim) = (r.requests.as_ref().unwrap(), r.limits.as_ref().unwrap());
    assert!(
        req.contains_key("cpu") && req.contains_key("memory"),
        "{req:?}"
    );
    assert!(lim.contains_key("memory"), "{lim:?}");
}

#[test]
fn the_rollup_deployment() {
    let objs = objects();
    let d = the_one(&objs, |o| match o {
        Object::Deployment(d) => Some(d),
        _ => None,
    });
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    let strategy = spec.strategy.as_ref().unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("Recreate"));
    assert!(strategy.rolling_update.is_none());

    let pod = pod_spec_deploy(d);
    assert_eq!(pod.service_account_name.as_deref(), Some(ROLLUP_SA));
    assert!(host_paths(pod.volumes.as_ref()).is_empty(), "no hostPath");
    for f in [pod.host_network, pod.host_pid, pod.host_ipc] {
        assert_ne!(f, Some(true));
    }
    let psc = pod.security_context.as_ref().unwrap();
    let c = only_container(pod);
    assert_eq!(c.args.as_deref(), Some(&["rollup".to_string()][..]));
    let sc = c.security_context.as_ref().unwrap();
    assert_ne!(sc.privileged, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    let caps = sc.capabilities.as_ref().unwrap();
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]));
    assert!(caps.add.is_none());
    assert_eq!(sc.run_as_non_root.or(psc.run_as_non_root), Some(true));
    // The image has no USER: the kubelet needs a numeric, non-zero one to honour runAsNonRoot.
    let uid = sc.run_as_user.or(psc.run_as_user).expect("a runAsUser");
    assert_ne!(uid, 0);

    let port = IntOrString::Int(plumber::cluster::rollup::DEFAULT_PORT.into());
    assert_eq!(http_probe(c.liveness_probe.as_ref()), ("/healthz", &port));
    assert_eq!(http_probe(c.readiness_probe.as_ref()), ("/readyz", &port));
    let ports = c.ports.as_deref().unwrap_or_default();
    assert!(ports
        .iter()
        .any(|p| p.container_port == i32::from(plumber::cluster::rollup::DEFAULT_PORT)));
    let r = c.resources.as_ref().unwrap();
    assert!(r.requests.is_some() && r.limits.as_ref().is_some_and(|l| l.contains_key("memory")));
}
