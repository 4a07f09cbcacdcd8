//! What `plumber migrate` knows of HostPlumber (platform9/luigi, `hostplumber/`): the names of its
//! CRDs, its finalizer, and how to recognise its agent's DaemonSet.
//!
//! HostPlumber's CRDs have the same names as plumber's (`hostnetworktemplates.plumber.k8s.pf9.io`,
//! `hostnetworks.plumber.k8s.pf9.io`, group `plumber.k8s.pf9.io`, version `v1`) but are `Namespaced`;
//! a CRD's scope cannot change, so the switch deletes them (which deletes their objects) and installs
//! plumber's. Its agent is a DaemonSet (whose pods outlive it while they stop) (luigi's `config/manager/manager.yaml`:
//! `controller-manager` with the kustomize prefix `hostplumber-`, in `luigi-system`; later versions
//! label it `control-plane: hostplumber-controller-manager` and run the image `host-plumber`).

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The finalizer HostPlumber's controller puts on a template with `ovsConfig`: while it is there, a
/// deleted template waits for every node's agent to delete the template's OVS bridges.
pub(super) const OVS_FINALIZER: &str = "ovsFinalizer";

/// The two CRDs, HostPlumber's and plumber's alike.
pub(super) const TEMPLATES_CRD: &str = "hostnetworktemplates.plumber.k8s.pf9.io";
pub(super) const HOST_NETWORKS_CRD: &str = "hostnetworks.plumber.k8s.pf9.io";

/// Whether `ds` runs HostPlumber's agent: its name, a label value or a container image says
/// `hostplumber` or `host-plumber`.
pub(super) fn is_agent(ds: &DaemonSet) -> bool {
    says_hostplumber(
        &ds.metadata,
        ds.spec.iter().filter_map(|s| s.template.spec.as_ref()),
    )
}

/// Whether `pod` is one of HostPlumber's agents (a pod of its DaemonSet, still there after the
/// DaemonSet was deleted, until it has stopped), by the same signs.
pub(super) fn is_agent_pod(pod: &Pod) -> bool {
    says_hostplumber(&pod.metadata, pod.spec.iter())
}

fn says_hostplumber<'a>(meta: &ObjectMeta, pods: impl Iterator<Item = &'a PodSpec>) -> bool {
    let says = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.contains("hostplumber") || s.contains("host-plumber")
    };
    let name = meta.name.as_deref().is_some_and(says);
    let labels = meta.labels.iter().flatten().any(|(_, v)| says(v));
    let images = pods
        .flat_map(|p| p.containers.iter())
        .filter_map(|c| c.image.as_deref())
        .any(says);
    name || labels || images
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(v: serde_json::Value) -> DaemonSet {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn hostplumber_daemonsets_by_name_label_or_image() {
        // luigi's kustomize build of config/default.
        assert!(is_agent(&ds(json!({
            "metadata": {"name": "hostplumber-controller-manager", "namespace": "luigi-system"},
        }))));
        // The later manager.yaml, deployed under another name.
        assert!(is_agent(&ds(json!({
            "metadata": {"name": "controller-manager",
                         "labels": {"control-plane": "hostplumber-controller-manager"}},
        }))));
        assert!(is_agent(&ds(json!({
            "metadata": {"name": "net"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "manager", "image": "docker.io/platform9/host-plumber:v0.5"}]}}},
        }))));
        // plumber's own agent and anything else are not.
        assert!(!is_agent(&ds(json!({
            "metadata": {"name": "plumber-agent", "labels": {"app.kubernetes.io/name": "plumber"}},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "agent", "image": "plumber:0.1"}]}}},
        }))));
        // A pod of its DaemonSet, left while it stops.
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "hostplumber-controller-manager-x7k2p", "namespace": "luigi-system"},
        }))
        .unwrap();
        assert!(is_agent_pod(&pod));
        let other: Pod =
            serde_json::from_value(json!({"metadata": {"name": "plumber-agent-x7k2p"}})).unwrap();
        assert!(!is_agent_pod(&other));
    }
}
