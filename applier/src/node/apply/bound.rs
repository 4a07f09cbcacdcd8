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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BoundNics::new(),
        Err(e) => {
            eprintln!(
                "plumber: {}: {e}; ignoring it (no NIC is given back its old driver)",
                path.display()
            );
            BoundNics::new()
        }
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
///
/// A record that cannot be read, or is damaged, is never overwritten or removed: it holds the drivers
/// to give NICs back to. One that cannot be read refuses the write; a damaged one is kept beside as
/// `nics.json.damaged` for a person to read.
pub(crate) fn write(state_dir: &Path, bound: &BoundNics) -> Result<()> {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(crate::node::Error::io(path.display(), e));
        }
        Ok(bytes) if serde_json::from_slice::<BoundNics>(&bytes).is_err() => {
            let kept = state_dir.join(format!("{FILE}.damaged"));
            std::fs::rename(&path, &kept).map_err(|e| crate::node::Error::io(path.display(), e))?;
            eprintln!(
                "plumber: {}: damaged; kept as {}",
                path.display(),
                kept.display()
            );
        }
        _ => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::sysfs::nic::BoundNic;
    use plumber_render::model::PciAddr;

    #[test]
    fn a_damaged_record_is_kept_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        assert!(read(dir.path()).is_empty());
        let mut bound = BoundNics::new();
        bound.insert(
            PciAddr::parse("0000:03:00.0").unwrap(),
            BoundNic {
                name: Some("eno2".into()),
                driver: "vfio-pci".into(),
                previous: Some("i40e".into()),
            },
        );
        write(dir.path(), &bound).unwrap();
        assert_eq!(read(dir.path()), bound);
        let kept = std::fs::read_to_string(dir.path().join("nics.json.damaged")).unwrap();
        assert_eq!(kept, "{not json");
    }
}
