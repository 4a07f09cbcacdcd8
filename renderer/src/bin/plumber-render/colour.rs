//! Colour for `--diff`: whether to use it (`--color`, NO_COLOR, a terminal) and the colouring of a
//! unified diff, git's colours: removed lines red, added green, hunk headers cyan, file headers bold.

use std::io::IsTerminal;

use clap::ColorChoice;

/// Whether to colour standard output: `always` and `never` as said; `auto` only on a terminal, and
/// not when NO_COLOR is set to anything non-empty (no-color.org) or TERM is `dumb`.
pub fn wanted(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
            std::io::stdout().is_terminal()
                && !set("NO_COLOR")
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[m";

/// `diff` (as `output::diff_against` makes it) with ANSI colours on its lines; lines keep their text,
/// the colour wraps each line before its newline.
pub fn diff(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() + diff.len() / 4);
    for line in diff.split_inclusive('\n') {
        let (text, nl) = match line.strip_suffix('\n') {
            Some(t) => (t, "\n"),
            None => (line, ""),
        };
        let colour = if text.starts_with("--- ") || text.starts_with("+++ ") {
            Some(BOLD)
        } else if text.starts_with("@@") {
            Some(CYAN)
        } else if text.starts_with('-') {
            Some(RED)
        } else if text.starts_with('+') {
            Some(GREEN)
        } else {
            None
        };
        match colour {
            Some(c) => {
                out.push_str(c);
                out.push_str(text);
                out.push_str(RESET);
            }
            None => out.push_str(text),
        }
        out.push_str(nl);
    }
    out
}
