//! `plumber`'s command line itself: `completions`, `man` and `--version` (generated from the real
//! subcommands and flags, valid for their consumers (bash, groff), naming the commit the binary was
//! built from), and what a bad command line or a missing file gets: each cause said once.

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
            "migrate",
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
    man_page_renders(
        &stdout_of(plumber(&["man", "migrate"])),
        &["plumber-migrate", "--export", "--from-export", "--dry-run"],
    );
}

/// `plumber migrate` takes its templates from the cluster (`--export`) or from an export
/// (`--from-export`), not both: clap's error, before the API server is asked anything.
#[test]
fn migrate_refuses_export_and_from_export_together() {
    let out = plumber(&["migrate", "--export", "a.yaml", "--from-export", "b.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the argument '--export <FILE>' cannot be used with '--from-export <FILE>'"),
        "{err}"
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

/// `--metrics-access` (agent and rollup) takes one of three words; anything else is clap's error
/// naming them, before the API server is asked anything.
#[test]
fn a_bad_metrics_access_names_the_choices() {
    for cmd in ["agent", "rollup"] {
        let mut args = vec![cmd, "--metrics-access", "everyone"];
        if cmd == "agent" {
            args.extend(["--node-name", "n1"]);
        }
        let out = plumber(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(
                "invalid value 'everyone' for '--metrics-access <METRICS_ACCESS>'\n  \
                 [possible values: kubernetes, loopback, open]"
            ),
            "{cmd}: {err}"
        );
    }
}

const ENOENT: &str = "No such file or directory (os error 2)";

#[test]
fn a_missing_file_is_named_with_its_cause_once() {
    let root = tempfile::tempdir().unwrap();
    let out = plumber(&[
        "apply",
        "--dry-run",
        "-f",
        "/nonexistent/plumber.yaml",
        "--root",
    ])
    .arg(root.path())
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        format!("plumber: /nonexistent/plumber.yaml: {ENOENT}\n")
    );
}

#[test]
fn the_agent_says_a_missing_kubeconfig_once() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let out = plumber(&[
        "agent",
        "--node-name",
        "n1",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ])
    .env("KUBECONFIG", &kubeconfig)
    // Not in a pod: the in-cluster config is not there either.
    .env_remove("KUBERNETES_SERVICE_HOST")
    .env_remove("KUBERNETES_SERVICE_PORT")
    .env("PLUMBER_HOST_ROOT", dir.path())
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches(ENOENT).count(), 1, "{err}");
    assert_eq!(err.matches("failed to read kubeconfig").count(), 1, "{err}");
    assert!(err.contains(&format!("{}", kubeconfig.display())), "{err}");
}
