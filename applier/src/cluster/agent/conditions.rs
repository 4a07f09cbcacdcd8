//! The `HostNetwork` conditions, from what a reconcile found (pure).
//!
//! | verdict | Available | Progressing | Degraded |
//! |---|---|---|---|
//! | applying a new set of templates | (kept) | True `Applying` | (kept) |
//! | applied, or nothing to do | True `Applied` (`NoTemplates` when none select the node) | False `Reconciled` | False `AsExpected` |
//! | applied, entries for devices the node lacks left out (best effort) | True `PartiallyApplied` (naming them) | False `Reconciled` | False `AsExpected` |
//! | refused by the applier | False `ApplyRefused` | False | True `ApplyRefused` |
//! | failed and rolled back | False `RolledBack` | False | True `RolledBack` |
//! | rolled back: the connectivity guard's probes no longer answered | False `ConnectivityLost` | False | True `ConnectivityLost` |
//! | failed, rollback failed too | False `RollbackFailed` | False | True `RollbackFailed` |
//! | templates conflict (nothing applied) | False `TemplateConflict` | False | True `TemplateConflict` |
//! | a template is invalid (nothing applied) | False `InvalidTemplate` | False | True `InvalidTemplate` |
//! | waiting for a rollout slot (`maxUnavailable`; nothing applied) | (kept) | True `WaitingForRollout` | (kept) |
//!
//! `lastTransitionTime` changes only when a condition's status does; reason and message follow the
//! latest verdict.

use super::reconcile::Verdict;
use crate::cluster::conditions::Want;
use crate::cluster::crd::{AVAILABLE, DEGRADED, PROGRESSING};
use crate::node::apply::Outcome;

/// The reason of an apply rolled back because the connectivity guard's probes no longer answered.
pub(crate) const CONNECTIVITY_LOST: &str = "ConnectivityLost";

/// The reason of an apply that left out entries for devices the node does not have (best effort).
const PARTIALLY_APPLIED: &str = "PartiallyApplied";

/// What an apply left out (best effort): the entries of its record's `skipped`.
pub(crate) fn skipped(v: &Verdict) -> &[plumber_render::node::Skipped] {
    match v {
        Verdict::Done(r) if matches!(r.outcome, Outcome::Applied | Outcome::Unchanged) => r
            .record
            .as_ref()
            .map(|rec| rec.skipped.as_slice())
            .unwrap_or_default(),
        _ => &[],
    }
}

/// `template a spec.sriovConfig[0] (pfName x): matches no PCI NIC of this node; ...`
pub(crate) fn skipped_text(v: &Verdict) -> String {
    skipped(v)
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether the connectivity guard rolled the apply back.
pub(crate) fn connectivity_lost(r: &super::reconcile::Report) -> bool {
    r.record
        .as_ref()
        .is_some_and(|rec| rec.connectivity_lost.is_some())
}

/// The reason a verdict fails for, and its message; `None` when the node matches its templates.
pub(crate) fn failure(v: &Verdict) -> Option<(&'static str, String)> {
    match v {
        Verdict::Done(r) => {
            let reason = match r.outcome {
                Outcome::Applied | Outcome::Unchanged => return None,
                Outcome::Refused => "ApplyRefused",
                Outcome::RolledBack if connectivity_lost(r) => CONNECTIVITY_LOST,
                Outcome::RolledBack => "RolledBack",
                Outcome::RollbackFailed => "RollbackFailed",
            };
            let msg = r
                .error
                .clone()
                .unwrap_or_else(|| format!("the apply ended {reason}"));
            Some((reason, msg))
        }
        Verdict::Conflict(c) => Some((
            "TemplateConflict",
            format!(
                "nothing was applied: {}",
                c.iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
        Verdict::Invalid(m) => Some(("InvalidTemplate", format!("nothing was applied: {m}"))),
        Verdict::Waiting(_) => None,
    }
}

/// The three conditions after `v`.
pub(crate) fn after(v: &Verdict) -> Vec<Want> {
    if let Verdict::Waiting(m) = v {
        // The node keeps what it has: only Progressing says why nothing moves.
        return vec![Want::new(PROGRESSING, true, "WaitingForRollout", m.clone())];
    }
    match failure(v) {
        None => {
            let names = v.template_names();
            let (reason, msg) = if names.is_empty() {
                (
                    "NoTemplates",
                    "no HostNetworkTemplate selects this node".to_string(),
                )
            } else if !skipped(v).is_empty() {
                (
                    PARTIALLY_APPLIED,
                    format!(
                        "the node matches templates {} except what it has no device for (skipped, best effort): {}",
                        names.join(", "),
                        skipped_text(v)
                    ),
                )
            } else {
                (
                    "Applied",
                    format!("the node matches templates {}", names.join(", ")),
                )
            };
            vec![
                Want::new(AVAILABLE, true, reason, msg),
                Want::new(
                    PROGRESSING,
                    false,
                    "Reconciled",
                    "no apply in progress".into(),
                ),
                Want::new(
                    DEGRADED,
                    false,
                    "AsExpected",
                    "the last apply succeeded".into(),
                ),
            ]
        }
        Some((reason, msg)) => vec![
            Want::new(AVAILABLE, false, reason, msg.clone()),
            Want::new(
                PROGRESSING,
                false,
                "Reconciled",
                "no apply in progress".into(),
            ),
            Want::new(DEGRADED, true, reason, msg),
        ],
    }
}

/// The condition that says an apply of `templates` is under way (the others are kept).
pub(crate) fn applying(templates: &[String]) -> Vec<Want> {
    vec![Want::new(
        PROGRESSING,
        true,
        "Applying",
        if templates.is_empty() {
            "letting go of what no template names any more".into()
        } else {
            format!("applying templates {}", templates.join(", "))
        },
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::agent::reconcile::Report;
    use crate::cluster::conditions::{update, MAX_MESSAGE};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;

    fn t(s: i64) -> Time {
        Time(Timestamp::from_second(s).unwrap())
    }

    fn done(outcome: Outcome, error: Option<&str>) -> Verdict {
        Verdict::Done(Report {
            outcome,
            record: None,
            error: error.map(str::to_string),
            conflicts: vec![],
            templates: vec!["a".into()],
        })
    }

    fn get<'c>(c: &'c [Condition], t: &str) -> &'c Condition {
        c.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn success_then_failure_then_another_failure() {
        let c1 = update(&[], &after(&done(Outcome::Applied, None)), &t(100));
        assert_eq!(
            c1.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(),
            [AVAILABLE, PROGRESSING, DEGRADED]
        );
        assert_eq!(get(&c1, AVAILABLE).status, "True");
        assert_eq!(get(&c1, AVAILABLE).reason, "Applied");
        assert_eq!(get(&c1, DEGRADED).status, "False");
        assert!(c1.iter().all(|c| c.last_transition_time == t(100)));

        // The same verdict later: nothing moves.
        let same = update(&c1, &after(&done(Outcome::Unchanged, None)), &t(200));
        assert_eq!(same, c1);

        let c2 = update(
            &c1,
            &after(&done(Outcome::RolledBack, Some("x failed"))),
            &t(300),
        );
        assert_eq!(get(&c2, DEGRADED).status, "True");
        assert_eq!(get(&c2, DEGRADED).reason, "RolledBack");
        assert_eq!(get(&c2, DEGRADED).message, "x failed");
        assert_eq!(get(&c2, DEGRADED).last_transition_time, t(300));
        assert_eq!(get(&c2, AVAILABLE).last_transition_time, t(300));
        // Progressing stayed False: its time is kept.
        assert_eq!(get(&c2, PROGRESSING).last_transition_time, t(100));

        // Another failure: reason and message change, the transition time does not.
        let c3 = update(
            &c2,
            &after(&done(Outcome::Refused, Some("no eno9"))),
            &t(400),
        );
        assert_eq!(get(&c3, DEGRADED).reason, "ApplyRefused");
        assert_eq!(get(&c3, DEGRADED).message, "no eno9");
        assert_eq!(get(&c3, DEGRADED).last_transition_time, t(300));
    }

    #[test]
    fn applying_touches_only_progressing() {
        let c1 = update(&[], &after(&done(Outcome::Applied, None)), &t(100));
        let c2 = update(&c1, &applying(&["a".into(), "b".into()]), &t(150));
        assert_eq!(get(&c2, PROGRESSING).status, "True");
        assert_eq!(get(&c2, PROGRESSING).message, "applying templates a, b");
        assert_eq!(get(&c2, PROGRESSING).last_transition_time, t(150));
        assert_eq!(get(&c2, AVAILABLE), get(&c1, AVAILABLE));
        let c3 = update(&c2, &after(&done(Outcome::Applied, None)), &t(160));
        assert_eq!(get(&c3, PROGRESSING).status, "False");
        assert_eq!(get(&c3, PROGRESSING).last_transition_time, t(160));
    }

    #[test]
    fn skipped_entries_are_available_partially_applied_and_not_degraded() {
        let entry = plumber_render::node::Skipped {
            template: "fleet".into(),
            path: "spec.sriovConfig[0]".into(),
            selector: "pfName ens9f0".into(),
            reason: "matches no PCI NIC of this node".into(),
        };
        let v = |outcome| {
            Verdict::Done(Report {
                outcome,
                record: Some(crate::node::apply::Record {
                    digest: "d".into(),
                    skipped: vec![entry.clone()],
                    ..crate::node::apply::Record::new(outcome, 1)
                }),
                error: None,
                conflicts: vec![],
                templates: vec!["fleet".into()],
            })
        };
        let c = update(&[], &after(&v(Outcome::Applied)), &t(1));
        assert_eq!(get(&c, AVAILABLE).status, "True");
        assert_eq!(get(&c, AVAILABLE).reason, PARTIALLY_APPLIED);
        assert_eq!(
            get(&c, AVAILABLE).message,
            "the node matches templates fleet except what it has no device for (skipped, best effort): \
             template fleet spec.sriovConfig[0] (pfName ens9f0): matches no PCI NIC of this node"
        );
        assert_eq!(get(&c, DEGRADED).status, "False");
        // Nothing to do the next time: still said.
        let same = update(&c, &after(&v(Outcome::Unchanged)), &t(2));
        assert_eq!(same, c);
        // A refusal does not list what an apply would have skipped.
        assert!(skipped(&v(Outcome::Refused)).is_empty());
    }

    #[test]
    fn no_templates_is_available_and_long_messages_are_cut() {
        let v = Verdict::Done(Report {
            outcome: Outcome::Unchanged,
            record: None,
            error: None,
            conflicts: vec![],
            templates: vec![],
        });
        let c = update(&[], &after(&v), &t(1));
        assert_eq!(get(&c, AVAILABLE).reason, "NoTemplates");
        let long = "é".repeat(5000);
        let c = update(&[], &after(&Verdict::Invalid(long)), &t(1));
        assert!(get(&c, DEGRADED).message.len() <= MAX_MESSAGE);
        assert!(get(&c, DEGRADED).message.ends_with("..."));
    }
}
