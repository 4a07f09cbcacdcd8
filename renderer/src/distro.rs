//! Distro profiles (`distro/*.yaml`, compiled in: every file there, see `build/profiles.rs`): which network
//! configuration format a distro reads, its init system, where its files go, and how `/etc/os-release`
//! names it.

use serde::Deserialize;

use crate::error::{Error, Result};

/// ```yaml
/// name: rhel9
/// order: 20
/// description: RHEL 9 — NetworkManager keyfiles
/// network: keyfile
/// init: systemd
/// aliases: [centos9, rocky9, alma9, fedora]
/// paths:
///   network: /etc/NetworkManager/system-connections
///   udevRules: /etc/udev/rules.d
///   units: /etc/systemd/system
///   helpers: /usr/libexec/plumber
/// osRelease:
///   - {id: rhel, versionMajor: "9"}
/// host:
///   requires: "NetworkManager enabled (the RHEL 9 default)"
///   evidence:
///     - {unitEnabled: NetworkManager.service}
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Distro {
    /// The file's name, `distro/<name>.yaml`.
    pub name: String,
    /// Where the profile goes in `--list-distros` and the lists of known names (then by name).
    pub order: u32,
    pub description: String,
    pub network: NetworkFormat,
    /// What starts services at boot (`systemd` when not given).
    #[serde(default)]
    pub init: InitSystem,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub paths: Paths,
    #[serde(default)]
    pub os_release: Vec<OsReleaseMatch>,
    pub host: HostStack,
}

/// What a host must run for the network files to take effect at boot, and how `plumber apply` sees it
/// under a root. A distro's default may not be its profile's: Debian 12 installs ifupdown, which ignores
/// systemd-networkd files.
///
/// ```yaml
/// requires: "systemd-networkd enabled: ..."
/// evidence:
///   - {unitEnabled: systemd-networkd.service}
/// noteAtRender: true
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostStack {
    /// Said to the user: in `--list-distros`, in `plumber apply`'s refusal, in the render note.
    pub requires: String,
    /// Any one of these under the root shows the host reads the files.
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub evidence: Vec<Evidence>,
    /// `plumber-render` says `requires` on standard error (the profile is not what a fresh install runs).
    #[serde(default)]
    pub note_at_render: bool,
}

/// One sign, under a root, that the host's network stack is there.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Evidence {
    /// A systemd unit enabled: a `*.wants/<unit>` link in /etc or the vendor unit directories, and the
    /// unit not masked.
    UnitEnabled(String),
    /// A file that exists (an absolute path, taken under the root).
    File(String),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkFormat {
    Ifcfg,
    Keyfile,
    Netplan,
    Networkd,
}

/// A distro's init system. plumber's boot units (Open vSwitch's) are systemd units; a profile with
/// another init system renders no OVS configuration, and says so.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InitSystem {
    #[default]
    Systemd,
    OpenRc,
    SysVinit,
    Runit,
}

impl std::fmt::Display for InitSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InitSystem::Systemd => "systemd",
            InitSystem::OpenRc => "openrc",
            InitSystem::SysVinit => "sysvinit",
            InitSystem::Runit => "runit",
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Paths {
    pub network: String,
    pub udev_rules: String,
    pub units: String,
    pub helpers: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OsReleaseMatch {
    pub id: String,
    #[serde(default)]
    pub version_major: Option<String>,
}

// PROFILES and NAMES: every `distro/*.yaml`, by `order:`, then name.
include!(concat!(env!("OUT_DIR"), "/profiles.rs"));

impl Distro {
    /// Every built-in profile, by its `order:`, then name.
    pub fn all() -> Vec<Distro> {
        PROFILES
            .iter()
            .map(|(n, text)| {
                let d: Distro = serde_yaml::from_str(text)
                    .unwrap_or_else(|e| panic!("built-in distro profile {n} is broken: {e}"));
                assert_eq!(&d.name, n, "distro/{n}.yaml names itself {}", d.name);
                d
            })
            .collect()
    }

    /// The built-in profiles' names, in the order of [`Distro::all`].
    pub fn names() -> Vec<&'static str> {
        PROFILES.iter().map(|(n, _)| *n).collect()
    }

    /// By name or alias.
    pub fn by_name(name: &str) -> Result<Distro> {
        Distro::all()
            .into_iter()
            .find(|d| d.name == name || d.aliases.iter().any(|a| a == name))
            .ok_or_else(|| {
                let known = Distro::names();
                let hint = closest(name, &known)
                    .map(|n| format!("did you mean {n}? "))
                    .unwrap_or_default();
                Error::UnknownDistro(
                    name.to_string(),
                    format!("{hint}known: {}", known.join(", ")),
                )
            })
    }

    /// The profile for an `/etc/os-release` file's content.
    pub fn from_os_release(text: &str) -> Option<Distro> {
        let field = |key: &str| {
            text.lines().find_map(|l| {
                let v = l.strip_prefix(key)?.strip_prefix('=')?;
                Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
            })
        };
        let id = field("ID")?;
        let major = field("VERSION_ID").map(|v| v.split('.').next().unwrap_or("").to_string());
        Distro::all().into_iter().find(|d| {
            d.os_release.iter().any(|m| {
                m.id == id
                    && m.version_major
                        .as_ref()
                        .is_none_or(|v| Some(v) == major.as_ref())
            })
        })
    }
}

/// The known name within two edits of `name` (a typo such as `ubunto` or `rhel-9`), if one is.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edits(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance (insertions, deletions and substitutions of characters).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typo_gets_the_name_it_is_closest_to() {
        let e = Distro::by_name("ubunto").unwrap_err().to_string();
        assert!(e.contains("did you mean ubuntu? known: "), "{e}");
        let e = Distro::by_name("rhel-9").unwrap_err().to_string();
        assert!(e.contains("did you mean rhel9?"), "{e}");
        // Nothing close: the list only.
        let e = Distro::by_name("windows").unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains("known: rhel8"), "{e}");
    }

    use super::*;

    #[test]
    fn profiles_load_and_resolve() {
        let all = Distro::all();
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, Distro::names());
        assert_eq!(NAMES, Distro::names().join(", "));
        // The documented order: by `order:`, then name.
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        assert_eq!(sorted, all);
        // Today's profiles keep their places among themselves (a new one may go anywhere).
        let today = ["rhel8", "rhel9", "rhel10", "ubuntu", "debian", "flatcar"];
        let kept: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| today.contains(n))
            .collect();
        assert_eq!(kept, today);
        assert_eq!(
            Distro::by_name("rhel9").unwrap().network,
            NetworkFormat::Keyfile
        );
        assert_eq!(
            Distro::by_name("rhel8").unwrap().network,
            NetworkFormat::Ifcfg
        );
        assert_eq!(
            Distro::by_name("ubuntu").unwrap().network,
            NetworkFormat::Netplan
        );
        assert!(Distro::by_name("windows").is_err());
        let os = "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n";
        assert_eq!(Distro::from_os_release(os).unwrap().name, "rhel9");
        let os = "ID=ubuntu\nVERSION_ID=\"22.04\"\n";
        assert_eq!(Distro::from_os_release(os).unwrap().name, "ubuntu");
        let os = "ID=rhel\nVERSION_ID=\"8.10\"\n";
        assert_eq!(Distro::from_os_release(os).unwrap().name, "rhel8");
    }
}
