//! The API server's audit log, read back: what plumber's identities asked of the server, as the server
//! recorded it (not as the client counted it).

use std::path::Path;

use serde_json::Value;

use super::deploy::NAMESPACE;

/// The verbs that change something.
pub const WRITES: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

/// The user name of ServiceAccount `sa` of deploy/.
pub fn user(sa: &str) -> String {
    format!("system:serviceaccount:{NAMESPACE}:{sa}")
}

/// Every completed request in the log.
pub fn entries(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete")
        .collect()
}

/// The write requests of `users`.
pub fn writes_by(log: &Path, users: &[String]) -> Vec<Value> {
    entries(log)
        .into_iter()
        .filter(|e| users.iter().any(|u| e["user"]["username"] == u.as_str()))
        .filter(|e| WRITES.iter().any(|v| e["verb"] == *v))
        .collect()
}

/// One line per entry: user, verb, URI, response code.
pub fn describe(entries: &[Value]) -> String {
    entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["user"]["username"].as_str().unwrap_or(""),
                e["verb"].as_str().unwrap_or(""),
                e["requestURI"].as_str().unwrap_or(""),
                e["responseStatus"]["code"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The watches of `user` the server started (stage `ResponseStarted`), in order.
pub fn watches_by(log: &Path, user: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseStarted" && e["verb"] == "watch")
        .filter(|e| e["user"]["username"] == user)
        .filter_map(|e| e["requestURI"].as_str().map(String::from))
        .collect()
}
