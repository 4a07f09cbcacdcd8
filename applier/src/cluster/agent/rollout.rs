//! Rollout slots for `spec.maxUnavailable`: a node takes a slot of a template before it applies a
//! version of it that it has not applied yet, and gives the slot back once that apply succeeded. A
//! template that breaks the nodes applying it therefore stops after `maxUnavailable` nodes: those keep
//! their slots (they are the unavailable ones) until a fixed version applies, and every other node waits.
//!
//! A slot is a `coordination.k8s.io/v1` Lease in the agent's namespace, the API server's own
//! coordination object, taken and given back with its optimistic concurrency (a create fails with 409 if
//! the slot exists; an update carries the `resourceVersion` read):
//!
//! ```yaml
//! apiVersion: coordination.k8s.io/v1
//! kind: Lease
//! metadata:
//!   name: storage-mtu.0             # <template>.<slot>
//!   namespace: plumber-system
//!   labels: {app.kubernetes.io/managed-by: plumber-agent}
//!   annotations: {plumber.k8s.pf9.io/template: storage-mtu}
//! spec:
//!   holderIdentity: worker-3        # the node
//!   acquireTime: "2026-11-23T22:40:00.000000Z"
//! ```
//!
//! A slot has no `leaseDurationSeconds` and is never renewed: a node that failed keeps its slot however
//! long it stays broken, and an idle agent writes nothing. A slot whose holder is no longer a Node (the
//! node was removed from the cluster) is free. Deleting a slot gives it back.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use sha2::{Digest, Sha256};

/// The label on every slot (listing them needs one request).
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "plumber-agent");
/// The annotation naming the template of a slot.
const TEMPLATE: &str = "plumber.k8s.pf9.io/template";

/// The Lease name of slot `i` of `template`: `<template>.<i>`, a DNS subdomain like the template's
/// name; a name too long for that is cut and made unique with a hash.
fn lease_name(template: &str, i: u32) -> String {
    let name = format!("{template}.{i}");
    if name.len() <= 253 {
        return name;
    }
    let hash = Sha256::digest(template.as_bytes());
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    let keep = 253 - format!(".{hex}.{i}").len();
    let mut cut = template[..keep].trim_end_matches(['.', '-']).to_string();
    if cut.is_empty() {
        cut = "t".into();
    }
    format!("{cut}.{hex}.{i}")
}

/// A slot as listed: its name, holder (empty: free) and resourceVersion.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    name: String,
    template: String,
    holder: String,
    resource_version: Option<String>,
}

/// What trying to take a slot found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Take {
    /// This node already held a slot.
    Held(String),
    /// This node took a slot now.
    Taken(String),
    /// Every slot is held by a node that exists: these, sorted.
    Busy(Vec<String>),
}

/// FNV-1a of `node`: where its search for a free slot starts (any spread will do; this one is stable
/// across builds).
fn spread(node: &str) -> u32 {
    node.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The pure choice, from the listed slots of one template: the slot this node already holds, else a
/// free slot below `slots` to take (`Ok(Some)` with the existing one to update, `Ok(None)` to create),
/// else who holds them. `gone` says whether a holder is no longer a Node.
fn choose(
    template: &str,
    node: &str,
    slots: u32,
    listed: &[Slot],
    gone: &dyn Fn(&str) -> bool,
) -> Choice {
    let mine: Vec<&Slot> = listed.iter().filter(|s| s.template == template).collect();
    if let Some(s) = mine.iter().find(|s| s.holder == node) {
        return Choice::Have(s.name.clone());
    }
    let busy: Vec<&Slot> = mine
        .iter()
        .copied()
        .filter(|s| !s.holder.is_empty() && !gone(&s.holder))
        .collect();
    if (busy.len() as u32) < slots {
        // Each node starts looking at a slot of its own (a hash of its name), so that nodes waiting for
        // the same template do not all race for its lowest free slot (all but one would get a 409).
        let start = spread(node) % slots;
        for k in 0..slots {
            let i = (start + k) % slots;
            let name = lease_name(template, i);
            match mine.iter().find(|s| s.name == name) {
                None => return Choice::Create(name),
                Some(s) if !busy.iter().any(|b| b.name == s.name) => {
                    return Choice::Update((*s).clone())
                }
                Some(_) => {}
            }
        }
    }
    let mut holders: Vec<String> = busy.iter().map(|s| s.holder.clone()).collect();
    holders.sort();
    Choice::Wait(holders)
}

/// See [`choose`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    Have(String),
    Create(String),
    Update(Slot),
    Wait(Vec<String>),
}

/// The slots `node` holds among `listed`, by template.
fn mine(listed: &[Slot], node: &str) -> BTreeMap<String, String> {
    listed
        .iter()
        .filter(|s| s.holder == node)
        .map(|s| (s.template.clone(), s.name.clone()))
        .collect()
}

/// The slots of one agent: takes and gives back Leases in `namespace`.
pub(crate) struct Slots {
    leases: Api<Lease>,
    nodes: Api<Node>,
    node: String,
    /// The slots this node holds, by template (read from the server when first needed, so a restart
    /// knows them).
    held: Option<BTreeMap<String, String>>,
}

impl Slots {
    pub(crate) fn new(client: Client, namespace: &str, node: &str) -> Slots {
        Slots {
            leases: Api::namespaced(client.clone(), namespace),
            nodes: Api::all(client),
            node: node.to_string(),
            held: None,
        }
    }

    async fn list(&self) -> Result<Vec<Slot>, kube::Error> {
        let lp = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
        let list = self.leases.list(&lp).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|l| {
                let template = l.metadata.annotations.as_ref()?.get(TEMPLATE)?.clone();
                Some(Slot {
                    name: l.metadata.name?,
                    template,
                    holder: l.spec.and_then(|s| s.holder_identity).unwrap_or_default(),
                    resource_version: l.metadata.resource_version,
                })
            })
            .collect())
    }

    /// The slots this node holds, by template: read from the server once, then kept.
    pub(crate) async fn held(&mut self) -> Result<&BTreeMap<String, String>, kube::Error> {
        if self.held.is_none() {
            let all = self.list().await?;
            self.held = Some(mine(&all, &self.node));
        }
        Ok(self.held.as_ref().expect("just read"))
    }

    /// Takes a slot of each `(template, slots)` for this node, or says who holds them all, with one
    /// LIST of the slots at most (which also tells, after a restart, which slots this node holds).
    pub(crate) async fn take_all(
        &mut self,
        wanted: &[(String, u32)],
    ) -> Result<Vec<Take>, kube::Error> {
        let mut listed: Option<Vec<Slot>> = None;
        let mut out = Vec::new();
        for (template, slots) in wanted {
            if self.held.is_none() {
                let all = self.list().await?;
                self.held = Some(mine(&all, &self.node));
                listed = Some(all);
            }
            if let Some(name) = self.held.as_ref().and_then(|h| h.get(template)) {
                out.push(Take::Held(name.clone()));
                continue;
            }
            if listed.is_none() {
                listed = Some(self.list().await?);
            }
            let all = listed.as_deref().expect("just listed");
            out.push(self.take(template, *slots, all).await?);
        }
        Ok(out)
    }

    /// Takes a slot of `template` (one of `slots`) from what `listed` shows, or says who holds them.
    async fn take(
        &mut self,
        template: &str,
        slots: u32,
        listed: &[Slot],
    ) -> Result<Take, kube::Error> {
        // Holders that are no longer Nodes free their slots; ask only when every slot is held.
        let mut gone = BTreeSet::new();
        let of_template: Vec<&Slot> = listed
            .iter()
            .filter(|s| s.template == template && !s.holder.is_empty())
            .collect();
        if of_template.len() as u32 >= slots {
            for s in &of_template {
                if s.holder != self.node && self.nodes.get_opt(&s.holder).await?.is_none() {
                    gone.insert(s.holder.clone());
                }
            }
        }
        let choice = choose(template, &self.node, slots, listed, &|h| gone.contains(h));
        let name = match choice {
            Choice::Have(name) => name,
            Choice::Wait(holders) => return Ok(Take::Busy(holders)),
            Choice::Create(name) => {
                let lease = self.lease(&name, template, None);
                match self.leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => name,
                    // Another node took it first: try again on the next pass.
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        return Ok(Take::Busy(vec![format!("{name} (just taken)")]))
                    }
                    Err(e) => return Err(e),
                }
            }
            Choice::Update(slot) => {
                let lease = self.lease(&slot.name, template, slot.resource_version);
                match self
                    .leases
                    .replace(&slot.name, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => slot.name,
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        return Ok(Take::Busy(vec![format!("{} (just taken)", slot.name)]))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        self.held
            .get_or_insert_with(BTreeMap::new)
            .insert(template.to_string(), name.clone());
        Ok(Take::Taken(name))
    }

    /// Whether this node is known to hold a slot (without asking the server).
    pub(crate) fn holds_any(&self) -> bool {
        self.held.as_ref().is_some_and(|h| !h.is_empty())
    }

    /// Whether the slots this node holds have been read from the server yet.
    pub(crate) fn known(&self) -> bool {
        self.held.is_some()
    }

    /// Gives back every slot this node holds except those of `keep`.
    pub(crate) async fn give_back_except(
        &mut self,
        keep: &BTreeSet<String>,
    ) -> Result<(), kube::Error> {
        let held: Vec<(String, String)> = self
            .held()
            .await?
            .iter()
            .filter(|(t, _)| !keep.contains(*t))
            .map(|(t, n)| (t.clone(), n.clone()))
            .collect();
        for (template, name) in held {
            match self.leases.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
            if let Some(h) = self.held.as_mut() {
                h.remove(&template);
            }
        }
        Ok(())
    }

    fn lease(&self, name: &str, template: &str, resource_version: Option<String>) -> Lease {
        let now = Timestamp::now();
        Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into()),
                annotations: Some([(TEMPLATE.to_string(), template.to_string())].into()),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.node.clone()),
                acquire_time: Some(MicroTime(now)),
                ..LeaseSpec::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(template: &str, i: u32, holder: &str) -> Slot {
        Slot {
            name: lease_name(template, i),
            template: template.into(),
            holder: holder.into(),
            resource_version: Some("7".into()),
        }
    }

    #[test]
    fn names_are_subdomains_and_unique_when_cut() {
        assert_eq!(lease_name("mtu", 0), "mtu.0");
        let long = "a".repeat(253);
        let n = lease_name(&long, 12);
        assert!(n.len() <= 253, "{}", n.len());
        assert!(n.ends_with(".12"));
        let other = format!("{}b", "a".repeat(252));
        assert_ne!(lease_name(&other, 12), n);
    }

    #[test]
    fn a_node_keeps_the_slot_it_holds() {
        let listed = [slot("t", 0, "a"), slot("t", 1, "me")];
        assert_eq!(
            choose("t", "me", 1, &listed, &|_| false),
            Choice::Have("t.1".into())
        );
    }

    #[test]
    fn free_slots_are_created_or_taken_over_from_the_nodes_own_start() {
        // "me" starts at slot 1 of 2, "you" at slot 0: two waiting nodes do not race for one slot.
        assert_eq!((spread("me") % 2, spread("you") % 2), (1, 0));
        assert_eq!(
            choose("t", "me", 2, &[], &|_| false),
            Choice::Create("t.1".into())
        );
        assert_eq!(
            choose("t", "you", 2, &[], &|_| false),
            Choice::Create("t.0".into())
        );
        // Its own start taken, the next free one (wrapping).
        let listed = [slot("t", 1, "a")];
        assert_eq!(
            choose("t", "me", 2, &listed, &|_| false),
            Choice::Create("t.0".into())
        );
        // Spread over 8 slots, 64 node names use every slot.
        let starts: std::collections::BTreeSet<u32> = (0..64)
            .map(|i| spread(&format!("worker-{i}")) % 8)
            .collect();
        assert_eq!(starts.len(), 8);
        let listed = [slot("t", 0, "a"), slot("u", 1, "b")];
        assert_eq!(
            choose("t", "me", 2, &listed, &|_| false),
            Choice::Create("t.1".into())
        );
        // A slot given back as an empty holder is updated, with the resourceVersion read.
        let listed = [slot("t", 0, "")];
        assert_eq!(
            choose("t", "me", 1, &listed, &|_| false),
            Choice::Update(slot("t", 0, ""))
        );
    }

    #[test]
    fn all_held_means_wait_unless_a_holder_is_gone() {
        let listed = [slot("t", 1, "b"), slot("t", 0, "a")];
        assert_eq!(
            choose("t", "me", 2, &listed, &|_| false),
            Choice::Wait(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            choose("t", "me", 2, &listed, &|h| h == "b"),
            Choice::Update(slot("t", 1, "b"))
        );
        // Fewer slots than held (maxUnavailable lowered): nobody new starts until enough give back.
        assert_eq!(
            choose("t", "me", 1, &listed, &|_| false),
            Choice::Wait(vec!["a".into(), "b".into()])
        );
    }
}
