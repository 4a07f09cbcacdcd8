//! One template's status from the nodes and their reports (pure: no client, no clock of its own).
//!
//! A node the template's nodeSelector matches is exactly one of:
//!
//! * **applied**: its `HostNetwork` lists the template at the template's current generation in
//!   `appliedTemplates` (the templates of its last successful apply) and its `Available` is True;
//! * **failed**: not applied, and its `Degraded` is True (the agent applies all of a node's templates as
//!   one transaction: a node whose apply failed has not got this generation either, whichever of its
//!   templates was at fault);
//! * **pending**: neither (the agent has not applied this generation yet, or the node has no
//!   `HostNetwork` yet).
//!
//! | condition | True when | reasons |
//! |---|---|---|
//! | `Available` | every matched node applied (also when none matched) | `AllNodesApplied`, `NoNodesMatched` / `NodesPending`, `NodesFailed` |
//! | `Progressing` | some matched node is pending | `NodesPending` / `Settled` |
//! | `Degraded` | some matched node failed | `NodesFailed` / `AsExpected` |
//!
//! `lastTransitionTime` is kept from the previous status unless the condition's status changed
//! ([`crate::cluster::conditions::update`]); every condition carries the template's generation as its
//! `observedGeneration`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use plumber_render::select::Labels;

use crate::cluster::conditions::{self, Want};
use crate::cluster::crd::{
    ApplyResult, HostNetworkTemplateStatus, AVAILABLE, DEGRADED, MAX_FAILED_NODES, PROGRESSING,
};

/// The failed nodes the `Degraded` message names (the rest are counted).
const NAMED_IN_MESSAGE: usize = 5;

/// The longest Degraded detail kept per node (the first line of its message), in bytes.
const MAX_DETAIL: usize = 200;

/// What the rollup needs of a template.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Template {
    pub(crate) name: String,
    /// `metadata.generation` (`None` only for objects that never came from an API server).
    pub(crate) generation: Option<i64>,
    /// `spec.nodeSelector`: every pair must be among a node's labels; empty selects every node.
    pub(crate) selector: Labels,
    /// What the renderer says is wrong with the template itself, whatever the nodes report (a
    /// `nodeSelector` key no Node can carry selects none of them, so none would say it).
    pub(crate) invalid: Option<String>,
}

impl Template {
    /// Whether the template selects a node labelled `labels` (the renderer's rule, which the agent
    /// uses, on the selector alone).
    fn selects(&self, labels: &Labels) -> bool {
        plumber_render::select::matches(&self.selector, labels)
    }
}

/// What the rollup keeps of a node's `HostNetwork` status: a few hundred bytes instead of the whole
/// discovered state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeReport {
    /// `appliedTemplates`: name → generation, of the last successful apply.
    applied: BTreeMap<String, Option<i64>>,
    /// `lastApply.result` (`None`: no apply yet, or a result this build does not know).
    pub(crate) last_apply: Option<ApplyResult>,
    /// `Available` is True.
    available: bool,
    /// `Degraded` is True.
    degraded: bool,
    /// The `Degraded` condition's reason (when it is True).
    degraded_reason: String,
    /// The first line of the `Degraded` condition's message, at most [`MAX_DETAIL`] bytes (when True).
    degraded_message: String,
}

impl NodeReport {
    /// From the parts of a `HostNetwork` status the rollup reads (its view of a `HostNetwork` calls
    /// this: [`HostNetworkView::report`](super::HostNetworkView::report)).
    pub(crate) fn new<'a>(
        applied: impl IntoIterator<Item = (&'a str, Option<i64>)>,
        last_apply: Option<ApplyResult>,
        conditions: impl IntoIterator<Item = (&'a str, &'a str, &'a str, &'a str)>,
    ) -> NodeReport {
        let mut r = NodeReport {
            applied: applied
                .into_iter()
                .map(|(n, g)| (n.to_string(), g))
                .collect(),
            last_apply,
            ..NodeReport::default()
        };
        for (type_, status, reason, message) in conditions {
            let on = status == "True";
            match type_ {
                AVAILABLE => r.available = on,
                DEGRADED => {
                    r.degraded = on;
                    if on {
                        r.degraded_reason = reason.to_string();
                        r.degraded_message = first_line(message, MAX_DETAIL);
                    }
                }
                _ => {}
            }
        }
        r
    }

    /// Whether the node has `name` at `generation` and is Available.
    pub fn has_applied(&self, name: &str, generation: Option<i64>) -> bool {
        self.available && self.applied.get(name) == Some(&generation)
    }

    /// Why the node failed, for the Degraded message: `Reason: first line`.
    fn detail(&self) -> String {
        let reason = if !self.degraded_reason.is_empty() {
            self.degraded_reason.clone()
        } else {
            match self.last_apply {
                Some(r) => serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                None => String::new(),
            }
        };
        match (reason.is_empty(), self.degraded_message.is_empty()) {
            (true, true) => "Degraded".to_string(),
            (false, true) => reason,
            (true, false) => self.degraded_message.clone(),
            (false, false) => format!("{reason}: {}", self.degraded_message),
        }
    }
}

/// The first line of `s`, cut to at most `max` bytes (on a character boundary, `...` marking a cut).
fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("").trim_end();
    if line.len() <= max {
        return line.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &line[..end])
}

/// The counts, before conditions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Tally {
    matched: usize,
    applied: usize,
    /// The failed nodes, sorted, with their details.
    failed: Vec<(String, String)>,
    pending: usize,
    /// Of the pending nodes, those with no `HostNetwork` at all.
    unreported: usize,
}

/// Sorts the matched nodes of `t` into applied, failed and pending.
fn tally(
    t: &Template,
    nodes: &BTreeMap<String, Labels>,
    reports: &BTreeMap<String, NodeReport>,
) -> Tally {
    let mut out = Tally::default();
    // BTreeMap order: the failed nodes come out sorted.
    for (node, labels) in nodes {
        if !t.selects(labels) {
            continue;
        }
        out.matched += 1;
        match reports.get(node) {
            Some(r) if r.has_applied(&t.name, t.generation) => out.applied += 1,
            Some(r) if r.degraded => out.failed.push((node.clone(), r.detail())),
            Some(_) => out.pending += 1,
            None => {
                out.pending += 1;
                out.unreported += 1;
            }
        }
    }
    out
}

/// The status of `t` given the nodes (name → labels) and their reports (node name → report), keeping
/// the transition times of `previous` where a condition's status did not change (`now` otherwise).
pub(crate) fn compute(
    t: &Template,
    nodes: &BTreeMap<String, Labels>,
    reports: &BTreeMap<String, NodeReport>,
    previous: Option<&HostNetworkTemplateStatus>,
    now: &Time,
) -> HostNetworkTemplateStatus {
    let tally = tally(t, nodes, reports);
    let wants = wants(t, &tally);
    let previous_conditions = previous.map(|p| p.conditions.as_slice()).unwrap_or(&[]);
    let mut conditions = conditions::update(previous_conditions, &wants, now);
    for c in &mut conditions {
        if wants.iter().any(|w| w.type_ == c.type_) {
            c.observed_generation = t.generation;
        }
    }
    HostNetworkTemplateStatus {
        observed_generation: t.generation,
        nodes_matched: count(tally.matched),
        nodes_applied: count(tally.applied),
        nodes_failed: count(tally.failed.len()),
        failed_nodes: tally
            .failed
            .iter()
            .take(MAX_FAILED_NODES)
            .map(|(n, _)| n.clone())
            .collect(),
        conditions,
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// "1 matched node", "4 matched nodes".
fn matched(n: usize) -> String {
    if n == 1 {
        "1 matched node".to_string()
    } else {
        format!("{n} matched nodes")
    }
}

fn generation(t: &Template) -> String {
    match t.generation {
        Some(g) => format!("generation {g}"),
        None => "the template".to_string(),
    }
}

/// The three conditions for a tally.
fn wants(t: &Template, c: &Tally) -> Vec<Want> {
    let generation = generation(t);
    let failed = c.failed.len();
    let available = if let (Some(why), 0) = (&t.invalid, c.matched) {
        Want {
            type_: AVAILABLE,
            status: false,
            reason: "InvalidTemplate",
            message: why.clone(),
        }
    } else if c.matched == 0 {
        Want {
            type_: AVAILABLE,
            status: true,
            reason: "NoNodesMatched",
            message: "no node matches the nodeSelector".to_string(),
        }
    } else if c.applied == c.matched {
        Want {
            type_: AVAILABLE,
            status: true,
            reason: "AllNodesApplied",
            message: format!(
                "{0} of {1} applied {generation}",
                c.applied,
                matched(c.matched)
            ),
        }
    } else {
        Want {
            type_: AVAILABLE,
            status: false,
            reason: if failed > 0 {
                "NodesFailed"
            } else {
                "NodesPending"
            },
            message: format!(
                "{} of {} applied {generation} ({failed} failed, {} pending)",
                c.applied,
                matched(c.matched),
                c.pending
            ),
        }
    };
    let progressing = if c.pending > 0 {
        let unreported = match c.unreported {
            0 => String::new(),
            1 => " (1 has no HostNetwork yet)".to_string(),
            n => format!(" ({n} have no HostNetwork yet)"),
        };
        Want {
            type_: PROGRESSING,
            status: true,
            reason: "NodesPending",
            message: format!(
                "{} of {} {} not applied {generation} yet{unreported}",
                c.pending,
                matched(c.matched),
                if c.pending == 1 { "has" } else { "have" },
            ),
        }
    } else {
        Want {
            type_: PROGRESSING,
            status: false,
            reason: "Settled",
            message: "no matched node is pending".to_string(),
        }
    };
    let degraded = if let Some(why) = &t.invalid {
        Want {
            type_: DEGRADED,
            status: true,
            reason: "InvalidTemplate",
            message: why.clone(),
        }
    } else if failed > 0 {
        let mut named: Vec<String> = c
            .failed
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|(n, d)| format!("{n} ({d})"))
            .collect();
        if failed > NAMED_IN_MESSAGE {
            named.push(format!("and {} more", failed - NAMED_IN_MESSAGE));
        }
        Want {
            type_: DEGRADED,
            status: true,
            reason: "NodesFailed",
            message: format!(
                "{} of {} failed: {}",
                failed,
                matched(c.matched),
                named.join("; ")
            ),
        }
    } else {
        Want {
            type_: DEGRADED,
            status: false,
            reason: "AsExpected",
            message: "no matched node failed".to_string(),
        }
    };
    vec![available, progressing, degraded]
}

/// Whether two statuses say the same: the counts, the failed nodes as a set, and the conditions by
/// type (status, reason, message, observedGeneration, lastTransitionTime), whatever their order.
pub(crate) fn same(a: &HostNetworkTemplateStatus, b: &HostNetworkTemplateStatus) -> bool {
    fn sorted<T: Clone + Ord>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    fn by_type(c: &[Condition]) -> BTreeMap<&str, &Condition> {
        c.iter().map(|c| (c.type_.as_str(), c)).collect()
    }
    a.observed_generation == b.observed_generation
        && a.nodes_matched == b.nodes_matched
        && a.nodes_applied == b.nodes_applied
        && a.nodes_failed == b.nodes_failed
        && sorted(&a.failed_nodes) == sorted(&b.failed_nodes)
        && a.conditions.len() == b.conditions.len()
        && by_type(&a.conditions) == by_type(&b.conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn t(s: i64) -> Time {
        Time(Timestamp::from_second(s).unwrap())
    }

    fn labels(s: &str) -> Labels {
        plumber_render::select::parse_labels(s).unwrap()
    }

    fn template(generation: i64, selector: &str) -> Template {
        Template {
            name: "jumbo".into(),
            generation: Some(generation),
            selector: labels(selector),
            invalid: None,
        }
    }

    fn ok(applied: &[(&str, i64)]) -> NodeReport {
        NodeReport::new(
            applied.iter().map(|(n, g)| (*n, Some(*g))),
            Some(ApplyResult::Applied),
            [
                (AVAILABLE, "True", "Applied", "the node matches"),
                (PROGRESSING, "False", "Reconciled", ""),
                (DEGRADED, "False", "AsExpected", ""),
            ],
        )
    }

    fn failed(applied: &[(&str, i64)], reason: &str, message: &str) -> NodeReport {
        NodeReport::new(
            applied.iter().map(|(n, g)| (*n, Some(*g))),
            Some(ApplyResult::RolledBack),
            [
                (AVAILABLE, "False", reason, message),
                (DEGRADED, "True", reason, message),
            ],
        )
    }

    fn get<'c>(s: &'c HostNetworkTemplateStatus, ty: &str) -> &'c Condition {
        s.conditions.iter().find(|c| c.type_ == ty).unwrap()
    }

    /// node-0..n labelled rack=r1 (odd ones also rack=r2 instead, unmatched by rack=r1).
    fn fleet(n: usize) -> BTreeMap<String, Labels> {
        (0..n)
            .map(|i| {
                let rack = if i % 2 == 0 { "r1" } else { "r2" };
                (format!("node-{i:02}"), labels(&format!("rack={rack}")))
            })
            .collect()
    }

    #[test]
    fn counts_applied_failed_and_pending() {
        let nodes = fleet(8); // node-00, 02, 04, 06 in r1
        let mut reports = BTreeMap::new();
        reports.insert("node-00".to_string(), ok(&[("jumbo", 3), ("other", 1)]));
        // Applied, but an older generation: pending.
        reports.insert("node-02".to_string(), ok(&[("jumbo", 2)]));
        // Failed (the last successful apply had generation 2).
        reports.insert(
            "node-04".to_string(),
            failed(&[("jumbo", 2)], "RolledBack", "eno9: no such device\nmore"),
        );
        // node-06: no HostNetwork yet. node-01 (r2) applied, but is not matched.
        reports.insert("node-01".to_string(), ok(&[("jumbo", 3)]));
        let tpl = template(3, "rack=r1");
        let s = compute(&tpl, &nodes, &reports, None, &t(100));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(
            (s.nodes_matched, s.nodes_applied, s.nodes_failed),
            (4, 1, 1)
        );
        assert_eq!(s.failed_nodes, ["node-04"]);

        let a = get(&s, AVAILABLE);
        assert_eq!(
            (a.status.as_str(), a.reason.as_str()),
            ("False", "NodesFailed")
        );
        assert_eq!(
            a.message,
            "1 of 4 matched nodes applied generation 3 (1 failed, 2 pending)"
        );
        let p = get(&s, PROGRESSING);
        assert_eq!(
            (p.status.as_str(), p.reason.as_str()),
            ("True", "NodesPending")
        );
        assert_eq!(
            p.message,
            "2 of 4 matched nodes have not applied generation 3 yet (1 has no HostNetwork yet)"
        );
        let d = get(&s, DEGRADED);
        assert_eq!(
            (d.status.as_str(), d.reason.as_str()),
            ("True", "NodesFailed")
        );
        assert_eq!(
            d.message,
            "1 of 4 matched nodes failed: node-04 (RolledBack: eno9: no such device)"
        );
        assert!(s
            .conditions
            .iter()
            .all(|c| c.observed_generation == Some(3) && c.last_transition_time == t(100)));
        assert_eq!(
            s.conditions
                .iter()
                .map(|c| c.type_.as_str())
                .collect::<Vec<_>>(),
            [AVAILABLE, PROGRESSING, DEGRADED]
        );
    }

    #[test]
    fn available_needs_the_condition_as_well_as_the_generation() {
        let nodes = fleet(1);
        let mut r = ok(&[("jumbo", 3)]);
        r.available = false; // e.g. a drift repair that failed without Degraded yet
        let reports = BTreeMap::from([("node-00".to_string(), r)]);
        let s = compute(&template(3, ""), &nodes, &reports, None, &t(1));
        assert_eq!(
            (s.nodes_matched, s.nodes_applied, s.nodes_failed),
            (1, 0, 0)
        );
        assert_eq!(get(&s, PROGRESSING).status, "True");
    }

    #[test]
    fn a_template_the_renderer_refuses_is_degraded_even_when_no_node_says_so() {
        let nodes = fleet(4);
        let mut tpl = template(2, "no-such=label");
        tpl.invalid = Some("spec.nodeSelector.Bad Key: …".into());
        let s = compute(&tpl, &nodes, &BTreeMap::new(), None, &t(1));
        assert_eq!(s.nodes_matched, 0);
        assert_eq!(
            (
                get(&s, AVAILABLE).status.as_str(),
                get(&s, AVAILABLE).reason.as_str()
            ),
            ("False", "InvalidTemplate")
        );
        assert_eq!(
            (
                get(&s, DEGRADED).status.as_str(),
                get(&s, DEGRADED).reason.as_str()
            ),
            ("True", "InvalidTemplate")
        );
        assert_eq!(get(&s, DEGRADED).message, "spec.nodeSelector.Bad Key: …");
        // Selecting nodes, it says the same, and the nodes' own reports are counted as ever.
        tpl.selector = Labels::new();
        let s = compute(&tpl, &nodes, &BTreeMap::new(), None, &t(1));
        assert_eq!(s.nodes_matched, 4);
        assert_eq!(get(&s, DEGRADED).reason, "InvalidTemplate");
    }

    #[test]
    fn all_applied_and_none_matched_are_available() {
        let nodes = fleet(4);
        let reports: BTreeMap<String, NodeReport> = nodes
            .keys()
            .map(|n| (n.clone(), ok(&[("jumbo", 7)])))
            .collect();
        let s = compute(&template(7, ""), &nodes, &reports, None, &t(1));
        assert_eq!(
            (s.nodes_matched, s.nodes_applied, s.nodes_failed),
            (4, 4, 0)
        );
        assert_eq!(get(&s, AVAILABLE).reason, "AllNodesApplied");
        assert_eq!(
            get(&s, AVAILABLE).message,
            "4 of 4 matched nodes applied generation 7"
        );
        assert_eq!(get(&s, PROGRESSING).status, "False");
        assert_eq!(get(&s, DEGRADED).status, "False");
        assert!(s.failed_nodes.is_empty());

        let s = compute(&template(7, "rack=nowhere"), &nodes, &reports, None, &t(1));
        assert_eq!(s.nodes_matched, 0);
        assert_eq!(get(&s, AVAILABLE).status, "True");
        assert_eq!(get(&s, AVAILABLE).reason, "NoNodesMatched");
    }

    #[test]
    fn failed_nodes_are_sorted_and_capped() {
        // 100 failing nodes, inserted in reverse: listed sorted, 64 of them; counted all.
        let mut nodes = BTreeMap::new();
        let mut reports = BTreeMap::new();
        for i in (0..100).rev() {
            let n = format!("w{i:03}");
            nodes.insert(n.clone(), Labels::new());
            reports.insert(n, failed(&[], "ApplyRefused", "no eno9"));
        }
        let s = compute(&template(1, ""), &nodes, &reports, None, &t(1));
        assert_eq!(s.nodes_failed, 100);
        assert_eq!(s.failed_nodes.len(), MAX_FAILED_NODES);
        assert_eq!(s.failed_nodes[0], "w000");
        assert_eq!(s.failed_nodes[63], "w063");
        let d = get(&s, DEGRADED);
        assert_eq!(
            d.message,
            "100 of 100 matched nodes failed: w000 (ApplyRefused: no eno9); w001 (ApplyRefused: no eno9); \
             w002 (ApplyRefused: no eno9); w003 (ApplyRefused: no eno9); w004 (ApplyRefused: no eno9); \
             and 95 more"
        );
    }

    #[test]
    fn transition_times_are_kept_while_statuses_hold() {
        let nodes = fleet(2); // node-00 (r1), node-01 (r2)
        let tpl = template(1, "");
        let mut reports = BTreeMap::from([("node-00".to_string(), ok(&[("jumbo", 1)]))]);
        let s1 = compute(&tpl, &nodes, &reports, None, &t(100));
        assert_eq!(get(&s1, PROGRESSING).status, "True");

        // The same inputs later: the very same status.
        let again = compute(&tpl, &nodes, &reports, Some(&s1), &t(200));
        assert_eq!(again, s1);
        assert!(same(&again, &s1));

        // node-01 fails: Degraded flips (new time), Progressing flips (new time), Available stays
        // False (its time kept; its reason and message follow).
        reports.insert("node-01".to_string(), failed(&[], "RolledBack", "x"));
        let s2 = compute(&tpl, &nodes, &reports, Some(&s1), &t(300));
        assert_eq!(get(&s2, DEGRADED).last_transition_time, t(300));
        assert_eq!(get(&s2, PROGRESSING).last_transition_time, t(300));
        assert_eq!(get(&s2, AVAILABLE).last_transition_time, t(100));
        assert_eq!(get(&s2, AVAILABLE).reason, "NodesFailed");
        assert!(!same(&s2, &s1));

        // It recovers: Degraded back to False at 400, Available True at 400.
        reports.insert("node-01".to_string(), ok(&[("jumbo", 1)]));
        let s3 = compute(&tpl, &nodes, &reports, Some(&s2), &t(400));
        assert_eq!(get(&s3, DEGRADED).status, "False");
        assert_eq!(get(&s3, DEGRADED).last_transition_time, t(400));
        assert_eq!(get(&s3, AVAILABLE).status, "True");
        assert_eq!(get(&s3, AVAILABLE).last_transition_time, t(400));
        assert_eq!(get(&s3, PROGRESSING).last_transition_time, t(300));

        // A new generation: pending everywhere; observedGeneration follows.
        let s4 = compute(&template(2, ""), &nodes, &reports, Some(&s3), &t(500));
        assert_eq!(s4.observed_generation, Some(2));
        assert_eq!((s4.nodes_matched, s4.nodes_applied), (2, 0));
        assert!(s4
            .conditions
            .iter()
            .all(|c| c.observed_generation == Some(2)));
        assert_eq!(get(&s4, DEGRADED).last_transition_time, t(400));
    }

    #[test]
    fn same_ignores_order_only() {
        let nodes = fleet(4);
        let reports: BTreeMap<String, NodeReport> = nodes
            .keys()
            .map(|n| (n.clone(), failed(&[], "RolledBack", "x")))
            .collect();
        let s = compute(&template(1, ""), &nodes, &reports, None, &t(1));
        let mut shuffled = s.clone();
        shuffled.conditions.reverse();
        shuffled.failed_nodes.reverse();
        assert!(same(&s, &shuffled));
        // A round trip through JSON (what the server returns) is the same.
        let back: HostNetworkTemplateStatus =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert!(same(&s, &back));
        let mut other = s.clone();
        other.conditions[0].message.push('!');
        assert!(!same(&s, &other));
        let mut other = s.clone();
        other.nodes_applied += 1;
        assert!(!same(&s, &other));
    }

    #[test]
    fn reports_keep_only_the_first_line_of_degraded_and_agree_with_the_typed_status() {
        let long = format!("{}\nsecond line", "é".repeat(300));
        let r = failed(&[("a", 1)], "InvalidTemplate", &long);
        assert!(r.degraded_message.len() <= MAX_DETAIL);
        assert!(r.degraded_message.ends_with("..."));
        assert!(!r.degraded_message.contains("second"));

        let status: crate::cluster::crd::HostNetworkStatus = serde_json::from_value(serde_json::json!({
            "appliedTemplates": [{"name": "a", "generation": 1}],
            "lastApply": {"result": "rolled-back", "time": "2027-01-15T08:00:00Z", "digest": "d"},
            "conditions": [
                {"type": "Available", "status": "False", "reason": "InvalidTemplate",
                 "message": long, "lastTransitionTime": "2027-01-15T08:00:00Z"},
                {"type": "Degraded", "status": "True", "reason": "InvalidTemplate",
                 "message": long, "lastTransitionTime": "2027-01-15T08:00:00Z"}
            ]
        }))
        .unwrap();
        // The rollup reads the agent's typed status through its own view of a HostNetwork.
        let view: super::super::HostNetworkView =
            serde_json::from_value(serde_json::json!({ "status": status })).unwrap();
        assert_eq!(view.report(), r);
    }

    #[test]
    fn selection_agrees_with_the_renderer() {
        use crate::cluster::crd::{HostNetworkTemplate, HostNetworkTemplateSpec};
        for (selector, node) in [
            ("", ""),
            ("", "a=1"),
            ("a=1", "a=1,b=2"),
            ("a=1,b=2", "a=1"),
            ("a=1", "a=2"),
            ("a=", "a="),
            ("a=", ""),
        ] {
            let tpl = template(1, selector);
            let spec = plumber_render::model::TemplateSpec {
                node_selector: tpl.selector.clone(),
                ..Default::default()
            };
            let obj = HostNetworkTemplate::new("jumbo", HostNetworkTemplateSpec(spec));
            let loaded = crate::cluster::crd::TemplateObject::from(&obj)
                .to_loaded()
                .unwrap();
            assert_eq!(
                tpl.selects(&labels(node)),
                plumber_render::select::selects(&loaded, &labels(node)),
                "{selector} on {node}"
            );
        }
    }
}
