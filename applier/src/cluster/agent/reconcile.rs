//! The decision at the core of a reconcile: the cluster's templates and the node's labels → the
//! templates to apply, or why nothing may be applied (a conflict between templates, an invalid
//! template). Applying goes through [`Host`], so that the loop can be tested without root; [`NodeHost`]
//! is the real one ([`crate::node::apply::apply`]: files + runtime, verify, rollback, letting go of what no
//! template names any more).

use std::path::PathBuf;

use plumber_render::error::Conflict;
use plumber_render::inventory;
use plumber_render::parse::Loaded;
use plumber_render::select::{selects, Labels};

use crate::cluster::crd::TemplateObject;
use crate::node::apply::{self, Outcome, Record, Target};
use crate::node::Error;

/// What an apply through a [`Host`] ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub outcome: Outcome,
    /// The applier's record of it (`last-apply.json`), when it wrote one.
    pub record: Option<Record>,
    /// Why it failed or was refused.
    pub error: Option<String>,
    /// Conflicts the applier found (PF selectors resolving to the same device on this node's
    /// inventory): then nothing was applied.
    pub conflicts: Vec<Conflict>,
    /// The templates it applied, by name (filled by the agent).
    pub templates: Vec<String>,
}

/// What a reconcile decided and, if it applied, how that went. (One a pass: its size does not matter.)
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Verdict {
    /// The applier ran (see the outcome).
    Done(Report),
    /// Templates that select the node disagree: nothing was applied.
    Conflict(Vec<Conflict>),
    /// A template that selects the node is invalid: nothing was applied.
    Invalid(String),
    /// A changed template's rollout slots (`maxUnavailable`) are all held by other nodes: nothing was
    /// applied, the pass is tried again shortly. The message says by whom.
    Waiting(String),
}

impl Verdict {
    /// The templates applied, by name (none unless the applier ran).
    pub(crate) fn template_names(&self) -> Vec<String> {
        match self {
            Verdict::Done(r) => r.templates.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether the node now matches its templates.
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Done(r) if matches!(r.outcome, Outcome::Applied | Outcome::Unchanged))
    }
}

/// Where templates go: the node (real) or a fake in tests.
#[allow(async_fn_in_trait)]
pub trait Host {
    /// Apply `templates` (already selected for the node by `labels`) as one transaction.
    async fn apply(&mut self, templates: &[Loaded], labels: &Labels) -> Report;
    /// The node's discovered state, as `plumber show` prints it.
    async fn observe(&mut self) -> Result<inventory::HostNetworkStatus, String>;
}

/// What to do with the cluster's templates on this node.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decision {
    /// Apply these (sorted by name; empty: let go of everything plumber manages).
    Apply(Vec<Loaded>),
    /// Apply nothing, for this reason.
    Refuse(Verdict),
}

/// Selects the templates for a node with `labels` (templates being deleted are gone already), checks
/// them and merges them, DPDK uplinks named by interface resolved from the node's inventory (its
/// discovered `HostNetwork` status) by the rule `plumber apply` uses (also once the NIC is on
/// vfio-pci: discovery names the NICs plumber bound), the rest as without an inventory, so that a
/// template's own contradictions are refused alike on every node (SR-IOV PFs are resolved by the apply
/// on the node). A conflict or an invalid template refuses the whole apply, so nothing conflicting (nor
/// anything else) is applied and nothing is let go of.
pub(crate) fn decide(
    templates: &[&TemplateObject],
    labels: &Labels,
    inventory: Option<&inventory::HostNetwork>,
) -> Decision {
    let mut chosen: Vec<Loaded> = Vec::new();
    // Templates the API server accepted but the renderer cannot read (what OpenAPI cannot express):
    // reported by every node they may select, and nothing applied there.
    let mut unreadable: Vec<String> = Vec::new();
    for t in templates
        .iter()
        .filter(|t| t.metadata.deletion_timestamp.is_none())
    {
        match t.to_loaded() {
            Ok(l) if selects(&l, labels) => chosen.push(l),
            Ok(_) => {}
            Err(e) if t.may_select(labels) => unreadable.push(e),
            Err(_) => {}
        }
    }
    if !unreadable.is_empty() {
        unreadable.sort();
        return Decision::Refuse(Verdict::Invalid(unreadable.join("; ")));
    }
    chosen.sort_by(|a, b| a.name().cmp(b.name()));
    let invalid: Vec<String> = chosen
        .iter()
        .flat_map(plumber_render::validate::validate)
        .map(|e| e.to_string())
        .collect();
    if !invalid.is_empty() {
        return Decision::Refuse(Verdict::Invalid(invalid.join("; ")));
    }
    let refs: Vec<&Loaded> = chosen.iter().collect();
    match plumber_render::merge::merge_resolving_uplinks(&refs, inventory) {
        Ok(_) => Decision::Apply(chosen),
        Err(plumber_render::Error::Conflicts(c)) => Decision::Refuse(Verdict::Conflict(c)),
        Err(e) => Decision::Refuse(Verdict::Invalid(e.to_string())),
    }
}

/// The verdict of an apply's report: the applier's own conflicts (found on the inventory) count as a
/// conflict.
pub(crate) fn verdict(report: Report) -> Verdict {
    if report.conflicts.is_empty() {
        Verdict::Done(report)
    } else {
        Verdict::Conflict(report.conflicts)
    }
}

/// The node itself: [`apply::apply`] in the agent's network namespace (the host's) on the host's root.
pub(crate) struct NodeHost {
    pub(crate) handle: rtnetlink::Handle,
    pub(crate) target: Target,
}

impl NodeHost {
    fn state_path(&self) -> PathBuf {
        self.target.state_path()
    }
}

impl Host for NodeHost {
    async fn apply(&mut self, templates: &[Loaded], labels: &Labels) -> Report {
        // The cluster's selection is the whole truth: what no selected template names is let go.
        let prune = apply::Prune::Allowed;
        match apply::apply(&self.handle, &self.target, templates, Some(labels), prune).await {
            Ok(a) => Report {
                outcome: a.outcome,
                record: Some(a.record),
                error: None,
                conflicts: vec![],
                templates: vec![],
            },
            Err(e) => {
                let outcome = match &e {
                    Error::Apply(f) if f.rollback_failed.is_empty() => Outcome::RolledBack,
                    Error::Apply(_) => Outcome::RollbackFailed,
                    _ => Outcome::Refused,
                };
                let conflicts = match &e {
                    Error::Render(plumber_render::Error::Conflicts(c)) => c.clone(),
                    _ => vec![],
                };
                Report {
                    outcome,
                    record: apply::record::read(&self.state_path()),
                    error: Some(e.to_string()),
                    conflicts,
                    templates: vec![],
                }
            }
        }
    }

    async fn observe(&mut self) -> Result<inventory::HostNetworkStatus, String> {
        let state = crate::node::netlink::discover(&self.handle)
            .await
            .map_err(|e| e.to_string())?;
        let mut hn =
            crate::node::show::host_network(&self.target.node_name, &state, &self.target.sysfs)
                .map_err(|e| e.to_string())?;
        crate::node::show::name_bound_nics(&mut hn, &self.state_path());
        if self.target.ovsdb.reachable() {
            match crate::node::ovs::discover(&self.target.ovsdb) {
                Ok(db) => hn.status.set_ovs(crate::node::ovs::status(&db)),
                Err(e) => tracing::warn!(error = %e, "reading OVSDB for the status"),
            }
        }
        if let Err(e) = crate::node::show::set_pools(&self.target.root, &mut hn.status) {
            tracing::warn!(error = %e, "reading the device plugin's pools for the status");
        }
        Ok(hn.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(name: &str, spec: &str) -> TemplateObject {
        let spec: plumber_render::model::TemplateSpec = serde_yaml::from_str(spec).unwrap();
        let mut t = crate::cluster::crd::HostNetworkTemplate::new(
            name,
            crate::cluster::crd::HostNetworkTemplateSpec(spec),
        );
        t.metadata.generation = Some(2);
        TemplateObject::from(&t)
    }

    fn labels(s: &str) -> Labels {
        plumber_render::select::parse_labels(s).unwrap()
    }

    #[test]
    fn selects_by_labels_and_sorts() {
        let a = template("b-mtu", "interfaceConfig: [{name: eth0, mtu: 9000}]");
        let b = template(
            "a-rack",
            "nodeSelector: {rack: r1}\ninterfaceConfig: [{name: eth1, mtu: 9000}]",
        );
        let c = template(
            "c-other",
            "nodeSelector: {rack: r2}\ninterfaceConfig: [{name: eth0, mtu: 1500}]",
        );
        let Decision::Apply(got) = decide(&[&a, &b, &c], &labels("rack=r1"), None) else {
            panic!()
        };
        let names: Vec<&str> = got.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["a-rack", "b-mtu"]);
        assert_eq!(got[0].template.metadata.generation, Some(2));
    }

    #[test]
    fn a_template_the_renderer_cannot_read_refuses_the_nodes_it_may_select_only() {
        let ok = template("mtu", "interfaceConfig: [{name: eth0, mtu: 9000}]");
        let mut bad = template("routes", "nodeSelector: {rack: r1}");
        bad.spec["interfaceConfig"] = serde_json::json!([{"name": "eth1", "ipv4": {
            "address": ["10.0.0.2/8"], "routes": [{"to": "10.1.2.3/8", "via": "10.0.0.1"}]}}]);
        let Decision::Refuse(Verdict::Invalid(m)) = decide(&[&ok, &bad], &labels("rack=r1"), None)
        else {
            panic!()
        };
        assert_eq!(
            m,
            "hostnetworktemplate/routes#1 (routes): spec.interfaceConfig[0].ipv4.routes[0].to: \
             10.1.2.3/8 has host bits set; the network is 10.0.0.0/8"
        );
        // A node it does not select applies the rest.
        let Decision::Apply(got) = decide(&[&ok, &bad], &labels("rack=r2"), None) else {
            panic!()
        };
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn a_conflict_names_both_templates_and_the_field() {
        let a = template("mtu-a", "interfaceConfig: [{name: eth0, mtu: 9000}]");
        let b = template("mtu-b", "interfaceConfig: [{name: eth0, mtu: 1500}]");
        let Decision::Refuse(Verdict::Conflict(c)) = decide(&[&a, &b], &labels("x=y"), None) else {
            panic!()
        };
        let text = c[0].to_string();
        assert!(text.contains("mtu-a") && text.contains("mtu-b"), "{text}");
        assert!(c[0].field.contains("eth0"), "{}", c[0].field);
    }

    #[test]
    fn the_allow_disconnect_and_strict_annotations_reach_the_applier_and_no_other() {
        let mut t = template("uplink", "interfaceConfig: [{name: eth0, mtu: 9000}]");
        t.metadata.annotations = Some(
            [
                (crate::node::guard::ALLOW_DISCONNECT, "true"),
                (plumber_render::best_effort::STRICT, "true"),
                ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
        let l = t.to_loaded().unwrap();
        assert_eq!(
            l.template.metadata.annotations,
            [
                (crate::node::guard::ALLOW_DISCONNECT, "true"),
                (plumber_render::best_effort::STRICT, "true")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into()
        );
        assert!(plumber_render::best_effort::is_strict(&l));
        let selected = [plumber_render::node::TemplateRef {
            name: "uplink".into(),
            priority: 0,
            generation: Some(2),
        }];
        assert!(crate::node::guard::annotated(&[l], &selected));
        assert!(template("plain", "{}")
            .to_loaded()
            .unwrap()
            .template
            .metadata
            .annotations
            .is_empty());
    }

    #[test]
    fn an_invalid_template_refuses_everything() {
        let a = template("ok", "interfaceConfig: [{name: eth0, mtu: 9000}]");
        let b = template(
            "bad",
            "interfaceConfig: [{name: eth1, vlan: [{id: 7}, {id: 7}]}]",
        );
        let Decision::Refuse(Verdict::Invalid(m)) = decide(&[&a, &b], &Labels::new(), None) else {
            panic!()
        };
        assert!(m.contains("bad"), "{m}");
    }
}
