//! plumber's applier, in two halves that the tree keeps apart:
//!
//! * [`node`]: everything that runs on one node with no cluster — discovering the node, planning the
//!   runtime changes that make it match its `NodeConfig` (a pure diff), and applying them together with
//!   the rendered files as one transaction, once or in a watch loop (`plumber apply`, `plumber show`).
//! * [`cluster`]: everything that talks to the API server — the CRDs, the node agent that drives
//!   [`node`] from the templates (`plumber agent`), the per-template rollup (`plumber rollup`), their
//!   RBAC and their health ports.
//!
//! [`node`] never uses [`cluster`].
//!
//! Each item is as visible as its users need: `pub` only for the `plumber` binary, the `gen_crds`
//! example and the test binaries; `pub(crate)` for the other modules of this library. The lint below
//! keeps a `pub` from hiding in a module nobody outside can reach.
#![warn(unreachable_pub)]

pub mod cluster;
pub mod node;

#[cfg(test)]
mod tests {
    /// The node side stands alone: no file under `src/node/` names the cluster side.
    #[test]
    fn the_node_side_never_uses_the_cluster_side() {
        fn walk(dir: &std::path::Path, offenders: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, offenders);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        if line.contains("crate::cluster") || line.contains("plumber::cluster") {
                            offenders.push(format!("{}:{}: {line}", path.display(), i + 1));
                        }
                    }
                }
            }
        }
        let node = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/node");
        let mut offenders = Vec::new();
        walk(&node, &mut offenders);
        assert!(node.join("mod.rs").exists(), "{} moved?", node.display());
        assert!(
            offenders.is_empty(),
            "the node side names the cluster side: {offenders:#?}"
        );
    }
}
