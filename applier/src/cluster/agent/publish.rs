//! Publishing the node's `HostNetwork`: server-side apply with one field manager
//! ([`FIELD_MANAGER`], forced), and only when the content changed.
//!
//! The status is a subresource: it is written with
//! `PATCH /apis/plumber.k8s.pf9.io/v1/hostnetworks/NODE/status?fieldManager=plumber-agent&force=true`
//! (`application/apply-patch+yaml`, a body with `apiVersion`, `kind`, `metadata.name` and `status`).
//! The API server does not create an object through a subresource, so a missing object is first
//! created by an apply of the main resource (`spec: {}`), once.
//!
//! The content hash ([`content_hash`]) of the last status written is kept in memory, and on start it
//! is taken from the server's object ([`Publisher::load`]), so that neither a reconcile that changed
//! nothing nor a restart writes the same status again (HostPlumber deleted and re-created its object
//! every 10 s).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cluster::crd::{
    AppliedTemplate, ApplyResult, HostNetwork, HostNetworkStatus, LastApply,
};
use crate::node::apply::{Outcome, Record};

/// The one field manager the agent writes with.
pub(crate) const FIELD_MANAGER: &str = "plumber-agent";

/// sha256 of the status as it is sent (serde's field order is fixed; lists are in the order the agent
/// builds them).
fn content_hash(status: &HostNetworkStatus) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(status).expect("a status serializes"));
    format!("{:x}", h.finalize())
}

/// The body of the status apply.
fn status_body(node: &str, status: &HostNetworkStatus) -> Value {
    json!({
        "apiVersion": plumber_render::model::API_VERSION,
        "kind": "HostNetwork",
        "metadata": {"name": node},
        "status": status,
    })
}

/// The body of the apply that creates the object (no spec fields: a `HostNetwork` describes).
fn create_body(node: &str) -> Value {
    json!({
        "apiVersion": plumber_render::model::API_VERSION,
        "kind": "HostNetwork",
        "metadata": {"name": node},
        "spec": {},
    })
}

/// `LastApply` from the applier's record.
fn last_apply(r: &Record) -> LastApply {
    LastApply {
        result: ApplyResult::from(r.result),
        time: Time(Timestamp::from_second(r.time as i64).unwrap_or(Timestamp::UNIX_EPOCH)),
        digest: r.digest.clone(),
    }
}

/// The `lastApply` to publish after an apply whose record is `new`, given the one published before:
/// an apply that found nothing to do after one that applied the same digest keeps that one (it is the
/// apply that did something), and the same failure again keeps the first one's time, so that a
/// reconcile that changes nothing publishes nothing.
pub(crate) fn next_last_apply(previous: Option<&LastApply>, new: &Record) -> LastApply {
    let fresh = last_apply(new);
    if let Some(p) = previous {
        let same_digest = p.digest == fresh.digest;
        let keep = match new.result {
            Outcome::Unchanged => {
                same_digest && matches!(p.result, ApplyResult::Applied | ApplyResult::Unchanged)
            }
            Outcome::Applied => false,
            _ => same_digest && p.result == fresh.result,
        };
        if keep {
            return p.clone();
        }
    }
    fresh
}

/// `appliedTemplates` from the applier's record.
pub(crate) fn applied_templates(r: &Record) -> Vec<AppliedTemplate> {
    let mut v: Vec<AppliedTemplate> = r
        .templates
        .iter()
        .map(|t| AppliedTemplate {
            name: t.name.clone(),
            generation: t.generation,
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Writes the node's `HostNetwork`, remembering what it wrote.
pub(crate) struct Publisher {
    api: Api<HostNetwork>,
    node: String,
    params: PatchParams,
    last_hash: Option<String>,
    /// Whether the object exists, as far as the agent knows (`None`: not known).
    exists: Option<bool>,
    /// The object's uid, once known (for Events).
    pub(crate) uid: Option<String>,
}

impl Publisher {
    pub(crate) fn new(client: Client, node: &str) -> Publisher {
        Publisher {
            api: Api::all(client),
            node: node.to_string(),
            params: PatchParams::apply(FIELD_MANAGER).force(),
            last_hash: None,
            exists: None,
            uid: None,
        }
    }

    /// Reads the object from the server: remembers whether it exists, its uid and the hash of its
    /// status, and returns that status (to carry its conditions' transition times over a restart).
    pub(crate) async fn load(&mut self) -> Result<Option<HostNetworkStatus>, kube::Error> {
        match self.api.get_opt(&self.node).await? {
            None => {
                self.exists = Some(false);
                Ok(None)
            }
            Some(o) => {
                self.exists = Some(true);
                self.uid = o.metadata.uid.clone();
                self.last_hash = o.status.as_ref().map(content_hash);
                Ok(o.status)
            }
        }
    }

    /// Publishes `status` unless it is what was last published; returns whether it wrote.
    pub(crate) async fn publish(
        &mut self,
        status: &HostNetworkStatus,
    ) -> Result<bool, kube::Error> {
        let hash = content_hash(status);
        if self.last_hash.as_deref() == Some(hash.as_str()) {
            return Ok(false);
        }
        if self.exists == Some(false) {
            self.create().await?;
        }
        let body = Patch::Apply(status_body(&self.node, status));
        let written = match self.api.patch_status(&self.node, &self.params, &body).await {
            Err(kube::Error::Api(s)) if s.is_not_found() => {
                // Deleted behind the agent's back (or never created): create it, then the status.
                self.create().await?;
                self.api
                    .patch_status(&self.node, &self.params, &body)
                    .await?
            }
            other => other?,
        };
        self.exists = Some(true);
        self.uid = written.metadata.uid.clone();
        self.last_hash = Some(hash);
        Ok(true)
    }

    async fn create(&mut self) -> Result<(), kube::Error> {
        let o = self
            .api
            .patch(
                &self.node,
                &self.params,
                &Patch::Apply(create_body(&self.node)),
            )
            .await?;
        self.exists = Some(true);
        self.uid = o.metadata.uid;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumber_render::node::TemplateRef;

    fn record(result: Outcome, time: u64, digest: &str) -> Record {
        Record {
            templates: vec![TemplateRef {
                name: "t".into(),
                priority: 0,
                generation: Some(1),
            }],
            digest: digest.into(),
            ..Record::new(result, time)
        }
    }

    #[test]
    fn the_hash_follows_the_content_and_survives_a_round_trip() {
        let mut s = HostNetworkStatus {
            last_apply: Some(last_apply(&record(Outcome::Applied, 1_800_000_000, "d"))),
            ..Default::default()
        };
        let h1 = content_hash(&s);
        assert_eq!(h1, content_hash(&s.clone()));
        // What the server returns parses back to the same hash.
        let back: HostNetworkStatus =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(content_hash(&back), h1);
        s.last_sync_error = Some("x".into());
        assert_ne!(content_hash(&s), h1);
    }

    #[test]
    fn last_apply_keeps_the_apply_that_did_something() {
        let applied = last_apply(&record(Outcome::Applied, 100, "d"));
        // Nothing to do since: kept.
        assert_eq!(
            next_last_apply(Some(&applied), &record(Outcome::Unchanged, 200, "d")),
            applied
        );
        // A new configuration with nothing to do: the new one.
        assert_eq!(
            next_last_apply(Some(&applied), &record(Outcome::Unchanged, 200, "e")).digest,
            "e"
        );
        // The same failure twice keeps the first time; a new apply replaces it.
        let f1 = next_last_apply(Some(&applied), &record(Outcome::Refused, 300, ""));
        assert_eq!(f1.time, Time(Timestamp::from_second(300).unwrap()));
        assert_eq!(
            next_last_apply(Some(&f1), &record(Outcome::Refused, 400, "")),
            f1
        );
        let a2 = next_last_apply(Some(&f1), &record(Outcome::Applied, 500, "d"));
        assert_eq!(a2.result, ApplyResult::Applied);
    }
}
