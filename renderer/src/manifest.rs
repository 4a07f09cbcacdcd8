//! The manifest of the files plumber owns on a node: `manifest.json` in the state dir, which the
//! applier's installer writes (`plumber apply`, the agent) and plumber-render's stale-file scan reads
//! ([`crate::owned`]). Its format lives here, in the crate both depend on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where the manifest and the installer's journal live, relative to the root.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/plumber";

/// The manifest's file name inside the state dir.
pub const FILE: &str = "manifest.json";

/// The one format version written and read.
pub const VERSION: u32 = 1;

/// The files plumber owns under a root.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// By absolute path (on the host, without the root).
    pub files: BTreeMap<String, Owned>,
}

/// One owned file or symlink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// Hex sha256 of the content, or of the link target for a symlink.
    pub sha256: String,
    /// Permission bits (0o777 for a symlink).
    pub mode: u32,
    /// The link target, for a symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink: Option<String>,
}

impl Manifest {
    /// A manifest's bytes parsed; the message says what is wrong (JSON, or a version other than
    /// [`VERSION`]), for the caller to prefix with the manifest's path.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if manifest.version != VERSION {
            return Err(format!("unsupported version {}", manifest.version));
        }
        Ok(manifest)
    }
}
