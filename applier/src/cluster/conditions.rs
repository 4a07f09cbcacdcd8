//! What the agent and the rollup share of status conditions: a condition as wanted ([`Want`]) and
//! [`update`], which sets wanted conditions on the current ones keeping `lastTransitionTime` unless the
//! status changed. The agent's conditions come from a reconcile verdict (`agent/conditions.rs`), the
//! rollup's from its tallies (`rollup/compute.rs`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::cluster::crd::{AVAILABLE, DEGRADED, PROGRESSING};

/// The longest condition message published (the API allows 32768 bytes; a status stays readable).
pub(crate) const MAX_MESSAGE: usize = 4096;

/// One condition as wanted, before its transition time is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Want {
    pub(crate) type_: &'static str,
    pub(crate) status: bool,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

impl Want {
    pub(crate) fn new(
        type_: &'static str,
        status: bool,
        reason: &'static str,
        message: String,
    ) -> Want {
        Want {
            type_,
            status,
            reason,
            message,
        }
    }
}

/// `current` with `wants` set: a condition whose status is unchanged keeps its `lastTransitionTime`,
/// one that is new or changed status gets `now`. Conditions not in `wants` are kept; the result is
/// ordered Available, Progressing, Degraded, then any others as they were.
pub(crate) fn update(current: &[Condition], wants: &[Want], now: &Time) -> Vec<Condition> {
    let mut out: Vec<Condition> = current.to_vec();
    for w in wants {
        let status = if w.status { "True" } else { "False" };
        let message = truncate(&w.message);
        match out.iter_mut().find(|c| c.type_ == w.type_) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = now.clone();
                    c.status = status.to_string();
                }
                c.reason = w.reason.to_string();
                c.message = message;
            }
            None => out.push(Condition {
                type_: w.type_.to_string(),
                status: status.to_string(),
                reason: w.reason.to_string(),
                message,
                last_transition_time: now.clone(),
                observed_generation: None,
            }),
        }
    }
    let rank = |t: &str| match t {
        AVAILABLE => 0,
        PROGRESSING => 1,
        DEGRADED => 2,
        _ => 3,
    };
    out.sort_by_key(|c| rank(&c.type_));
    out
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
