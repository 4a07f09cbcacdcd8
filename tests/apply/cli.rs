//! `plumber`'s command line itself: `completions`, `man` and `--version` (generated from the real
//! subcommands and flags, valid for their consumers (bash, groff), naming the commit the binary was
//! built from), and what a bad command line gets.

use std::process::Command;

mod support {
    include!("../support/cli_docs.rs");
}
use support::*;

fn plumber(args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("plumber"));
    c.args(args);
    c
}

#[test]
fn bash_completion_is_bash_and_names_the_subcommands_and_flags() {
    let script = stdout_of(plumber(&["completions", "bash"]));
    bash_completion_is_valid(
        &script,
        &[
            "show",
            "apply",
            "agent",
            "rollup",
            "--dry-run",
            "--node-labels",
        ],
    );
}

#[test]
fn man_pages_render_for_plumber_and_its_subcommands() {
    man_page_renders(
        &stdout_of(plumber(&["man"])),
        &["plumber-apply(1)", "plumber-show(1)", "--version"],
    );
    man_page_renders(
        &stdout_of(plumber(&["man", "apply"])),
        &[
            "plumber-apply",
            "plumber apply",
            "--dry-run",
            "--node-labels",
            "--prune",
        ],
    );
}

#[test]
fn man_for_an_unknown_subcommand_is_a_bad_command_line() {
    let out = plumber(&["man", "aply"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no subcommand \"aply\": write one of show, apply"),
        "{err}"
    );
}

#[test]
fn version_shows_the_commit() {
    version_names_the_commit("plumber", &stdout_of(plumber(&["--version"])));
}

#[test]
fn bad_node_labels_are_a_bad_command_line() {
    let out = plumber(&["apply", "-f", "/nonexistent", "--node-labels", "rack"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Exit 2 and clap's message, before any file is read.
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "invalid value 'rack' for '--node-labels <LABELS>': \"rack\" is not key=value"
        ),
        "{err}"
    );
    assert!(err.contains("For more information, try '--help'."), "{err}");
}
