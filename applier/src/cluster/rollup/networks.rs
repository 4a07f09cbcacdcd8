//! The NetworkAttachmentDefinitions the templates declare beside their device plugin pools
//! ([`plumber_render::networks`]), kept in the cluster by the rollup: applied server-side with their
//! own field manager ([`FIELD_MANAGER`]), and deleted when no template declares them any more. Only
//! objects labelled [`MANAGED_BY`] are ever deleted; one written
//! by hand is never touched unless a template declares its name, and then it becomes plumber's.
//!
//! Each template's own declarations are part of its projection (a template the renderer refuses has
//! none, and while one is refused nothing is deleted: its declarations may stand again once it is
//! fixed). Two templates that declare one namespace and name differently are a conflict: neither is
//! applied and the object stays as it is (`plumber-render --networks` names both).
//!
//! A sync with nothing changed writes nothing: what was applied is remembered, and on the first sync
//! it is listed from the cluster (the label), so that a declaration removed while the rollup was down
//! is deleted too. Without Multus' CRD the list answers 404: nothing is written, and it is asked again
//! at the next sync.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use plumber_render::networks::{Nad, MANAGED_BY, RESOURCE_ANNOTATION};

/// The field manager of the rollup's NetworkAttachmentDefinition writes.
pub(crate) const FIELD_MANAGER: &str = "plumber-networks";

/// What identifies a NetworkAttachmentDefinition: (namespace, name).
type Key = (String, String);

/// What of one matters: (the pool's resource, the CNI configuration).
type Content = (String, String);

fn api_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition");
    ApiResource::from_gvk_with_plural(&gvk, "network-attachment-definitions")
}

/// The definitions every template declares, by key; a key two templates declare differently is left
/// out (and logged).
pub(super) fn desired<'a>(per_template: impl Iterator<Item = &'a [Nad]>) -> Desired {
    let mut out: BTreeMap<Key, Nad> = BTreeMap::new();
    let mut conflicting: BTreeSet<Key> = BTreeSet::new();
    for nads in per_template {
        for n in nads {
            let key = (n.namespace.clone(), n.name.clone());
            match out.get_mut(&key) {
                None => {
                    out.insert(key, n.clone());
                }
                Some(first) if first.resource == n.resource && first.config == n.config => {
                    first.templates.extend(n.templates.iter().cloned());
                }
                Some(first) => {
                    tracing::warn!(
                        namespace = %key.0,
                        name = %key.1,
                        templates = ?first.templates.iter().chain(&n.templates).collect::<Vec<_>>(),
                        "two templates declare this NetworkAttachmentDefinition differently; neither is applied"
                    );
                    conflicting.insert(key);
                }
            }
        }
    }
    out.retain(|k, _| !conflicting.contains(k));
    Desired {
        nads: out,
        conflicting,
        may_delete: true,
    }
}

/// What the cluster should hold: the definitions to write, the keys two templates declare differently
/// (neither written nor deleted: the object stays as it is), and whether anything may be deleted at
/// all (not while a template the renderer refuses may still declare what it declared before).
pub(super) struct Desired {
    pub(super) nads: BTreeMap<Key, Nad>,
    conflicting: BTreeSet<Key>,
    pub(super) may_delete: bool,
}

impl Desired {
    /// Whether the definition `key` of plumber's is to be deleted.
    fn deletes(&self, key: &Key) -> bool {
        self.may_delete && !self.nads.contains_key(key) && !self.conflicting.contains(key)
    }
}

/// The NetworkAttachmentDefinitions plumber keeps, and the client to keep them with.
pub(super) struct Networks {
    client: Client,
    /// What is in the cluster under plumber's label, as last listed or written; `None` until listed.
    applied: Option<BTreeMap<Key, Content>>,
    params: PatchParams,
}

impl Networks {
    pub(super) fn new(client: Client) -> Networks {
        Networks {
            client,
            applied: None,
            params: PatchParams::apply(FIELD_MANAGER).force(),
        }
    }

    /// Lists plumber's definitions once; `Ok(false)` when the cluster has no such kind (no Multus).
    async fn list(&mut self) -> Result<bool, kube::Error> {
        if self.applied.is_some() {
            return Ok(true);
        }
        let all: Api<DynamicObject> = Api::all_with(self.client.clone(), &api_resource());
        let label = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
        match all.list(&ListParams::default().labels(&label)).await {
            Ok(list) => {
                let mut found = BTreeMap::new();
                for o in list.items {
                    let ns = o.metadata.namespace.clone().unwrap_or_default();
                    let name = o.metadata.name.clone().unwrap_or_default();
                    let resource = o
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(RESOURCE_ANNOTATION))
                        .cloned()
                        .unwrap_or_default();
                    let config = o.data["spec"]["config"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    found.insert((ns, name), (resource, config));
                }
                self.applied = Some(found);
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Makes the cluster hold `desired` (and no other definition of plumber's); returns the writes
    /// made and the errors (`namespace/name: error`).
    pub(super) async fn sync(&mut self, desired: &Desired) -> (usize, Vec<String>) {
        let mut errors = Vec::new();
        match self.list().await {
            Ok(true) => {}
            Ok(false) => {
                if !desired.nads.is_empty() {
                    tracing::warn!(
                        "templates declare NetworkAttachmentDefinitions, but the cluster has no such \
                         kind (Multus' CRD k8s.cni.cncf.io); they are written once it does"
                    );
                }
                return (0, errors);
            }
            Err(e) => {
                errors.push(format!("listing NetworkAttachmentDefinitions: {e}"));
                return (0, errors);
            }
        }
        let applied = self.applied.get_or_insert_with(BTreeMap::new);
        let mut writes = 0;
        for (key, nad) in &desired.nads {
            let content = (nad.resource.clone(), nad.config.clone());
            if applied.get(key) == Some(&content) {
                continue;
            }
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &key.0, &api_resource());
            match api
                .patch(&key.1, &self.params, &Patch::Apply(nad.object()))
                .await
            {
                Ok(_) => {
                    writes += 1;
                    tracing::info!(namespace = %key.0, name = %key.1, resource = %nad.resource, "NetworkAttachmentDefinition written");
                    applied.insert(key.clone(), content);
                }
                Err(e) => errors.push(format!("{}/{}: {e}", key.0, key.1)),
            }
        }
        let gone: Vec<Key> = applied
            .keys()
            .filter(|k| desired.deletes(k))
            .cloned()
            .collect();
        for key in gone {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &key.0, &api_resource());
            match api.delete(&key.1, &DeleteParams::default()).await {
                Ok(_) => {
                    writes += 1;
                    tracing::info!(namespace = %key.0, name = %key.1, "NetworkAttachmentDefinition deleted");
                    applied.remove(&key);
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => {
                    applied.remove(&key);
                }
                Err(e) => errors.push(format!("{}/{}: {e}", key.0, key.1)),
            }
        }
        (writes, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn nad(ns: &str, name: &str, config: &str, t: &str) -> Nad {
        Nad {
            namespace: ns.into(),
            name: name.into(),
            resource: "intel.com/a".into(),
            config: config.into(),
            templates: BTreeSet::from([t.to_string()]),
        }
    }

    #[test]
    fn equal_declarations_are_one_and_different_ones_are_left_out() {
        let a = vec![nad("x", "n", "{1}", "a"), nad("x", "m", "{1}", "a")];
        let b = vec![nad("x", "n", "{1}", "b"), nad("x", "m", "{2}", "b")];
        let d = desired([a.as_slice(), b.as_slice()].into_iter());
        assert_eq!(d.nads.len(), 1);
        let n = &d.nads[&("x".to_string(), "n".to_string())];
        assert_eq!(n.templates, BTreeSet::from(["a".into(), "b".into()]));
        // The conflicting one is neither written nor deleted; one no template declares is deleted,
        // unless a template the renderer refuses may still declare it.
        let key = |n: &str| ("x".to_string(), n.to_string());
        assert!(!d.deletes(&key("m")) && !d.deletes(&key("n")));
        assert!(d.deletes(&key("gone")));
        let held = Desired {
            may_delete: false,
            ..desired([a.as_slice()].into_iter())
        };
        assert!(!held.deletes(&key("gone")));
    }
}
