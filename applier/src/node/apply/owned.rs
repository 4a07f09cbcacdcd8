//! The runtime objects plumber manages on this node ([`Owned`]), kept in the state directory
//! (`runtime.json`) so that a later apply, or the agent after a restart, can let go of what the
//! templates no longer name.

use std::path::Path;

use crate::node::install::fsutil;
use crate::node::plan::Owned;
use crate::node::Result;

const FILE: &str = "runtime.json";

/// The record in `state_dir`; nothing owned when there is none. A damaged record is reported and
/// treated as empty (plumber then lets go of nothing, which is the safe side).
pub(crate) fn read(state_dir: &Path) -> Owned {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Err(_) => Owned::default(),
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "plumber: {}: {e}; ignoring it (nothing plumber created earlier is removed)",
                path.display()
            );
            Owned::default()
        }),
    }
}

/// Writes `owned` to `state_dir` atomically, unless it is there already.
pub(crate) fn write(state_dir: &Path, owned: &Owned) -> Result<()> {
    if read(state_dir) == *owned && state_dir.join(FILE).exists() {
        return Ok(());
    }
    fsutil::create_dir_all(state_dir, true)?;
    let mut text = serde_json::to_string_pretty(owned).expect("an Owned serializes");
    text.push('\n');
    fsutil::atomic_write(&state_dir.join(FILE), text.as_bytes(), 0o644)
}
