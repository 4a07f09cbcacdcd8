//! `plumber-render --completions`, `--man` and `--version`: generated from the real flags, valid for
//! their consumers (bash, groff), and naming the commit the binary was built from.

use std::process::Command;

mod support {
    include!("../support/cli_docs.rs");
}
use support::*;

fn cmd() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("plumber-render"))
}

#[test]
fn bash_completion_is_bash_and_names_the_flags() {
    let mut c = cmd();
    c.args(["--completions", "bash"]);
    let script = stdout_of(c);
    bash_completion_is_valid(
        &script,
        &[
            "plumber-render",
            "--distro",
            "--node-labels",
            "--diff",
            "--color",
        ],
    );
}

#[test]
fn zsh_and_fish_completions_are_printed() {
    for shell in ["zsh", "fish"] {
        let mut c = cmd();
        c.args(["--completions", shell]);
        assert!(stdout_of(c).contains("node-labels"), "{shell}");
    }
}

#[test]
fn man_page_renders_and_shows_the_flags() {
    let mut c = cmd();
    c.arg("--man");
    man_page_renders(
        &stdout_of(c),
        &[
            "plumber-render",
            "--distro",
            "--node-labels",
            "--inventory",
            "--color",
        ],
    );
}

#[test]
fn version_shows_the_commit() {
    let mut c = cmd();
    c.arg("--version");
    version_names_the_commit("plumber-render", &stdout_of(c));
}
