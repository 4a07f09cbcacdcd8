//! The NICs plumber bound to a userspace driver ([`BoundNics`]), kept in the state directory
//! (`nics.json`): a bound NIC has no network interface, so its name and the driver to give it back
//! to are known only from here.

use std::path::Path;

use crate::node::install::fsutil;
use crate::node::sysfs::nic::BoundNics;
use crate::node::Result;

const FILE: &str = "nics.json";

/// The record in `state_dir`; none when there is none. A damaged record is reported and treated as
/// empty (no NIC is given back, which is the safe side).
pub(crate) fn read(state_dir: &Path) -> BoundNics {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Err(_) => BoundNics::new(),
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "plumber: {}: {e}; ignoring it (no NIC is given back its old driver)",
                path.display()
            );
            BoundNics::new()
        }),
    }
}

/// Writes `bound` to `state_dir` atomically, unless it is there already; removes the file when
/// `bound` is empty.
pub(crate) fn write(state_dir: &Path, bound: &BoundNics) -> Result<()> {
    let path = state_dir.join(FILE);
    if bound.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(crate::node::Error::io(path.display(), e))
            }
            _ => Ok(()),
        };
    }
    if read(state_dir) == *bound {
        return Ok(());
    }
    fsutil::create_dir_all(state_dir, true)?;
    let mut text = serde_json::to_string_pretty(bound).expect("BoundNics serialize");
    text.push('\n');
    fsutil::atomic_write(&path, text.as_bytes(), 0o644)
}
