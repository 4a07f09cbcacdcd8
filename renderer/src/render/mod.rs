//! `render(NodeConfig, Distro) -> Vec<Artifact>`: the pure half of plumber. No I/O: the same input gives
//! the same bytes, which `--out`, `--tar`, `--diff`, `--check` and the applier's installer then use.
//!
//! Every file comes from a minijinja template in `templates/` (compiled in). The environment is strict:
//! an undefined variable is an error, `none` cannot be printed, and the formatter escapes every printed
//! value for the syntax of the file it lands in (picked from the template's name, see [`escape_kind`]).
//! The only unescaped text is the header, which Rust builds from already-escaped comment lines.

mod env;
mod host_links;
mod ifcfg;
mod keyfile;
mod netplan;
mod networkd;
mod ovs;
pub mod pcidp;
mod udev;

use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::distro::{Distro, NetworkFormat};
use crate::error::Result;
use crate::node::{NodeConfig, OvsBridge, SriovPf};

pub use env::{escape_kind, render_template};

/// One file (or symlink) to install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Absolute path on the target host.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    pub content: String,
    /// When set, the artifact is a symlink to this target and `content` is empty (systemd `.wants/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink: Option<String>,
}

impl Artifact {
    pub fn file(path: String, mode: u32, content: String) -> Self {
        Artifact {
            path,
            mode,
            content,
            symlink: None,
        }
    }
}

/// All files for `node` on `distro`, sorted by path.
pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    let mut out = network(node, distro)?;
    out.extend(sriov_files(node, distro)?);
    out.extend(ovs::render(node, distro)?);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The files that depend only on `node.sriov`: the udev rule with its helper, and the device plugin's
/// configuration.
fn sriov_files(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    let mut out = udev::render(node, distro)?;
    out.extend(pcidp::render(node)?);
    Ok(out)
}

/// Refuses a NIC whose IPv6 the templates state but not its IPv4, for formats whose one file per link
/// configures both families (NetworkManager, ifcfg, systemd-networkd): the file would replace the host's
/// IPv4 configuration of the NIC, which the template did not ask for. (The other way round is written:
/// an unstated IPv6 is left to the kernel's defaults, router advertisements and SLAAC as sysctl says.)
fn refuse_unstated_ipv4(l: &crate::node::Link, artifact: &str, format: &str) -> Result<()> {
    if l.ipv4.is_none() && l.ipv6.is_some() && matches!(l.kind, crate::node::LinkKind::Device) {
        return Err(crate::error::Error::Render {
            artifact: artifact.to_string(),
            message: format!(
                "the templates state the IPv6 of {n} but not its IPv4; {format} configures both families of \
                 a link in one file, which would replace the IPv4 addresses the host gives {n}. State {n}'s \
                 IPv4 too: `ipv4: {{dhcp: true}}`, `ipv4: {{address: [...]}}`, or `ipv4: {{address: []}}` for none",
                n = l.name
            ),
        });
    }
    Ok(())
}

/// The network format's files, and the udev rule for what a format cannot say about a NIC whose
/// addresses stay with the host (see `host_links`).
fn network(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    let mut out = match distro.network {
        NetworkFormat::Netplan => netplan::render(node, distro),
        NetworkFormat::Networkd => networkd::render(node, distro),
        NetworkFormat::Ifcfg => ifcfg::render(node, distro),
        NetworkFormat::Keyfile => keyfile::render(node, distro),
    }?;
    out.extend(host_links::render(node, distro)?);
    Ok(out)
}

/// Reuse of rendered files across nodes (fleet mode), for one distro. The SR-IOV files depend only on
/// `node.sriov` and the OVS files only on `node.ovs`, which a fleet usually shares across many nodes
/// whose addresses differ; those parts are rendered once per distinct value. Same bytes as [`render`].
pub struct RenderCache {
    distro: String,
    sriov: Mutex<FastMap<Vec<SriovPf>, Arc<Vec<Artifact>>>>,
    ovs: Mutex<FastMap<Vec<OvsBridge>, Arc<Vec<Artifact>>>>,
}

/// The keys are large (every VF of every PF) and not attacker-chosen, so a multiply-rotate hash (the
/// one rustc uses internally) replaces SipHash, which was 6% of a fleet render.
type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl RenderCache {
    pub fn new(distro: &Distro) -> Self {
        RenderCache {
            distro: distro.name.clone(),
            sriov: Mutex::default(),
            ovs: Mutex::default(),
        }
    }

    /// [`render`], with the SR-IOV and OVS parts looked up first.
    pub fn render(&self, node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
        assert_eq!(self.distro, distro.name, "a RenderCache serves one distro");
        let mut out = network(node, distro)?;
        out.extend(
            cached(&self.sriov, &node.sriov, || sriov_files(node, distro))?
                .iter()
                .cloned(),
        );
        out.extend(
            cached(&self.ovs, &node.ovs, || ovs::render(node, distro))?
                .iter()
                .cloned(),
        );
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

fn cached<K: std::hash::Hash + Eq + Clone>(
    map: &Mutex<FastMap<K, Arc<Vec<Artifact>>>>,
    key: &K,
    make: impl FnOnce() -> Result<Vec<Artifact>>,
) -> Result<Arc<Vec<Artifact>>> {
    if let Some(hit) = map.lock().expect("render cache lock").get(key) {
        return Ok(hit.clone());
    }
    let made = Arc::new(make()?);
    map.lock()
        .expect("render cache lock")
        .insert(key.clone(), made.clone());
    Ok(made)
}

/// The start of [`header`]'s first line: plumber-render's own since 0.1.0 with its version after it, and
/// `# Generated by plumber from` before that, so files of earlier renderings are plumber's too.
pub const HEADER_GENERATED: &str = "# Generated by plumber";

/// The second line of [`header`]: plumber's claim on the file, which [`crate::owned`] looks for.
pub const HEADER_OWNED: &str = "# Do not edit: plumber owns this file and rewrites it.";

/// The comment block at the top of every file: who generated it (plumber-render and its crate
/// version, never a commit or a time: the output must not change between builds), from which
/// templates, and how to change it. Four `#` lines, valid in every format written (shell, ifcfg,
/// keyfile, netplan, networkd, udev, systemd units), without the final newline (templates put
/// `{{ header }}` on a line of its own). Template names are escaped for a comment (no line breaks).
pub fn header<'a>(templates: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = templates.into_iter().map(crate::escape::comment).collect();
    let (from, change) = match names.len() {
        0 => (
            "no HostNetworkTemplate".to_string(),
            "the HostNetworkTemplates that select this node".to_string(),
        ),
        1 => (
            format!("HostNetworkTemplate {}", names[0]),
            format!(
                "the template (kubectl edit hostnetworktemplate {})",
                names[0]
            ),
        ),
        _ => (
            format!("HostNetworkTemplates {}", names.join(", ")),
            format!(
                "the templates (kubectl edit hostnetworktemplate {})",
                names.join(" ")
            ),
        ),
    };
    format!(
        "{HEADER_GENERATED}-render {} from {from}.\n\
         {HEADER_OWNED}\n\
         # To change it, edit {change},\n\
         # then let the plumber agent rewrite it, or run `plumber apply -f TEMPLATES` on this node.",
        env!("CARGO_PKG_VERSION")
    )
}

/// Whether `content` starts with [`header`] (after a `#!` line, as scripts do; as the `_comment` of a
/// JSON file, which has no comments).
pub fn has_header(content: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(content) else {
        return false;
    };
    match header_lines(text) {
        Some(h) => h[0].starts_with(HEADER_GENERATED) && h[1] == HEADER_OWNED,
        None => false,
    }
}

/// The lines of a rendered file's [`header`] (four; two in files of early renderings), as `#` comment
/// lines: after a `#!` line, or from a JSON file's top-level `_comment` (see `pcidp`). `None` when the
/// file starts with fewer than two comment lines.
pub fn header_lines(content: &str) -> Option<Vec<String>> {
    if content.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(content).ok()?;
        let lines: Vec<String> = v
            .get("_comment")?
            .as_array()?
            .iter()
            .map(|l| l.as_str().map(|l| format!("# {l}")))
            .collect::<Option<_>>()?;
        return (lines.len() >= 2).then_some(lines);
    }
    let body = match content.split_once('\n') {
        Some((first, rest)) if first.starts_with("#!") => rest,
        _ => content,
    };
    let lines: Vec<String> = body
        .lines()
        .take(4)
        .take_while(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect();
    (lines.len() >= 2).then_some(lines)
}

#[cfg(test)]
mod header_tests {
    use super::header;

    #[test]
    fn four_comment_lines_naming_the_templates_and_how_to_change_them() {
        let h = header(["a", "b"]);
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines.len(), 4, "{h}");
        assert!(lines.iter().all(|l| l.starts_with("# ")), "{h}");
        assert_eq!(
            lines[0],
            format!(
                "# Generated by plumber-render {} from HostNetworkTemplates a, b.",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            lines[2],
            "# To change it, edit the templates (kubectl edit hostnetworktemplate a b),"
        );
        assert!(header(["a"])
            .contains("# To change it, edit the template (kubectl edit hostnetworktemplate a),\n"));
    }

    #[test]
    fn headers_of_this_and_earlier_renderings_are_plumbers() {
        assert!(super::has_header(
            format!("{}\n[Match]\n", header(["a"])).as_bytes()
        ));
        assert!(super::has_header(
            b"#!/bin/sh\n# Generated by plumber from HostNetworkTemplate a.\n\
              # Do not edit: plumber owns this file and rewrites it.\n"
        ));
        assert!(!super::has_header(b"# Generated by hand.\n# Do not edit\n"));
        // JSON has no comments: the device plugin's configuration carries them as `_comment`.
        let json = serde_json::json!({
            "_comment": header(["a"]).lines().map(|l| l.trim_start_matches("# ")).collect::<Vec<_>>(),
            "resourceList": [],
        });
        assert!(super::has_header(json.to_string().as_bytes()));
        assert!(!super::has_header(br#"{"resourceList": []}"#));
        assert!(!super::has_header(
            br#"{"_comment": ["written by hand", "keep"]}"#
        ));
    }

    #[test]
    fn a_line_break_in_a_name_cannot_end_the_comment() {
        let h = header(["evil\nrm -rf /"]);
        assert_eq!(h.lines().count(), 4, "{h}");
        assert!(h.lines().all(|l| l.starts_with("# ")), "{h}");
    }
}
