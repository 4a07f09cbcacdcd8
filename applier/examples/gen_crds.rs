//! Writes the CRDs derived from the Rust types to `deploy/crds/` (or the directory given):
//!
//! ```sh
//! cargo run -p plumber --example gen_crds            # then review `git diff deploy/crds`
//! ```

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds"));
    std::fs::create_dir_all(&dir)?;
    for (file, yaml) in plumber::cluster::crd::files() {
        let path = dir.join(file);
        std::fs::write(&path, yaml)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
