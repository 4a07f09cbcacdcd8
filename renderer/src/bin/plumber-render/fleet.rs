//! Fleet mode: every node of a cluster rendered into `OUT/<node>/`, so a template change can be reviewed
//! across the fleet before it is applied.
//!
//! Nodes that select the same templates and have the same inventory get the same bytes, so each distinct
//! (templates, inventory) pair is merged and rendered once; writing the files is the rest of the work,
//! and both steps run in parallel.
//!
//! Earlier runs into the same OUT: a node that renders gets its stale files removed as `--out` does
//! (stale.rs); a node that fails keeps the directory an earlier run made as it was, with
//! [`FAILED_MARKER`] added holding the error (removed by its next successful render), and the run exits
//! 1; a directory of a node no longer in NODES.yaml is reported, not deleted.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use plumber_render::distro::Distro;
use plumber_render::inventory::HostNetwork;
use plumber_render::parse::Loaded;
use plumber_render::render::Artifact;
use plumber_render::select::{Labels, SelectorIndex};
use plumber_render::{best_effort, Error};
use rayon::prelude::*;

use crate::args::Args;
use crate::output::write_tree;
use crate::rooted::Root;
use crate::sriov_cache::SriovCache;
use crate::stale;

/// `OUT/<node>/RENDER-FAILED`: the node's last render failed, so the other files in its directory are
/// from an earlier run, not from the current templates. Holds the error.
pub const FAILED_MARKER: &str = "RENDER-FAILED";

/// A node's files written into its directory, its stale files removed (each reported) and the marker of
/// an earlier failure with them.
fn write_node(out: &Root, name: &str, distro: &Distro, arts: &[Artifact]) -> anyhow::Result<()> {
    let node = out.subroot(Path::new(name))?;
    let written = write_tree(&node, arts)?;
    for path in stale::remove(&node, distro, arts, &written)? {
        eprintln!("plumber-render: node {name}: removed stale {path}");
    }
    let top = node.dir(Path::new(""), false)?.expect("the root itself");
    top.remove(std::ffi::OsStr::new(FAILED_MARKER))?;
    Ok(())
}

/// A failed node's directory, if an earlier run made one, marked: the files there are not current.
/// Whether there was one.
fn mark_failed(out: &Root, name: &str, error: &str) -> anyhow::Result<bool> {
    let Some(node) = out.existing_subroot(Path::new(name))? else {
        return Ok(false);
    };
    let top = node.dir(Path::new(""), false)?.expect("the root itself");
    let text = format!(
        "plumber-render could not render node {name}; the other files in this directory are from an \
         earlier run, not from the current templates:\n{error}\n"
    );
    top.write_file(std::ffi::OsStr::new(FAILED_MARKER), text.as_bytes(), 0o644)?;
    Ok(true)
}

/// The directories in OUT of nodes not in NODES.yaml that hold plumber's files (or a failure marker):
/// left from earlier runs.
fn gone_nodes(out: &Root, nodes: &[Node], distro: &Distro) -> anyhow::Result<Vec<String>> {
    let names: std::collections::HashSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let top = out.dir(Path::new(""), false)?.expect("the root itself");
    let mut gone = Vec::new();
    for (entry, kind) in top.entries()? {
        let Some(name) = entry.to_str() else { continue };
        if kind != rustix::fs::FileType::Directory
            || names.contains(name)
            || check_node_name(name).is_err()
        {
            continue;
        }
        let Some(dir) = out.existing_subroot(Path::new(name))? else {
            continue;
        };
        let marked = dir
            .dir(Path::new(""), false)?
            .expect("the root itself")
            .file_type(std::ffi::OsStr::new(FAILED_MARKER))?
            .is_some();
        if marked || !plumber_render::owned::owned_files(&dir, distro)?.is_empty() {
            gone.push(name.to_string());
        }
    }
    Ok(gone)
}

struct Node {
    name: String,
    labels: Labels,
}

/// Node names become directory names: only Kubernetes node names (DNS subdomains) are accepted.
fn check_node_name(n: &str) -> Result<(), Error> {
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && n.split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "node name {} is not a Kubernetes node name (a DNS subdomain)",
            plumber_render::escape::printable(n)
        )))
    }
}

fn read_nodes(path: &Path) -> anyhow::Result<Vec<Node>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    let v: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let items: Vec<serde_yaml::Value> = match v.get("items") {
        Some(serde_yaml::Value::Sequence(s)) => s.clone(),
        _ if v.get("kind").and_then(|k| k.as_str()) == Some("Node") => vec![v.clone()],
        _ => {
            return Err(
                Error::Usage(format!("{}: not a Node or a list of Nodes", path.display())).into(),
            )
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let meta = item.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{}: items[{i}].metadata.name is missing",
                    path.display()
                ))
            })?;
        check_node_name(name)?;
        let mut labels = Labels::new();
        if let Some(serde_yaml::Value::Mapping(m)) = meta.and_then(|m| m.get("labels")) {
            for (k, val) in m {
                if let (Some(k), Some(val)) = (k.as_str(), val.as_str()) {
                    labels.insert(k.to_string(), val.to_string());
                }
            }
        }
        out.push(Node {
            name: name.to_string(),
            labels,
        });
    }
    Ok(out)
}

/// What stands for the node's name in an inventory's text when nodes share one parse (below). Lowercase
/// letters and dashes, no prefix of it is a suffix of it, so it cannot be made by the text around it.
const NAME_PLACEHOLDER: &str = "zq-plumber-render-node-name";

/// Inventories of a fleet are usually the same text but for `metadata.name`: nodes with the same
/// hardware. Each such text is parsed once (with the name replaced by [`NAME_PLACEHOLDER`]) and copied
/// for each node with its own name, which gives the same `HostNetwork` as parsing the node's own text:
/// the shared parse is used only when the node's name occurs exactly once in the text and is, whole,
/// what `metadata.name` parsed to, and when the name is a plain YAML string whatever it is replaced by
/// (it starts with a lowercase letter and is not `null`, `true` or `false`; Kubernetes node names
/// are lowercase letters, digits, `-` and `.`). Any other text, and any text whose shared parse fails,
/// is parsed on its own, so errors are the same as without this cache.
#[derive(Default)]
struct InventoryCache(Mutex<HashMap<String, Option<Arc<HostNetwork>>>>);

impl InventoryCache {
    fn parse(&self, text: &str, node: &str, file: &str) -> Result<HostNetwork, Error> {
        let shareable = node.starts_with(|c: char| c.is_ascii_lowercase())
            && !matches!(node, "null" | "true" | "false")
            && !text.contains(NAME_PLACEHOLDER)
            && text.matches(node).count() == 1;
        if !shareable {
            return HostNetwork::parse(text, file);
        }
        let key = text.replacen(node, NAME_PLACEHOLDER, 1);
        let hit = self
            .0
            .lock()
            .expect("inventory cache lock")
            .get(&key)
            .cloned();
        let shared = match hit {
            Some(s) => s,
            None => {
                let s = HostNetwork::parse(&key, file)
                    .ok()
                    .filter(|h| h.metadata.name == NAME_PLACEHOLDER)
                    .map(Arc::new);
                self.0
                    .lock()
                    .expect("inventory cache lock")
                    .insert(key, s.clone());
                s
            }
        };
        match shared {
            Some(s) => {
                let mut h = (*s).clone();
                h.metadata.name = node.to_string();
                Ok(h)
            }
            None => HostNetwork::parse(text, file),
        }
    }
}

pub fn run(
    args: &Args,
    nodes_path: &Path,
    templates: &[Loaded],
    distro: &Distro,
) -> anyhow::Result<u8> {
    if args.out.is_none() && !args.no_write {
        return Err(Error::Usage("--nodes needs --out DIR (or --no-write)".into()).into());
    }
    let timing = std::env::var_os("PLUMBER_TIMING").is_some();
    let t0 = std::time::Instant::now();
    let phase = |name: &str| {
        if timing {
            eprintln!("plumber-render: timing: {name} done at {:?}", t0.elapsed());
        }
    };
    let nodes = read_nodes(nodes_path)?;
    phase("read nodes");
    // Each node's directory is resolved inside OUT, and its files inside that directory, each as if it
    // were `/` (see plumber_render::rooted): a symlink in the tree never leads out of it.
    let out_root = match &args.out {
        Some(d) if !nodes.is_empty() => Some(Root::create(d)?),
        // No node: nothing to write, but the directories there are all of nodes no longer listed.
        Some(d) if d.is_dir() => Some(Root::open(d)?),
        _ => None,
    };

    // Group nodes by what determines their output.
    let index = SelectorIndex::new(templates);
    let mut groups: BTreeMap<(Vec<usize>, Option<String>), Vec<usize>> = BTreeMap::new();
    let keyed: Vec<(Vec<usize>, Option<String>)> = nodes
        .par_iter()
        .map(|n| -> anyhow::Result<_> {
            let chosen = index.matching(templates, &n.labels);
            let inv = match &args.inventories {
                Some(dir) => {
                    let p = dir.join(format!("{}.yaml", n.name));
                    match std::fs::read_to_string(&p) {
                        Ok(t) => Some(t),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => return Err(Error::io(p.display(), e).into()),
                    }
                }
                None => None,
            };
            Ok((chosen, inv))
        })
        .collect::<anyhow::Result<_>>()?;
    for (i, key) in keyed.into_iter().enumerate() {
        groups.entry(key).or_default().push(i);
    }

    phase("select and read inventories");
    let groups: Vec<_> = groups.into_iter().collect();
    let cache = plumber_render::render::RenderCache::new(distro);
    let inventories = InventoryCache::default();
    let sriov = SriovCache::default();
    // CPU time per step, summed over threads, for PLUMBER_TIMING.
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let cpu: [AtomicU64; 4] = Default::default();
    // Each distinct configuration is merged and rendered once, then written for each of its nodes right
    // away, so memory holds the groups in flight rather than the whole fleet's files.
    let outcomes: Vec<anyhow::Result<(usize, Vec<String>)>> = groups
        .par_iter()
        .map(|((chosen, inv), members)| {
            let first = &nodes[members[0]].name;
            let result = (|| -> Result<(Vec<Artifact>, Vec<String>), Error> {
                let t = std::time::Instant::now();
                let inventory = match inv {
                    Some(t) => Some(inventories.parse(t, first, &format!("{first}.yaml"))?),
                    None => None,
                };
                cpu[0].fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                let t = std::time::Instant::now();
                let refs: Vec<&Loaded> = chosen.iter().map(|i| &templates[*i]).collect();
                let node = sriov.merge(&refs, inventory.as_ref())?;
                best_effort::check(&node, &refs, args.strict)?;
                let warnings = best_effort::lines(&node);
                cpu[1].fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                let t = std::time::Instant::now();
                let arts = cache.render(&node, distro);
                cpu[2].fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                let t = std::time::Instant::now();
                drop(node);
                cpu[3].fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                Ok((arts?, warnings))
            })();
            match result {
                Ok((arts, warnings)) => {
                    for m in members {
                        for w in &warnings {
                            eprintln!("plumber-render: warning: node {}: {w}", nodes[*m].name);
                        }
                    }
                    match &out_root {
                        None => Ok((arts.len() * members.len(), Vec::new())),
                        Some(out) => {
                            members.par_iter().try_for_each(|m| {
                                write_node(out, &nodes[*m].name, distro, &arts)
                            })?;
                            Ok((arts.len() * members.len(), Vec::new()))
                        }
                    }
                }
                Err(e) => {
                    let mut failures = Vec::new();
                    for m in members {
                        let name = &nodes[*m].name;
                        let mut line = format!("node {name}: {e}");
                        let marked = match &out_root {
                            Some(out) => mark_failed(out, name, &e.to_string())?,
                            None => false,
                        };
                        if let (true, Some(dir)) = (marked, &args.out) {
                            line.push_str(&format!(
                                "\n(the files under {} are from an earlier run; {} says so)",
                                dir.join(name).display(),
                                dir.join(name).join(FAILED_MARKER).display()
                            ));
                        }
                        failures.push(line);
                    }
                    Ok((0, failures))
                }
            }
        })
        .collect();
    let mut files = 0;
    let mut failures = Vec::new();
    for o in outcomes {
        let (n, f) = o?;
        files += n;
        failures.extend(f);
    }
    phase("merge, render and write");
    if timing {
        let ms = |i: usize| cpu[i].load(Relaxed) as f64 / 1e6;
        eprintln!(
            "plumber-render: timing: thread time: inventories {:.0} ms, merge {:.0} ms, render {:.0} ms, drop {:.0} ms",
            ms(0),
            ms(1),
            ms(2),
            ms(3)
        );
    }
    for f in &failures {
        eprintln!(
            "plumber-render: {}",
            f.replace('\n', "\nplumber-render:   ")
        );
    }
    if let (Some(out), Some(dir)) = (&out_root, &args.out) {
        for name in gone_nodes(out, &nodes, distro)? {
            eprintln!(
                "plumber-render: warning: {}: node {name} is not in {}; its files are from an earlier \
                 run (left as they are: delete the directory if the node is gone)",
                dir.join(&name).display(),
                nodes_path.display()
            );
        }
    }
    eprintln!(
        "plumber-render: {} nodes ({} distinct configurations), {} files {}{}",
        nodes.len(),
        groups.len(),
        files,
        match &args.out {
            Some(d) if !args.no_write => format!("under {}", d.display()),
            _ => "rendered, none written".to_string(),
        },
        if failures.is_empty() {
            String::new()
        } else {
            format!("; {} nodes failed", failures.len())
        }
    );
    Ok(if failures.is_empty() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_cannot_escape_the_output_directory() {
        assert!(check_node_name("worker-1").is_ok());
        assert!(check_node_name("10.128.237.204").is_ok());
        assert!(check_node_name("../etc").is_err());
        assert!(check_node_name("a/b").is_err());
        assert!(check_node_name("").is_err());
        assert!(check_node_name("..").is_err());
    }
}
