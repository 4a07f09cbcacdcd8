//! The Kubernetes binaries, found as controller-runtime's envtest finds `KUBEBUILDER_ASSETS`: the
//! directory `PLUMBER_KUBE_ASSETS`, else `../shared/k8s/` beside the repository. A binary there is used
//! as it is; `NAME.xz` is decompressed once into `.cache/kube/` (keyed by the archive's size and
//! modification time, written to a temporary name and renamed, so concurrent test processes never run
//! a half-written binary). etcd is Debian's `etcd-server` (`/usr/bin/etcd`, installed by ci-test.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming the assets directory.
pub const ENV: &str = "PLUMBER_KUBE_ASSETS";

/// Debian's etcd.
pub const ETCD: &str = "/usr/bin/etcd";

/// The binaries the cluster tests run.
pub struct Assets {
    /// `kube-apiserver`, ready to run.
    pub apiserver: PathBuf,
    /// `etcd`.
    pub etcd: PathBuf,
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the binaries are looked for.
pub fn dir() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(d) => PathBuf::from(d),
        None => repo().join("../shared/k8s"),
    }
}

/// The assets, or why they cannot be had.
pub fn find() -> Result<Assets, String> {
    if !Path::new(ETCD).exists() {
        return Err(format!(
            "{ETCD} is missing (Debian's etcd-server; ./ci-test.sh installs it)"
        ));
    }
    let apiserver = binary(&dir(), "kube-apiserver")?;
    Ok(Assets {
        apiserver,
        etcd: ETCD.into(),
    })
}

/// `dir/name` as it is, or `dir/name.xz` decompressed into the cache (one test thread at a time: the
/// temporary file is named by the process).
fn binary(dir: &Path, name: &str) -> Result<PathBuf, String> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let xz = dir.join(format!("{name}.xz"));
    let meta = std::fs::metadata(&xz).map_err(|_| {
        format!(
            "neither {} nor {} exists (set {ENV} to a directory holding {name}, or put the \
             project's shared/k8s/ beside the repository)",
            plain.display(),
            xz.display()
        )
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let cache = repo().join(format!(".cache/kube/{name}-{}-{mtime}", meta.len()));
    let out = cache.join(name);
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let tmp = cache.join(format!(".{name}.{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let status = Command::new("xz")
        .arg("-dc")
        .arg(&xz)
        .stdout(file)
        .status()
        .map_err(|e| format!("xz (xz-utils): {e}"))?;
    if !status.success() {
        return Err(format!("xz -dc {} failed: {status}", xz.display()));
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
    Ok(out)
}
