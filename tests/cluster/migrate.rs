//! `plumber migrate` on a control plane of its own (not deploy/'s: it starts as a HostPlumber
//! cluster): HostPlumber's namespaced CRDs (`tests/crd/hostplumber/`, written from luigi's source),
//! its agent's DaemonSet, templates in three namespaces (one under HostPlumber's `ovsFinalizer`) and
//! HostNetworks in; plumber's cluster-scoped CRDs and every template with its spec, labels and
//! annotations out.
//!
//! The refusals change nothing (the CRDs' and templates' resourceVersions, no export file):
//! HostPlumber's agent still running (its DaemonSet, then a pod of it left), one name in two
//! namespaces, a template plumber would not accept. A dry run says every step and changes nothing. A full run switches; a second run writes nothing. Then the
//! cluster is made HostPlumber's again and a run is interrupted where it hurts most, HostPlumber's
//! CRDs deleted and plumber's not installed (an identity that may not create CRDs: the API server
//! refuses the install, as it would refuse a real operator's partial rights): a run without the export
//! refuses naming `--from-export`, and `--from-export` finishes the job (and later leaves a template
//! edited since alone, naming it).
//!
//! One template gives a whole NIC to vfio-pci with HostPlumber's `pfDriver` (PF mode), which comes
//! through like every other field; `plumber migrate` refuses a template plumber would not accept (the
//! mtu case here).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::apiserver::ControlPlane;
use crate::harness::assets::repo;
use crate::harness::cluster::assets;
use crate::harness::deploy::established;
use crate::harness::kube::Kube;
use crate::harness::wait;

const TEMPLATES_CRD: &str =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/hostnetworktemplates.plumber.k8s.pf9.io";
const NETWORKS_CRD: &str =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/hostnetworks.plumber.k8s.pf9.io";
const GROUP: &str = "/apis/plumber.k8s.pf9.io/v1";

/// The templates that switch: (namespace, name, labels, annotations, finalizers, spec).
fn templates() -> Vec<(&'static str, &'static str, Value, Value, Value, Value)> {
    vec![
        (
            "tenant-a",
            "ovs-uplinks",
            json!({"team": "network"}),
            json!({"owner": "ops@example.com"}),
            json!(["ovsFinalizer"]),
            json!({"nodeSelector": {"ovs": "true"}, "ovsConfig": [
                {"bridgeName": "ovs-br01", "nodeInterface": "eno4,eno5",
                 "params": {"mtuRequest": 9000, "bondMode": "balance-tcp", "lacp": "active"}},
                {"bridgeName": "ovs-br02", "nodeInterface": "eno6"}]}),
        ),
        (
            "tenant-a",
            "sriov-vfs",
            json!({}),
            json!({}),
            json!([]),
            json!({"nodeSelector": {"sriov": "true"}, "sriovConfig": [
                {"pfName": "ens3f0", "numVfs": 8, "vfDriver": "vfio-pci", "mtu": 9000},
                {"vendorId": "8086", "deviceId": "1572", "numVfs": 4},
                {"pfName": "ens4f0", "pfDriver": "vfio-pci"}]}),
        ),
        (
            "tenant-b",
            "vlans",
            json!({"team": "storage"}),
            json!({}),
            json!([]),
            json!({"interfaceConfig": [
                {"name": "eno2", "mtu": 9000, "vlan": [{"id": 100}, {"id": 200, "name": "storage"}]},
                {"name": "eno3", "ipv4": {"address": ["10.20.0.5/24"]}}]}),
        ),
    ]
}

fn template_body(ns: &str, name: &str, l: &Value, a: &Value, f: &Value, spec: &Value) -> Value {
    json!({
        "apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetworkTemplate",
        "metadata": {"name": name, "namespace": ns, "labels": l, "annotations": a, "finalizers": f},
        "spec": spec,
    })
}

fn post(kube: &Kube, path: &str, body: Value) {
    if let Err(e) = kube.post(path, &body) {
        panic!("POST {path}: {e}");
    }
}

/// Makes the cluster HostPlumber's: its two CRDs, its agent's DaemonSet, the templates and two
/// HostNetworks its agents published.
fn hostplumber_cluster(admin: &Kube, with_agent: bool) {
    for (path, file) in [
        (TEMPLATES_CRD, "hostnetworktemplates.yaml"),
        (NETWORKS_CRD, "hostnetworks.yaml"),
    ] {
        let text =
            std::fs::read_to_string(repo().join("tests/crd/hostplumber").join(file)).unwrap();
        admin.apply_yaml(path, &text, false).unwrap();
        established(admin, path);
    }
    for ns in ["tenant-a", "tenant-b", "tenant-c", "luigi-system"] {
        let _ = admin.post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    if with_agent {
        // luigi's config/default build: controller-manager with the prefix hostplumber-.
        post(
            admin,
            "/apis/apps/v1/namespaces/luigi-system/daemonsets",
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": "hostplumber-controller-manager"},
                "spec": {"selector": {"matchLabels": {"control-plane": "controller-manager"}},
                    "template": {"metadata": {"labels": {"control-plane": "controller-manager"}},
                        "spec": {"containers": [{"name": "manager", "image": "controller:latest"}]}}}}),
        );
    }
    for (ns, name, l, a, f, spec) in templates() {
        post(
            admin,
            &format!("{GROUP}/namespaces/{ns}/hostnetworktemplates"),
            template_body(ns, name, &l, &a, &f, &spec),
        );
    }
    for node in ["worker-1", "worker-2"] {
        post(
            admin,
            &format!("{GROUP}/namespaces/luigi-system/hostnetworks"),
            json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork",
                "metadata": {"name": node}, "spec": {}}),
        );
    }
}

/// `plumber migrate ARGS` as the identity of `kubeconfig`: exit code, standard output and error.
fn migrate(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plumber"))
        .arg("migrate")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a run must not change: each CRD's scope and resourceVersion, each template's namespace,
/// name, resourceVersion and finalizers.
fn snapshot(admin: &Kube) -> Value {
    let crd = |p: &str| {
        admin.get(p).map(|c| {
            json!([
                c["spec"]["scope"],
                c["metadata"]["resourceVersion"],
                c["metadata"]["deletionTimestamp"]
            ])
        })
    };
    let templates: Vec<Value> = admin
        .get(&format!("{GROUP}/hostnetworktemplates"))
        .map(|l| l["items"].as_array().unwrap().clone())
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let m = &t["metadata"];
            json!([
                m["namespace"],
                m["name"],
                m["resourceVersion"],
                m["finalizers"]
            ])
        })
        .collect();
    json!({"templates": crd(TEMPLATES_CRD), "networks": crd(NETWORKS_CRD), "objects": templates})
}

/// plumber's CRDs, cluster-scoped; every template back with its spec, labels and annotations, and no
/// finalizer; no HostPlumber object left.
fn assert_migrated(admin: &Kube) {
    for p in [TEMPLATES_CRD, NETWORKS_CRD] {
        let c = admin.get(p).unwrap_or_else(|| panic!("{p} is missing"));
        assert_eq!(c["spec"]["scope"], "Cluster", "{p}");
    }
    let list = admin.get(&format!("{GROUP}/hostnetworktemplates")).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), templates().len(), "{list:#}");
    for (_, name, labels, annotations, _, spec) in templates() {
        let t = items
            .iter()
            .find(|t| t["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("template {name} is missing"));
        let m = &t["metadata"];
        assert!(m.get("namespace").is_none(), "{m:#}");
        assert!(m.get("finalizers").is_none(), "{m:#}");
        assert_eq!(t["spec"], spec, "{name}");
        assert_eq!(
            m.get("labels").cloned().unwrap_or(json!({})),
            labels,
            "{name}"
        );
        assert_eq!(
            m.get("annotations").cloned().unwrap_or(json!({})),
            annotations,
            "{name}"
        );
    }
    let networks = admin.get(&format!("{GROUP}/hostnetworks")).unwrap();
    assert_eq!(
        networks["items"],
        json!([]),
        "HostPlumber's HostNetworks went with its CRD"
    );
}

/// A ServiceAccount that may do everything `plumber migrate` does but create a CRD.
fn migrator_without_crd_create(cp: &ControlPlane, admin: &Kube) -> std::path::PathBuf {
    post(
        admin,
        "/api/v1/namespaces/default/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "migrator"}}),
    );
    post(
        admin,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "migrator"},
            "rules": [
                {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                 "verbs": ["get", "list", "delete"]},
                {"apiGroups": ["plumber.k8s.pf9.io"], "resources": ["hostnetworktemplates", "hostnetworks"],
                 "verbs": ["get", "list", "patch"]},
                {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["list"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}),
    );
    post(
        admin,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "migrator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "migrator"},
            "subjects": [{"kind": "ServiceAccount", "name": "migrator", "namespace": "default"}]}),
    );
    let r = admin
        .post(
            "/api/v1/namespaces/default/serviceaccounts/migrator/token",
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600}}),
        )
        .unwrap();
    cp.kubeconfig_for(
        "migrator",
        r["status"]["token"].as_str().unwrap(),
        "default",
    )
}

/// The run's last line says it had nothing to do.
fn said_nothing_to_do(out: &str) -> bool {
    out.lines()
        .last()
        .is_some_and(|l| l.starts_with("nothing to do"))
}

fn gone(admin: &Kube, path: &str) {
    wait::until(
        &format!("{path} to be gone"),
        Duration::from_secs(60),
        |last| {
            let got = admin.get(path);
            *last = format!("{got:?}");
            got.is_none().then_some(())
        },
    );
}

#[test]
fn a_hostplumber_cluster_switches_to_plumber_losing_nothing() {
    let Some(assets) = assets() else { return };
    let cp = ControlPlane::start(&assets);
    let admin = cp.admin();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("hostplumber-templates.yaml");
    let export_arg = export.to_str().unwrap();
    hostplumber_cluster(&admin, true);

    // Refusals: each changes nothing and writes no export.
    let before = snapshot(&admin);
    let (code, _, err) = migrate(&cp.admin, &["--export", export_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("HostPlumber's agent still runs (DaemonSet luigi-system/hostplumber-controller-manager)")
            && err.contains("kubectl delete daemonset hostplumber-controller-manager -n luigi-system"),
        "{err}"
    );
    assert_eq!(snapshot(&admin), before);
    assert!(!export.exists());
    let ds = "/apis/apps/v1/namespaces/luigi-system/daemonsets/hostplumber-controller-manager";
    admin.delete(ds).unwrap();
    gone(&admin, ds);
    // Its pods outlive it while they stop (here one no kubelet runs: Pending, but there; no
    // controller made the namespace's default ServiceAccount, which a pod needs).
    let pods = "/api/v1/namespaces/luigi-system/pods";
    post(
        &admin,
        "/api/v1/namespaces/luigi-system/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
    );
    post(
        &admin,
        pods,
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "hostplumber-controller-manager-x7k2p"},
            "spec": {"containers": [{"name": "manager", "image": "controller:latest"}]}}),
    );
    let (code, _, err) = migrate(&cp.admin, &["--export", export_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("(pod luigi-system/hostplumber-controller-manager-x7k2p)")
            && err.contains("kubectl wait --for=delete pod/hostplumber-controller-manager-x7k2p -n luigi-system"),
        "{err}"
    );
    assert_eq!(snapshot(&admin), before);
    let pod = format!("{pods}/hostplumber-controller-manager-x7k2p");
    admin.delete(&pod).unwrap();
    gone(&admin, &pod);

    let (ns, name, l, a, _, spec) = templates().remove(0);
    assert_eq!((ns, name), ("tenant-a", "ovs-uplinks"));
    post(
        &admin,
        &format!("{GROUP}/namespaces/tenant-b/hostnetworktemplates"),
        template_body("tenant-b", name, &l, &a, &json!([]), &spec),
    );
    let before = snapshot(&admin);
    let (code, _, err) = migrate(&cp.admin, &["--export", export_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ovs-uplinks (in namespaces tenant-a, tenant-b)")
            && err.contains("rename one"),
        "{err}"
    );
    assert_eq!(snapshot(&admin), before);
    assert!(!export.exists());
    admin
        .delete(&format!(
            "{GROUP}/namespaces/tenant-b/hostnetworktemplates/ovs-uplinks"
        ))
        .unwrap();

    let low = format!("{GROUP}/namespaces/tenant-c/hostnetworktemplates");
    post(
        &admin,
        &low,
        template_body(
            "tenant-c",
            "low-mtu",
            &json!({}),
            &json!({}),
            &json!([]),
            &json!({"interfaceConfig": [{"name": "eno2", "mtu": 67}]}),
        ),
    );
    let before = snapshot(&admin);
    let (code, _, err) = migrate(&cp.admin, &["--export", export_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("tenant-c/low-mtu: ") && err.contains("spec.interfaceConfig[0].mtu: 67"),
        "{err}"
    );
    assert_eq!(snapshot(&admin), before);
    assert!(!export.exists());
    admin.delete(&format!("{low}/low-mtu")).unwrap();

    // A dry run says every step and changes nothing.
    let before = snapshot(&admin);
    let (code, out, err) = migrate(&cp.admin, &["--dry-run", "--export", export_arg]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "would export 3 HostPlumber template(s) from 2 namespace(s)",
        "would remove ovsFinalizer from template tenant-a/ovs-uplinks",
        "would delete HostPlumber's namespaced CRD hostnetworktemplates.plumber.k8s.pf9.io",
        "would delete HostPlumber's namespaced CRD hostnetworks.plumber.k8s.pf9.io (with its 2 HostNetwork(s)",
        "would install plumber's cluster-scoped CRD hostnetworktemplates.plumber.k8s.pf9.io",
        "would install plumber's cluster-scoped CRD hostnetworks.plumber.k8s.pf9.io",
        "would create template vlans (from tenant-b/vlans)",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    assert_eq!(out.matches("would create template").count(), 3, "{out}");
    assert_eq!(snapshot(&admin), before);
    assert!(!export.exists());

    // The switch.
    let (code, out, err) = migrate(&cp.admin, &["--export", export_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("done: 3 template(s) exported, 1 finalizer(s) removed, 2 HostPlumber CRD(s) deleted (with 2 HostNetwork(s)), 2 plumber CRD(s) installed, 3 template(s) created"),
        "{out}"
    );
    assert_migrated(&admin);
    let exported = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        exported.matches("kind: HostNetworkTemplate").count(),
        3,
        "{exported}"
    );

    // A second run changes nothing, with or without the export.
    let before = snapshot(&admin);
    for args in [
        &["--export", export_arg][..],
        &["--from-export", export_arg][..],
    ] {
        let (code, out, err) = migrate(&cp.admin, args);
        assert_eq!(code, 0, "{err}");
        assert!(said_nothing_to_do(&out), "{out}");
        assert_eq!(snapshot(&admin), before);
    }

    // HostPlumber's again, then a run stopped with HostPlumber's CRDs deleted and plumber's not installed.
    for p in [TEMPLATES_CRD, NETWORKS_CRD] {
        admin.delete(p).unwrap();
        gone(&admin, p);
    }
    std::fs::remove_file(&export).unwrap();
    hostplumber_cluster(&admin, false);
    let migrator = migrator_without_crd_create(&cp, &admin);
    let (code, out, err) = migrate(&migrator, &["--export", export_arg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("installing CRD hostnetworktemplates.plumber.k8s.pf9.io"),
        "{err}"
    );
    assert!(
        out.contains("removed ovsFinalizer from template tenant-a/ovs-uplinks"),
        "{out}"
    );
    assert!(admin.get(TEMPLATES_CRD).is_none() && admin.get(NETWORKS_CRD).is_none());
    let (code, _, err) = migrate(&cp.admin, &["--export", export_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("finish with --from-export FILE"), "{err}");
    assert!(admin.get(TEMPLATES_CRD).is_none());
    let (code, out, err) = migrate(&cp.admin, &["--from-export", export_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("read 3 template(s) from"), "{out}");
    assert!(out.contains("3 template(s) created"), "{out}");
    assert_migrated(&admin);
    let before = snapshot(&admin);
    let (code, out, _) = migrate(&cp.admin, &["--from-export", export_arg]);
    assert_eq!(code, 0);
    assert!(said_nothing_to_do(&out), "{out}");
    assert_eq!(snapshot(&admin), before);

    // A template edited since the switch is not put back to the export's spec: named, left as it is.
    admin
        .apply(
            &format!("{GROUP}/hostnetworktemplates/vlans"),
            &json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetworkTemplate",
                "metadata": {"name": "vlans"},
                "spec": {"interfaceConfig": [{"name": "eno2", "mtu": 1500}]}}),
        )
        .unwrap();
    let before = snapshot(&admin);
    let (code, _, err) = migrate(&cp.admin, &["--from-export", export_arg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("another spec than the export's and were left as they are: vlans (exported from tenant-b/vlans)"),
        "{err}"
    );
    assert_eq!(snapshot(&admin), before);
}
