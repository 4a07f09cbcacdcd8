//! The load plumber puts on the API server, counted from the audit log between two [`Mark`]s: requests
//! by verb, per identity and per source address (the agents share one ServiceAccount; each node's
//! requests come from its own address, [`super::relay`]), and the watches open at a mark.
//!
//! A request is counted once: a watch when the server started it (stage `ResponseStarted`), any other
//! request when it completed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::audit::WRITES;

/// A point in the audit log: the number of complete lines written so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(usize);

/// The complete lines of the log (a line the server is still writing is left for later).
fn lines(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete.lines().map(String::from).collect()
}

/// The log's end now.
pub fn mark(log: &Path) -> Mark {
    Mark(lines(log).len())
}

/// Requests by verb (`get`, `list`, `watch`, `create`, `patch`, ...), and the writes by what they
/// wrote and the answer (`verb resource[/subresource] code`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Requests per verb.
    pub verbs: BTreeMap<String, usize>,
    /// Write requests per `verb resource[/subresource] code`.
    pub writes_to: BTreeMap<String, usize>,
}

impl Counts {
    fn verb(&self, v: &str) -> usize {
        self.verbs.get(v).copied().unwrap_or(0)
    }
    /// get and list requests.
    pub fn reads(&self) -> usize {
        self.verb("get") + self.verb("list")
    }
    /// Watches started.
    pub fn watches(&self) -> usize {
        self.verb("watch")
    }
    /// Write requests.
    pub fn writes(&self) -> usize {
        WRITES.iter().map(|v| self.verb(v)).sum()
    }
    /// Every request.
    pub fn all(&self) -> usize {
        self.verbs.values().sum()
    }
    fn add(&mut self, e: &Value) {
        let verb = e["verb"].as_str().unwrap_or("?").to_string();
        if WRITES.contains(&verb.as_str()) {
            let r = &e["objectRef"];
            let mut what = r["resource"].as_str().unwrap_or("?").to_string();
            if let Some(s) = r["subresource"].as_str() {
                what = format!("{what}/{s}");
            }
            let code = &e["responseStatus"]["code"];
            *self
                .writes_to
                .entry(format!("{verb} {what} {code}"))
                .or_default() += 1;
        }
        *self.verbs.entry(verb).or_default() += 1;
    }
    /// The writes, most first, as `n verb resource` joined by commas.
    pub fn describe_writes(&self) -> String {
        let mut w: Vec<_> = self.writes_to.iter().collect();
        w.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        w.iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether audit entry `e` is one request, counted once (see the module comment).
fn counted(e: &Value) -> bool {
    if e["verb"] == "watch" {
        e["stage"] == "ResponseStarted"
    } else {
        e["stage"] == "ResponseComplete"
    }
}

fn source(e: &Value) -> String {
    e["sourceIPs"][0].as_str().unwrap_or("?").to_string()
}

/// The entries between `from` and `to` (all of the log's lines when `to` is past its end).
fn between(log: &Path, from: Mark, to: Mark) -> Vec<Value> {
    let all = lines(log);
    let to = to.0.min(all.len());
    all[from.0.min(to)..to]
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The requests of `user` between the marks, per source address.
pub fn by_source(log: &Path, from: Mark, to: Mark, user: &str) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for e in between(log, from, to) {
        if e["user"]["username"] == user && counted(&e) {
            out.entry(source(&e)).or_default().add(&e);
        }
    }
    out
}

/// The requests of `user` between the marks, from every source.
pub fn of_user(log: &Path, from: Mark, to: Mark, user: &str) -> Counts {
    let mut out = Counts::default();
    for c in by_source(log, from, to, user).into_values() {
        for (v, n) in c.verbs {
            *out.verbs.entry(v).or_default() += n;
        }
        for (w, n) in c.writes_to {
            *out.writes_to.entry(w).or_default() += n;
        }
    }
    out
}

/// The watches of `user` open at `at` (started, not completed), per source address.
pub fn open_watches(log: &Path, at: Mark, user: &str) -> BTreeMap<String, usize> {
    let mut open: BTreeMap<String, String> = BTreeMap::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    for e in between(log, Mark(0), at) {
        if e["verb"] != "watch" || e["user"]["username"] != user {
            continue;
        }
        let id = e["auditID"].as_str().unwrap_or("").to_string();
        match e["stage"].as_str() {
            Some("ResponseStarted") => {
                open.insert(id, source(&e));
            }
            Some("ResponseComplete") | Some("Panic") => {
                done.insert(id);
            }
            _ => {}
        }
    }
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for (id, src) in open {
        if !done.contains(&id) {
            *out.entry(src).or_default() += 1;
        }
    }
    out
}

/// The user agents `user`'s requests named (empty: none sent).
pub fn user_agents(log: &Path, user: &str) -> BTreeSet<String> {
    between(log, Mark(0), Mark(usize::MAX))
        .iter()
        .filter(|e| e["user"]["username"] == user)
        .map(|e| e["userAgent"].as_str().unwrap_or("").to_string())
        .collect()
}
