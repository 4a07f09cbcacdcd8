//! The README as a test: every ```console transcript of `plumber-render` is run from a scratch
//! directory that sees the repository's `examples/` and `tests/`, and must print what the README shows;
//! every template in a ```yaml block renders for every distro. The transcripts of `plumber` on a node
//! are run by the apply tests (tests/apply/readme.rs), which have a node to run them on.

use crate::common::*;
use plumber_render::distro::Distro;

mod transcript {
    include!("../support/readme.rs");
}
use transcript::*;

/// Commands the apply tests run (they need a network namespace and a node fixture).
const ON_A_NODE: &[&str] = &["plumber apply", "plumber show"];

#[test]
fn every_plumber_render_transcript_prints_what_the_readme_shows() {
    let blocks = transcripts();
    assert!(
        blocks.len() >= 3,
        "README.md has {} transcripts",
        blocks.len()
    );
    let mut failures = String::new();
    let mut ran = 0;
    for steps in blocks {
        if ON_A_NODE.iter().any(|p| steps[0].command.starts_with(p)) {
            continue;
        }
        // Each block in a fresh directory: files one step writes are there for the next.
        let dir = scratch();
        for top in ["examples", "tests", "deploy"] {
            std::os::unix::fs::symlink(repo_root().join(top), dir.path().join(top)).unwrap();
        }
        for step in steps {
            let first = step.command.split_whitespace().next().unwrap_or("");
            assert!(
                ["plumber-render", "ls", "cat"].contains(&first),
                "README.md:{}: `{}` is run by no test: transcripts run plumber-render (here) or \
                 plumber on a node (tests/apply/readme.rs)",
                step.line,
                step.command
            );
            ran += 1;
            if let Err(d) = compare(&step, &run_shell(&step.command, dir.path())) {
                failures.push_str(&d);
            }
        }
    }
    assert!(ran >= 3, "only {ran} README commands ran");
    assert!(failures.is_empty(), "{failures}");
}

/// The API reference and every other template the README shows: valid, and rendered for every distro.
#[test]
fn every_readme_template_renders_for_every_distro() {
    let text = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut templates = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, l) in text.lines().enumerate() {
        match &mut cur {
            None if l.trim_end() == "```yaml" => cur = Some((i + 1, String::new())),
            None => {}
            Some(_) if l.trim_end() == "```" => templates.push(cur.take().unwrap()),
            Some((_, t)) => {
                t.push_str(l);
                t.push('\n');
            }
        }
    }
    let templates: Vec<_> = templates
        .into_iter()
        .filter(|(_, t)| t.contains("kind: HostNetworkTemplate"))
        .collect();
    assert!(!templates.is_empty(), "no template in README.md");
    for (line, t) in templates {
        let sources = [plumber_render::Source {
            name: format!("README.md:{line}"),
            text: t,
        }];
        for d in Distro::all() {
            plumber_render::render_sources(&sources, &d, None, None)
                .unwrap_or_else(|e| panic!("README.md:{line} for {}: {e}", d.name));
        }
    }
}

/// The paths named in the first column of README.md's "Layout" table, braces expanded
/// (`a/{b,c}.rs` names `a/b.rs` and `a/c.rs`).
fn layout_paths(readme: &str) -> Vec<String> {
    let table = readme
        .split("\n## Layout\n")
        .nth(1)
        .expect("README.md has a \"## Layout\" section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut out = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split(" | ").next().unwrap();
        for named in first.split('`').skip(1).step_by(2) {
            match (named.find('{'), named.find('}')) {
                (Some(a), Some(b)) => {
                    for alt in named[a + 1..b].split(',') {
                        out.push(format!("{}{alt}{}", &named[..a], &named[b + 1..]));
                    }
                }
                _ => out.push(named.to_string()),
            }
        }
    }
    out
}

/// README's layout table is the tree: every path it names exists, and every directory the repository
/// tracks (at the top level, and every source directory of both crates) is named, or is a named
/// module's directory (`x.rs` with `x/`), or holds a named path; directories that hold only a module's
/// unit tests (`tests.rs`) go with their module.
#[test]
fn the_readme_layout_table_matches_the_tree() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let named = layout_paths(&readme);
    assert!(named.len() > 20, "the layout table names {named:?}");
    let missing: Vec<_> = named.iter().filter(|p| !root.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "README.md's layout table names paths that do not exist: {missing:?}"
    );

    let files = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
        .expect("git runs (./ci-test.sh installs it)");
    assert!(files.status.success(), "git ls-files failed");
    let mut dirs = std::collections::BTreeMap::<String, Vec<String>>::new();
    for f in String::from_utf8(files.stdout).unwrap().split('\0') {
        let parts: Vec<&str> = f.split('/').collect();
        if parts.len() > 1 && !parts[0].starts_with('.') {
            dirs.entry(format!("{}/", parts[0]))
                .or_default()
                .push(parts[1..].join("/"));
        }
        if f.starts_with("applier/src/") || f.starts_with("renderer/src/") {
            for n in 3..parts.len() {
                dirs.entry(format!("{}/", parts[..n].join("/")))
                    .or_default()
                    .push(parts[n..].join("/"));
            }
        }
    }
    let covered = |dir: &str, holds: &[String]| {
        let module = format!("{}.rs", dir.trim_end_matches('/'));
        holds.iter().all(|f| f == "tests.rs")
            || named
                .iter()
                .any(|p| p == dir || *p == module || p.starts_with(dir))
    };
    let unlisted: Vec<_> = dirs
        .iter()
        .filter(|(d, holds)| !covered(d, holds))
        .map(|(d, _)| d)
        .collect();
    assert!(
        unlisted.is_empty(),
        "directories missing from README.md's layout table: {unlisted:?}"
    );
}
