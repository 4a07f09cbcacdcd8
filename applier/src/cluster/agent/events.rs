//! Kubernetes Events on the node's `HostNetwork` (events.k8s.io/v1, in `default`, as for every
//! cluster-scoped object): `Applied` when an apply changed the node, `ApplyFailed` when it was refused
//! or its rollback failed, `RolledBack` when it failed and was undone (`ConnectivityLost` when the
//! connectivity guard's probes no longer answered after the changes), `Conflict` when templates
//! disagree or one is invalid; `Skipped` (a warning) besides when an apply left out template entries
//! for devices the node does not have (best effort), once for each different list. A warning is posted when it differs from the last one (a conflict that
//! stays is not re-posted at every resync); a success clears that memory.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;

use super::conditions;
use super::reconcile::Verdict;
use crate::node::apply::Outcome;

/// The reasons the agent posts.
const APPLIED: &str = "Applied";
const APPLY_FAILED: &str = "ApplyFailed";
const ROLLED_BACK: &str = "RolledBack";
const CONFLICT: &str = "Conflict";
const SKIPPED: &str = "Skipped";

/// The longest note posted (the API allows 1 kB).
const MAX_NOTE: usize = 1000;

/// `(type, reason, note)` for a verdict, `None` when there is nothing to tell (nothing changed).
fn event_for(v: &Verdict) -> Option<(EventType, &'static str, String)> {
    match v {
        Verdict::Done(r) => match r.outcome {
            Outcome::Unchanged => None,
            Outcome::Applied => {
                let (files, ops) = r
                    .record
                    .as_ref()
                    .map(|r| {
                        let files = r.lines(crate::node::apply::Stage::File).count();
                        (files, r.changes.len() - files)
                    })
                    .unwrap_or_default();
                Some((
                    EventType::Normal,
                    APPLIED,
                    format!(
                        "applied {files} file changes and {ops} runtime changes (templates: {})",
                        if r.templates.is_empty() {
                            "none".to_string()
                        } else {
                            r.templates.join(", ")
                        }
                    ),
                ))
            }
            Outcome::RolledBack if conditions::connectivity_lost(r) => Some((
                EventType::Warning,
                conditions::CONNECTIVITY_LOST,
                message(v),
            )),
            Outcome::RolledBack => Some((EventType::Warning, ROLLED_BACK, message(v))),
            Outcome::Refused | Outcome::RollbackFailed => {
                Some((EventType::Warning, APPLY_FAILED, message(v)))
            }
        },
        Verdict::Conflict(_) | Verdict::Invalid(_) => {
            Some((EventType::Warning, CONFLICT, message(v)))
        }
        // Said by the Progressing condition; an Event at every retry would be noise.
        Verdict::Waiting(_) => None,
    }
}

/// The note of the `Skipped` warning for a verdict, `None` when the apply left nothing out.
fn skipped_note(v: &Verdict) -> Option<String> {
    if conditions::skipped(v).is_empty() {
        return None;
    }
    Some(cut(format!(
        "left out, this node has no device for them (best effort: the rest is applied): {}",
        conditions::skipped_text(v)
    )))
}

fn message(v: &Verdict) -> String {
    cut(conditions::failure(v).map(|(_, m)| m).unwrap_or_default())
}

fn cut(m: String) -> String {
    if m.len() <= MAX_NOTE {
        return m;
    }
    let mut end = MAX_NOTE - 3;
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &m[..end])
}

/// Posts the agent's Events.
pub(crate) struct Events {
    recorder: Recorder,
    last_warning: Option<(String, String)>,
    /// The note of the last `Skipped` warning, while the applies keep skipping the same.
    last_skipped: Option<String>,
}

impl Events {
    pub(crate) fn new(client: Client, node: &str) -> Events {
        Events {
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: super::publish::FIELD_MANAGER.into(),
                    instance: Some(node.to_string()),
                },
            ),
            last_warning: None,
            last_skipped: None,
        }
    }

    /// Posts the Event for `v` on `regarding`, if there is one to post, then the `Skipped` warning
    /// when the apply left entries out and that list is new; returns the reason of the first posted.
    pub(crate) async fn post(
        &mut self,
        regarding: &ObjectReference,
        v: &Verdict,
    ) -> Result<Option<&'static str>, kube::Error> {
        let posted = self.post_outcome(regarding, v).await?;
        let note = skipped_note(v);
        if note.is_none() || note == self.last_skipped {
            if conditions::failure(v).is_none() {
                self.last_skipped = note;
            }
            return Ok(posted);
        }
        let ev = Event {
            type_: EventType::Warning,
            reason: SKIPPED.into(),
            note: note.clone(),
            action: "Apply".into(),
            secondary: None,
        };
        self.recorder.publish(&ev, regarding).await?;
        self.last_skipped = note;
        Ok(posted.or(Some(SKIPPED)))
    }

    async fn post_outcome(
        &mut self,
        regarding: &ObjectReference,
        v: &Verdict,
    ) -> Result<Option<&'static str>, kube::Error> {
        let Some((type_, reason, note)) = event_for(v) else {
            return Ok(None);
        };
        if type_ == EventType::Warning {
            let key = (reason.to_string(), note.clone());
            if self.last_warning.as_ref() == Some(&key) {
                return Ok(None);
            }
            self.last_warning = Some(key);
        } else {
            self.last_warning = None;
        }
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Apply".into(),
            secondary: None,
        };
        self.recorder.publish(&ev, regarding).await?;
        Ok(Some(reason))
    }

    /// Forgets the last warning (a verdict that is fine since).
    pub(crate) fn clear(&mut self) {
        self.last_warning = None;
    }
}

/// The reference of the node's `HostNetwork`.
pub(crate) fn reference(node: &str, uid: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some(plumber_render::model::API_VERSION.into()),
        kind: Some("HostNetwork".into()),
        name: Some(node.into()),
        uid,
        ..ObjectReference::default()
    }
}
