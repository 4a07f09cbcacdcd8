//! `--diff` in colour: git's colours on a terminal or with `--color always`; never in a pipe, with
//! `--color never` or NO_COLOR. The terminal is a real pty (`script`, util-linux's bsdutils, which
//! Debian always installs).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("plumber-render")
}

/// A root with the example's netplan file installed and then edited (mtu 9000 → 1500).
fn edited_root(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("root");
    let f = examples_dir().join("comprehensive.yaml");
    let w = Command::new(bin())
        .args(["--distro", "ubuntu", "--out"])
        .arg(&root)
        .arg(&f)
        .output()
        .unwrap();
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    let np = root.join("etc/netplan/60-plumber.yaml");
    let edited = std::fs::read_to_string(&np)
        .unwrap()
        .replace("mtu: 9000", "mtu: 1500");
    std::fs::write(&np, edited).unwrap();
    (root, f)
}

/// `--diff` with `extra` flags, standard output a pipe.
fn piped(root: &Path, f: &Path, extra: &[&str], no_color: bool) -> String {
    let mut c = Command::new(bin());
    c.args(["--distro", "ubuntu"])
        .args(extra)
        .arg("--diff")
        .arg(root)
        .arg(f);
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `--diff` with `extra` flags on a terminal (a pty made by `script`).
fn on_a_terminal(root: &Path, f: &Path, extra: &str, no_color: bool) -> String {
    let line = format!(
        "{} --distro ubuntu {extra} --diff {} {}",
        bin().display(),
        root.display(),
        f.display()
    );
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"]).env("TERM", "xterm");
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    let out = c.output().expect("script (bsdutils)");
    // script -e: the program's own status, 2 for differences.
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn color_always_colours_removed_added_and_hunk_lines() {
    let dir = scratch();
    let (root, f) = edited_root(dir.path());
    let s = piped(&root, &f, &["--color", "always"], true);
    assert!(s.contains(&format!("{RED}-      mtu: 1500\x1b[m")), "{s:?}");
    assert!(
        s.contains(&format!("{GREEN}+      mtu: 9000\x1b[m")),
        "{s:?}"
    );
    assert!(s.contains(&format!("{CYAN}@@ ")), "{s:?}");
}

#[test]
fn a_pipe_never_gets_colour() {
    let dir = scratch();
    let (root, f) = edited_root(dir.path());
    for extra in [&[][..], &["--color", "auto"], &["--color", "never"]] {
        let s = piped(&root, &f, extra, false);
        assert!(s.contains("-      mtu: 1500"), "{s}");
        assert!(!s.contains('\x1b'), "{extra:?}: {s:?}");
    }
}

#[test]
fn a_terminal_gets_colour_unless_no_color_or_never() {
    let dir = scratch();
    let (root, f) = edited_root(dir.path());
    let s = on_a_terminal(&root, &f, "", false);
    assert!(s.contains(&format!("{RED}-      mtu: 1500")), "{s:?}");
    for (extra, no_color) in [("", true), ("--color never", false)] {
        let s = on_a_terminal(&root, &f, extra, no_color);
        assert!(s.contains("-      mtu: 1500"), "{s:?}");
        assert!(!s.contains('\x1b'), "{extra} NO_COLOR={no_color}: {s:?}");
    }
}
