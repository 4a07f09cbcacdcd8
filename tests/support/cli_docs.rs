// The checks of a binary's generated shell completions, man page and `--version`, shared by the
// render and apply integration tests (both `include!` this file). The tools (bash, groff, git) are
// installed by ci-test.sh: a missing one fails the test.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `cmd`, asserting it succeeds; its standard output.
pub fn stdout_of(mut cmd: Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `program args` with `input` on standard input.
fn run_with_input(program: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} (ci-test.sh installs it): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `script` is valid bash (`bash -n`), and names each of `words` (subcommands, flags).
pub fn bash_completion_is_valid(script: &str, words: &[&str]) {
    let out = run_with_input("bash", &["-n"], script);
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for w in words {
        assert!(script.contains(w), "the completion names {w}:\n{script}");
    }
}

/// `roff` renders as a man page with groff without a warning, and the page shows each of `words`.
pub fn man_page_renders(roff: &str, words: &[&str]) {
    let out = run_with_input("groff", &["-man", "-Tutf8", "-ww", "-z"], roff);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff -man -ww: {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Plain text (no overstriking), as `man -l` would show it.
    let out = run_with_input("groff", &["-man", "-Tutf8", "-P-cbou"], roff);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for w in words {
        assert!(text.contains(w), "the man page shows {w}:\n{text}");
    }
}

/// `version` (a `--version` line) names `program`, the crate version and the repository's HEAD commit
/// (the tests run in the checkout).
pub fn version_names_the_commit(program: &str, version: &str) {
    let mut git = Command::new("git");
    git.args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let head = stdout_of(git);
    let head = head.trim();
    let want = format!("{program} {} ({head}", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&want), "{version:?} starts with {want:?}");
}
