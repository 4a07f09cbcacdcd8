//! `kubectl apply -k deploy/` without kubectl (Debian's is too old for the server): every resource
//! `deploy/kustomization.yaml` lists, document by document, as kustomize builds it (the kustomization's
//! namespace on namespaced objects and on ServiceAccount subjects of bindings, its label pairs on every
//! object's metadata), server-side applied at the path the server's own discovery gives for its kind.
//! Then the CRDs must be `Established` before anything uses them.

use std::time::Duration;

use serde_json::{json, Value};

use super::assets::repo;
use super::kube::Kube;
use super::wait;

/// The namespace deploy/ installs into.
pub const NAMESPACE: &str = "plumber-system";

/// The objects of deploy/, as kustomize would build them.
pub fn objects() -> Vec<Value> {
    let dir = repo().join("deploy");
    let k: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let namespace = k["namespace"].as_str().unwrap().to_string();
    let mut labels = serde_json::Map::new();
    for l in k["labels"].as_array().into_iter().flatten() {
        labels.extend(l["pairs"].as_object().unwrap().clone());
    }
    let mut out = Vec::new();
    for r in k["resources"].as_array().unwrap() {
        let text = std::fs::read_to_string(dir.join(r.as_str().unwrap())).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let mut v: Value = serde::Deserialize::deserialize(doc).unwrap();
            if v.is_null() {
                continue;
            }
            let meta = v["metadata"].as_object_mut().unwrap();
            let mine = meta.entry("labels").or_insert_with(|| json!({}));
            mine.as_object_mut().unwrap().extend(labels.clone());
            if let Some(subjects) = v.get_mut("subjects").and_then(|s| s.as_array_mut()) {
                for s in subjects
                    .iter_mut()
                    .filter(|s| s["kind"] == "ServiceAccount")
                {
                    s["namespace"] = json!(namespace);
                }
            }
            v["metadata"]["namespace"] = json!(namespace);
            out.push(v);
        }
    }
    out
}

/// The path of `obj` on the server: its kind looked up in the server's discovery for its apiVersion,
/// the namespace dropped for a cluster-scoped kind (as kubectl does).
pub fn path_of(kube: &Kube, obj: &Value) -> String {
    let api_version = obj["apiVersion"].as_str().unwrap();
    let base = if api_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{api_version}")
    };
    let kind = obj["kind"].as_str().unwrap();
    let list = kube
        .get(&base)
        .unwrap_or_else(|| panic!("no API {base} on the server"));
    let r = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && !r["name"].as_str().unwrap().contains('/'))
        .unwrap_or_else(|| panic!("the server has no kind {kind} in {api_version}"));
    let name = obj["metadata"]["name"].as_str().unwrap();
    let plural = r["name"].as_str().unwrap();
    if r["namespaced"] == true {
        let ns = obj["metadata"]["namespace"].as_str().unwrap();
        format!("{base}/namespaces/{ns}/{plural}/{name}")
    } else {
        format!("{base}/{plural}/{name}")
    }
}

/// Installs deploy/ and waits for its CRDs to be established.
pub fn install(kube: &Kube) {
    let mut crds = Vec::new();
    for mut obj in objects() {
        let path = path_of(kube, &obj);
        if !path.contains("/namespaces/") {
            obj["metadata"].as_object_mut().unwrap().remove("namespace");
        }
        if obj["kind"] == "CustomResourceDefinition" {
            crds.push(path.clone());
        }
        if let Err(e) = kube.apply(&path, &obj) {
            panic!("applying {path}: {e}");
        }
        if obj["kind"] == "CustomResourceDefinition" {
            established(kube, &path);
        }
    }
    assert_eq!(crds.len(), 2, "deploy/ installs the two CRDs");
}

/// Waits for the CRD at `path` to be `Established` and its resource to be served.
pub fn established(kube: &Kube, path: &str) {
    wait::until(
        &format!("{path} Established"),
        Duration::from_secs(30),
        |last| {
            let crd = kube.get(path)?;
            *last = crd["status"].to_string();
            let ok = crd["status"]["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True");
            let plural = crd["spec"]["names"]["plural"].as_str()?;
            let group = crd["spec"]["group"].as_str()?;
            let served = kube.try_get(&format!("/apis/{group}/v1/{plural}")).is_ok();
            (ok && served).then_some(())
        },
    );
}

/// A token of ServiceAccount `sa` in [`NAMESPACE`] (TokenRequest, one hour), as the kubelet would
/// mount into its pod.
pub fn token(kube: &Kube, sa: &str) -> String {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{sa}/token");
    let body = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    });
    let r = kube
        .post(&path, &body)
        .unwrap_or_else(|e| panic!("TokenRequest for {sa}: {e}"));
    r["status"]["token"].as_str().unwrap().to_string()
}
