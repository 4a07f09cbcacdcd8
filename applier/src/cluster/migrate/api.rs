//! The requests of `plumber migrate`, one function per step, each safe to repeat: reading the two
//! CRDs' scope, HostPlumber's DaemonSets and templates; removing a finalizer; deleting a CRD and
//! waiting until it is gone; installing plumber's CRDs and waiting until they are served; creating a
//! template by server-side apply.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use super::error::{Agent, MigrateError};
use super::export::{Exported, Meta};
use super::hostplumber;
use crate::cluster::crd::{HostNetworkTemplate, TemplateObject};

/// The field manager of everything `plumber migrate` writes.
pub(super) const FIELD_MANAGER: &str = "plumber-migrate";

/// How long a CRD may take to go (its objects are deleted first) or to be served.
const CRD_WAIT: Duration = Duration::from_secs(120);

/// Whose a CRD of plumber's names is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Absent,
    /// HostPlumber's (`Namespaced`); `terminating` once its deletion began.
    HostPlumber {
        terminating: bool,
    },
    /// plumber's (`Cluster`).
    Plumber,
}

/// The scope of CRD `name`.
pub(super) async fn scope(client: &Client, name: &str) -> Result<Scope, MigrateError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds
        .get_opt(name)
        .await
        .map_err(MigrateError::api(format!("reading CRD {name}")))?;
    Ok(match crd {
        None => Scope::Absent,
        Some(c) if c.spec.scope == "Namespaced" => Scope::HostPlumber {
            terminating: c.metadata.deletion_timestamp.is_some(),
        },
        Some(_) => Scope::Plumber,
    })
}

/// HostPlumber's agents: its DaemonSets, and pods of its agent (still stopping after their DaemonSet
/// was deleted).
pub(super) async fn hostplumber_agents(client: &Client) -> Result<Vec<Agent>, MigrateError> {
    let id = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        (
            m.namespace.clone().unwrap_or_default(),
            m.name.clone().unwrap_or_default(),
        )
    };
    let daemonsets: Api<DaemonSet> = Api::all(client.clone());
    let mut out: Vec<Agent> = daemonsets
        .list(&ListParams::default())
        .await
        .map_err(MigrateError::api("listing DaemonSets"))?
        .items
        .iter()
        .filter(|d| hostplumber::is_agent(d))
        .map(|d| Agent::DaemonSet(id(&d.metadata)))
        .collect();
    if out.is_empty() {
        let pods: Api<Pod> = Api::all(client.clone());
        out.extend(
            pods.list(&ListParams::default())
                .await
                .map_err(MigrateError::api("listing pods"))?
                .items
                .iter()
                .filter(|p| hostplumber::is_agent_pod(p))
                .map(|p| Agent::Pod(id(&p.metadata))),
        );
    }
    Ok(out)
}

fn templates_resource() -> ApiResource {
    ApiResource::erase::<HostNetworkTemplate>(&())
}

/// HostPlumber's templates in every namespace, as served (with their finalizers).
pub(super) async fn hostplumber_templates(
    client: &Client,
) -> Result<Vec<DynamicObject>, MigrateError> {
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &templates_resource());
    let mut out = Vec::new();
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = all.list(&lp).await.map_err(MigrateError::api(
            "listing HostPlumber's HostNetworkTemplates",
        ))?;
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    out.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    Ok(out)
}

/// What the switch keeps of a HostPlumber template.
pub(super) fn exported(o: &DynamicObject) -> Exported {
    Exported {
        api_version: plumber_render::model::API_VERSION.to_string(),
        kind: "HostNetworkTemplate".to_string(),
        metadata: Meta {
            name: o.metadata.name.clone().unwrap_or_default(),
            namespace: o.metadata.namespace.clone().unwrap_or_default(),
            labels: o.metadata.labels.clone().unwrap_or_default(),
            annotations: o.metadata.annotations.clone().unwrap_or_default(),
        },
        spec: o.data.get("spec").cloned().unwrap_or(json!({})),
    }
}

/// How many HostPlumber `HostNetwork`s there are (deleted with their CRD).
pub(super) async fn count_host_networks(client: &Client) -> Result<usize, MigrateError> {
    let ar = ApiResource::erase::<crate::cluster::crd::HostNetwork>(&());
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let list = all
        .list_metadata(&ListParams::default())
        .await
        .map_err(MigrateError::api("listing HostPlumber's HostNetworks"))?;
    Ok(list.items.len())
}

/// Removes HostPlumber's finalizer from `o` (the other finalizers stay); false when it had none.
pub(super) async fn remove_finalizer(
    client: &Client,
    o: &DynamicObject,
) -> Result<bool, MigrateError> {
    let finalizers = o.metadata.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == hostplumber::OVS_FINALIZER) {
        return Ok(false);
    }
    let rest: Vec<&String> = finalizers
        .iter()
        .filter(|f| *f != hostplumber::OVS_FINALIZER)
        .collect();
    let ns = o.metadata.namespace.as_deref().unwrap_or_default();
    let name = o.metadata.name.as_deref().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &templates_resource());
    // The resourceVersion makes it a compare-and-swap: a finalizer added meanwhile is not lost.
    let patch =
        json!({"metadata": {"finalizers": rest, "resourceVersion": o.metadata.resource_version}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(MigrateError::api(format!(
            "removing {} from template {ns}/{name}",
            hostplumber::OVS_FINALIZER
        )))?;
    Ok(true)
}

/// Deletes CRD `name` (and so its objects) and waits until it is gone.
pub(super) async fn delete_crd(client: &Client, name: &str) -> Result<(), MigrateError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(MigrateError::api(format!("deleting CRD {name}"))(e)),
    }
    poll(&format!("CRD {name} to be deleted"), || async {
        Ok(crds
            .get_opt(name)
            .await
            .map_err(MigrateError::api(format!("reading CRD {name}")))?
            .is_none())
    })
    .await
}

/// Installs plumber's CRD `crd` (server-side apply).
pub(super) async fn install_crd(
    client: &Client,
    crd: &CustomResourceDefinition,
) -> Result<(), MigrateError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(crd),
    )
    .await
    .map_err(MigrateError::api(format!("installing CRD {name}")))?;
    Ok(())
}

/// Waits until CRD `name` is `Established` and plumber's templates are served.
pub(super) async fn established(client: &Client, name: &str) -> Result<(), MigrateError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let templates: Api<TemplateObject> = Api::all(client.clone());
    poll(&format!("CRD {name} to be established"), || async {
        let crd = crds
            .get_opt(name)
            .await
            .map_err(MigrateError::api(format!("reading CRD {name}")))?;
        let established = crd
            .and_then(|c| c.status)
            .and_then(|s| s.conditions)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        Ok(established
            && templates
                .list(&ListParams::default().limit(1))
                .await
                .is_ok())
    })
    .await
}

/// Polls `done` every 200 ms until it is true, for at most [`CRD_WAIT`].
async fn poll<F, Fut>(what: &str, mut done: F) -> Result<(), MigrateError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, MigrateError>>,
{
    let start = Instant::now();
    loop {
        if done().await? {
            return Ok(());
        }
        if start.elapsed() > CRD_WAIT {
            return Err(MigrateError::Timeout {
                what: what.to_string(),
                seconds: CRD_WAIT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// plumber's template `name` as served, if any.
pub(super) async fn plumber_template(
    client: &Client,
    name: &str,
) -> Result<Option<TemplateObject>, MigrateError> {
    let api: Api<TemplateObject> = Api::all(client.clone());
    api.get_opt(name)
        .await
        .map_err(MigrateError::api(format!("reading template {name}")))
}

/// Creates plumber's template from `t`: its name, labels, annotations and spec (server-side apply).
pub(super) async fn create_template(client: &Client, t: &Exported) -> Result<(), MigrateError> {
    let api: Api<TemplateObject> = Api::all(client.clone());
    let body = json!({
        "apiVersion": plumber_render::model::API_VERSION,
        "kind": "HostNetworkTemplate",
        "metadata": {
            "name": t.metadata.name,
            "labels": t.metadata.labels,
            "annotations": t.metadata.annotations,
        },
        "spec": t.spec,
    });
    api.patch(
        &t.metadata.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(MigrateError::api(format!(
        "creating template {} (from {})",
        t.metadata.name,
        t.id()
    )))?;
    Ok(())
}
