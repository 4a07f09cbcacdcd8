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
