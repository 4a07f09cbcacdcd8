// Sourcing a shell-variable file (ifcfg, route) in an empty environment, shared by the ifcfg renderer's
// unit tests and the bash integration tests: both `include!` this file, so there is one copy.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Source `file` in an empty environment; the variables it defined.
pub fn source(bash: &Path, file: &Path) -> BTreeMap<String, String> {
    let out = Command::new(bash)
        .env_clear()
        .current_dir(file.parent().unwrap())
        .args(["-c", "set -a; . \"$1\" || exit 3; env -0", "bash"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "sourcing {} failed ({}): {}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .filter(|(k, _)| !["PWD", "OLDPWD", "SHLVL", "_"].contains(&k.as_str()))
        .collect()
}

