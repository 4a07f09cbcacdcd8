//! Fleet mode's SR-IOV cache: the SR-IOV part of a node's merge depends only on the templates that have
//! an `sriovConfig` and on the inventory's `interfaceStatus` ([`SriovKey`]), and a fleet's nodes
//! usually share both, so nodes with an equal key share one SR-IOV merge ([`merge::merge_reusing`]).

use std::sync::{Arc, Mutex};

use plumber_render::inventory::HostNetwork;
use plumber_render::merge::{self, SriovKey, SriovPart};
use plumber_render::node::NodeConfig;
use plumber_render::parse::Loaded;
use plumber_render::Result;

/// SR-IOV parts by key, shared between the threads of a fleet render. Only parts merged without a
/// conflict or an error are kept, so every message is the one [`merge::merge`] gives.
#[derive(Default)]
pub struct SriovCache(Mutex<Vec<(SriovKey, Arc<SriovPart>)>>);

impl SriovCache {
    /// A fleet has few distinct SR-IOV setups; past this many, new ones are merged and not kept.
    const MAX: usize = 64;

    /// [`merge::merge`], reusing an SR-IOV part of an earlier merge with the same key; always the same
    /// result as [`merge::merge`].
    pub fn merge(
        &self,
        templates: &[&Loaded],
        inventory: Option<&HostNetwork>,
    ) -> Result<NodeConfig> {
        let key = SriovKey::of(templates, inventory);
        let hit = self
            .0
            .lock()
            .expect("sriov cache lock")
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, part)| part.clone());
        let (node, fresh) = merge::merge_reusing(templates, inventory, hit.as_deref());
        if let Some(part) = fresh {
            let mut entries = self.0.lock().expect("sriov cache lock");
            if entries.len() < Self::MAX && !entries.iter().any(|(k, _)| *k == key) {
                entries.push((key, Arc::new(part)));
            }
        }
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumber_render::{load, Source};

    fn inventory(node: &str, total: u32) -> HostNetwork {
        HostNetwork::parse(
            &format!(
                "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {{name: {node}}}\nstatus:\n  interfaceStatus:\n    - pfName: ens1f0\n      pciAddr: \"0000:3b:00.0\"\n      vendorId: \"8086\"\n      deviceId: \"158b\"\n      sriovStatus: {{totalVfs: {total}}}\n"
            ),
            "inv",
        )
        .unwrap()
    }

    fn show(r: Result<NodeConfig>) -> String {
        match r {
            Ok(n) => format!("{n:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    const FLEET: &str = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: fleet}\nspec:\n  sriovConfig:\n    - pfName: ens1f0\n      numVfs: 8\n      mtu: 9000\n      vfs:\n        - {id: 0-7, trust: true, spoofchk: false}\n    - vendorId: \"8086\"\n      deviceId: \"158b\"\n      vfDriver: vfio-pci\n";

    /// Shared SR-IOV merges give what `merge` gives, node after node, conflicts and errors included.
    #[test]
    fn shared_sriov_merges_are_the_same_as_merges() {
        let node = |i: usize, mtu: u32| {
            format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: node-{i}}}\nspec:\n  interfaceConfig:\n    - name: ens1f0\n      mtu: {mtu}\n    - name: ens1f0.100\n      ipv4: {{address: [10.0.0.{}/24]}}\n", i + 1)
        };
        let mut text = FLEET.to_string();
        for (i, mtu) in [9000, 9000, 1500, 9000].iter().enumerate() {
            text.push_str("---\n");
            text.push_str(&node(i, *mtu));
        }
        let t = load(&[Source {
            name: "t".into(),
            text,
        }])
        .unwrap();
        let cache = SriovCache::default();
        // node-2's link MTU conflicts with the PF's; node 3 has too few VFs in its inventory (an error,
        // not shared), then enough again.
        let cases = [(1, 64), (0, 64), (2, 64), (3, 4), (3, 64), (1, 64), (2, 64)];
        let mut errors = 0;
        for (i, total) in cases {
            let refs = vec![&t[0], &t[i + 1]];
            let inv = inventory(&format!("node-{i}"), total);
            let alone = show(merge::merge(&refs, Some(&inv)));
            let shared = show(cache.merge(&refs, Some(&inv)));
            assert_eq!(alone, shared, "node-{i}, totalVfs {total}");
            errors += usize::from(alone.starts_with("error"));
            // without an inventory too
            assert_eq!(
                show(merge::merge(&refs, None)),
                show(cache.merge(&refs, None))
            );
        }
        assert_eq!(
            errors, 3,
            "node-2 twice (MTU conflict) and node-3 with 4 VFs"
        );
        assert_eq!(
            cache.0.lock().unwrap().len(),
            2,
            "one entry with the inventory, one without"
        );
    }

    /// The key is the templates' content, not where they are: a template loaded again (another copy)
    /// hits the entry, and a changed `sriovConfig` under the same name does not.
    #[test]
    fn the_key_is_what_the_sriov_part_depends_on() {
        let load_one = |text: &str| {
            load(&[Source {
                name: "t".into(),
                text: text.into(),
            }])
            .unwrap()
        };
        let a = load_one(FLEET);
        let again = load_one(FLEET);
        let changed = load_one(&FLEET.replace("numVfs: 8", "numVfs: 16"));
        let inv = inventory("n", 64);
        let cache = SriovCache::default();
        for t in [&a, &again, &changed] {
            let refs = vec![&t[0]];
            assert_eq!(
                show(cache.merge(&refs, Some(&inv))),
                show(merge::merge(&refs, Some(&inv)))
            );
        }
        assert_eq!(
            SriovKey::of(&[&a[0]], Some(&inv)),
            SriovKey::of(&[&again[0]], Some(&inv))
        );
        assert!(SriovKey::of(&[&a[0]], Some(&inv)) != SriovKey::of(&[&changed[0]], Some(&inv)));
        assert_eq!(cache.0.lock().unwrap().len(), 2, "numVfs 8 and numVfs 16");
    }
}
