//! Shared helpers: paths, rendering through the library, golden comparison with a readable diff, and
//! required tools.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plumber_render::distro::Distro;
use plumber_render::render::Artifact;
use plumber_render::{render_sources, select, Source};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn golden_dir() -> PathBuf {
    repo_root().join("tests/golden")
}

pub fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

/// A golden case: `tests/golden/<case>/input.yaml`, optional `labels` (k=v,...) and `inventory.yaml`.
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
}

pub fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.yaml").exists())
        .map(|p| Case {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            dir: p,
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!v.is_empty(), "no golden cases found");
    v
}

/// A case's inputs: its templates, labels and inventory.
pub struct CaseInput {
    pub source: Source,
    pub labels: Option<select::Labels>,
    pub inventory: Option<plumber_render::inventory::HostNetwork>,
}

pub fn case_input(case: &Case) -> CaseInput {
    let text = std::fs::read_to_string(case.dir.join("input.yaml")).unwrap();
    let labels = std::fs::read_to_string(case.dir.join("labels"))
        .ok()
        .map(|l| select::parse_labels(l.trim()).unwrap());
    let inventory = std::fs::read_to_string(case.dir.join("inventory.yaml"))
        .ok()
        .map(|t| plumber_render::inventory::HostNetwork::parse(&t, "inventory.yaml").unwrap());
    CaseInput {
        source: Source {
            name: "input.yaml".into(),
            text,
        },
        labels,
        inventory,
    }
}

/// A case's merged desired state.
pub fn case_node(case: &Case) -> plumber_render::node::NodeConfig {
    let i = case_input(case);
    let t = plumber_render::load(std::slice::from_ref(&i.source)).unwrap();
    plumber_render::node_config(&t, i.labels.as_ref(), i.inventory.as_ref())
        .unwrap_or_else(|e| panic!("case {}: {e}", case.name))
}

/// Render a case for a distro through the library (the CLI is tested separately).
pub fn render_case(case: &Case, distro: &Distro) -> Vec<Artifact> {
    let i = case_input(case);
    render_sources(
        std::slice::from_ref(&i.source),
        distro,
        i.labels.as_ref(),
        i.inventory.as_ref(),
    )
    .unwrap_or_else(|e| panic!("case {} for {}: {e}", case.name, distro.name))
}

/// Every file under `dir`, by path relative to it, with its content.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = format!("/{}", p.strip_prefix(dir).unwrap().to_string_lossy());
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// Artifacts as the same map `read_tree` makes.
pub fn artifact_map(arts: &[Artifact]) -> BTreeMap<String, String> {
    arts.iter()
        .map(|a| match &a.symlink {
            Some(t) => (a.path.clone(), format!("-> {t}")),
            None => (a.path.clone(), a.content.clone()),
        })
        .collect()
}

/// Write artifacts under `dir` as `--out` would (without modes), for blessing goldens.
pub fn write_tree(dir: &Path, arts: &[Artifact]) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    for a in arts {
        let p = dir.join(a.path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match &a.symlink {
            Some(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
            None => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::write(&p, &a.content).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(a.mode)).unwrap();
            }
        }
    }
}

/// A unified diff of two trees, empty when equal.
pub fn tree_diff(expected: &BTreeMap<String, String>, actual: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for k in keys {
        match (expected.get(k), actual.get(k)) {
            (Some(e), Some(a)) if e == a => {}
            (Some(e), Some(a)) => {
                let d = similar::TextDiff::from_lines(e, a);
                out.push_str(
                    &d.unified_diff()
                        .context_radius(3)
                        .header(&format!("expected{k}"), &format!("actual{k}"))
                        .to_string(),
                );
            }
            (Some(_), None) => {
                out.push_str(&format!("--- expected{k}\n(missing from the output)\n"))
            }
            (None, Some(a)) => out.push_str(&format!(
                "+++ actual{k}\n(not expected; it contains:)\n{a}\n"
            )),
            (None, None) => unreachable!(),
        }
    }
    out
}

/// Whether goldens should be rewritten instead of compared (`PLUMBER_BLESS=1`).
pub fn bless() -> bool {
    std::env::var_os("PLUMBER_BLESS").is_some()
}

/// Path of a required external tool; panics with the fix when it is missing (never a silent skip).
pub fn require_tool(name: &str) -> PathBuf {
    for dir in [
        "/usr/bin",
        "/usr/sbin",
        "/bin",
        "/sbin",
        "/usr/lib/netplan",
        "/usr/local/bin",
    ] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("required tool {name} is not installed; run the README's test command (./ci-test.sh), which installs it");
}

pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("plumber-test-")
        .tempdir()
        .unwrap()
}
