//! Whether the host under a root reads the network files plumber installs: a distro profile's files are
//! ignored where its network stack is not on (Debian 12 runs ifupdown, not systemd-networkd, by default;
//! a RHEL with NetworkManager disabled reads no keyfile). The profile says what to look for
//! ([`plumber_render::distro::HostStack`]); this looks under the root, reading links and names only.

use std::ffi::OsStr;
use std::path::Path;

use plumber_render::distro::{Distro, Evidence};
use plumber_render::rooted::{Entry, Root};

/// Where systemd looks for `*.wants/` links: the administrator's, then the vendor's (Flatcar enables
/// systemd-networkd there; Debian's merged /usr has both spellings).
const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// `Err` with the message to show when none of the profile's evidence is under `root`.
pub(crate) fn check(root: &Path, distro: &Distro) -> Result<(), String> {
    let host = &distro.host;
    // Paths resolved inside the root as a chroot there would (a host root's `/lib -> /usr/lib` is the
    // root's /usr/lib, never the agent's own); an unreadable root shows no evidence.
    let found = Root::open(root)
        .map(|r| host.evidence.iter().any(|e| present(&r, e)))
        .unwrap_or(false);
    if found {
        return Ok(());
    }
    let looked: Vec<String> = host
        .evidence
        .iter()
        .map(|e| match e {
            Evidence::UnitEnabled(u) => format!("{u} enabled"),
            Evidence::File(f) => f.clone(),
        })
        .collect();
    Err(format!(
        "the {} files would be ignored on this host: they need {}. Found none of: {} under {}. \
         Turn it on, pick the profile of the network stack the host runs (--distro, see \
         `plumber-render --list-distros`), or apply with --runtime-only to leave the boot files alone",
        distro.name,
        host.requires,
        looked.join(", "),
        root.display()
    ))
}

/// Whether `name` is in the directory `dir` of the root (a symlink counts as itself, not followed).
fn exists(root: &Root, dir: &Path, name: &OsStr) -> bool {
    matches!(root.dir(dir, false), Ok(Some(d)) if matches!(d.file_type(name), Ok(Some(_))))
}

fn present(root: &Root, e: &Evidence) -> bool {
    match e {
        Evidence::File(f) => {
            let p = Path::new(f.trim_start_matches('/'));
            match (p.parent(), p.file_name()) {
                (Some(dir), Some(name)) => exists(root, dir, name),
                _ => false,
            }
        }
        Evidence::UnitEnabled(unit) => unit_enabled(root, OsStr::new(unit)),
    }
}

/// A `*.wants/<unit>` link in any unit directory, and no mask (`/etc/systemd/system/<unit>` -> /dev/null).
fn unit_enabled(root: &Root, unit: &OsStr) -> bool {
    let masked = matches!(
        root.dir(Path::new("etc/systemd/system"), false),
        Ok(Some(d)) if matches!(d.read(unit), Ok(Entry::Symlink { target }) if target == "/dev/null")
    );
    !masked
        && UNIT_DIRS.iter().any(|dir| {
            let Ok(Some(d)) = root.dir(Path::new(dir), false) else {
                return false;
            };
            d.entries().unwrap_or_default().iter().any(|(name, _)| {
                name.to_string_lossy().ends_with(".wants")
                    && exists(root, &Path::new(dir).join(name), unit)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn debian() -> Distro {
        Distro::by_name("debian").unwrap()
    }

    #[test]
    fn networkd_counts_only_when_enabled_and_not_masked() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        // Installed (the unit file is there) but not enabled: Debian 12's default.
        std::fs::create_dir_all(r.join("lib/systemd/system")).unwrap();
        std::fs::write(r.join("lib/systemd/system/systemd-networkd.service"), "").unwrap();
        let e = check(r, &debian()).unwrap_err();
        assert!(
            e.contains("systemd-networkd enabled")
                && e.contains("ifupdown")
                && e.contains("--runtime-only"),
            "{e}"
        );

        let wants = r.join("etc/systemd/system/multi-user.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        symlink(
            "/lib/systemd/system/systemd-networkd.service",
            wants.join("systemd-networkd.service"),
        )
        .unwrap();
        assert_eq!(check(r, &debian()), Ok(()));

        symlink(
            "/dev/null",
            r.join("etc/systemd/system/systemd-networkd.service"),
        )
        .unwrap();
        assert!(check(r, &debian()).is_err(), "a masked unit is off");
    }

    #[test]
    fn vendor_enablement_and_files_count() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let flatcar = Distro::by_name("flatcar").unwrap();
        assert!(check(r, &flatcar).is_err());
        let wants = r.join("usr/lib/systemd/system/multi-user.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        std::fs::write(wants.join("systemd-networkd.service"), "").unwrap();
        assert_eq!(check(r, &flatcar), Ok(()));

        let ubuntu = Distro::by_name("ubuntu").unwrap();
        let e = check(r, &ubuntu).unwrap_err();
        assert!(e.contains("netplan installed"), "{e}");
        std::fs::create_dir_all(r.join("usr/sbin")).unwrap();
        std::fs::write(r.join("usr/sbin/netplan"), "").unwrap();
        assert_eq!(check(r, &ubuntu), Ok(()));
    }

    /// Paths resolve inside the root: an absolute symlink in it means the root's own path, never the
    /// host's (this machine has /usr/sbin/netplan and an enabled NetworkManager.service).
    #[test]
    fn symlinks_resolve_inside_the_root_not_on_the_host() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("usr")).unwrap();
        symlink("/usr/sbin", r.join("usr/sbin")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        symlink("/etc/systemd", r.join("etc/systemd")).unwrap();
        let ubuntu = Distro::by_name("ubuntu").unwrap();
        let rhel9 = Distro::by_name("rhel9").unwrap();
        assert!(check(r, &ubuntu).is_err());
        assert!(check(r, &rhel9).is_err());

        // The image's own layout behind an absolute symlink: found, inside the root.
        std::fs::remove_file(r.join("usr/sbin")).unwrap();
        std::fs::create_dir_all(r.join("srv/sbin")).unwrap();
        std::fs::write(r.join("srv/sbin/netplan"), "").unwrap();
        symlink("/srv/sbin", r.join("usr/sbin")).unwrap();
        assert_eq!(check(r, &ubuntu), Ok(()));
    }

    #[test]
    fn rhel8_reads_ifcfg_through_networkmanager_or_the_network_service() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let rhel8 = Distro::by_name("rhel8").unwrap();
        assert!(check(r, &rhel8).is_err());
        let wants = r.join("etc/systemd/system/multi-user.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        symlink(
            "/usr/lib/systemd/system/network.service",
            wants.join("network.service"),
        )
        .unwrap();
        assert_eq!(check(r, &rhel8), Ok(()));
        let rhel9 = Distro::by_name("rhel9").unwrap();
        assert!(check(r, &rhel9).unwrap_err().contains("NetworkManager"));
    }
}
