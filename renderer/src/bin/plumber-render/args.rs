//! Command-line arguments.

use std::path::PathBuf;

use clap::{ArgGroup, ColorChoice, Parser, ValueEnum};
use clap_complete::Shell;
use plumber_render::select::Labels;

/// A structured output's format (`-o`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

const EXAMPLES: &str = "\
Examples:
  # Review what a template does on Ubuntu (prints every file with its path and mode)
  plumber-render --distro ubuntu examples/comprehensive.yaml

  # Only the templates whose nodeSelector matches this node's labels
  plumber-render --distro rhel9 --node-labels rack=r1,kubernetes.io/hostname=worker-1 templates/

  # Resolve vendor/device and PCI selectors to interface names with a node's HostNetwork
  plumber-render --distro rhel8 --inventory worker-1.hostnetwork.yaml sriov.yaml

  # Build an image: write the tree (with modes) or a tarball rooted at /
  plumber-render --distro debian --out ./rootfs cluster-templates/
  plumber-render --distro ubuntu --tar net.tar cluster-templates/

  # Compare with what a host has installed (exit 2 when different)
  plumber-render --distro ubuntu --diff / cluster-templates/
  plumber-render --distro ubuntu --check / cluster-templates/

  # A whole cluster: one directory per node, in parallel
  kubectl get nodes -o yaml > nodes.yaml
  plumber-render --distro rhel9 --nodes nodes.yaml --inventories hostnetworks/ --out fleet/ cluster-templates/
  plumber-render --distro rhel9 --nodes nodes.yaml --no-write cluster-templates/   # only report failing nodes

  # The merged desired state (NodeConfig) instead of files, as YAML or JSON
  plumber-render --distro ubuntu --node-config examples/comprehensive.yaml
  plumber-render --distro ubuntu --node-config -o json examples/comprehensive.yaml

  # The HostPlumber README's examples, bundled in the binary
  plumber-render --distro ubuntu --examples

Exit codes: 0 ok / identical, 1 invalid input or error, 2 differences (--check, --diff).";

/// The version `--version` and the man page show: the crate's, and the commit it was built from
/// (build.rs; `unknown` outside a git checkout). Never written into rendered files.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PLUMBER_COMMIT"), ")");

/// Render HostNetworkTemplates (plumber.k8s.pf9.io/v1) into distro-native network files that survive a
/// reboot: ifcfg (rhel8), NetworkManager keyfiles (rhel9, rhel10), netplan (ubuntu), systemd-networkd
/// (debian, flatcar), plus udev rules for SR-IOV and an ovs-vsctl script with its boot unit.
#[derive(Parser, Debug)]
#[command(name = "plumber-render", version = VERSION, after_help = EXAMPLES)]
#[command(group(ArgGroup::new("mode").args(["out", "tar", "diff", "check", "node_config"])))]
pub struct Args {
    /// Template files or directories of *.yaml; `-` reads standard input.
    pub files: Vec<PathBuf>,

    /// Target distro: rhel8, rhel9, rhel10, ubuntu, debian, flatcar (or an alias, see --list-distros).
    #[arg(long)]
    pub distro: Option<String>,

    /// List the distro profiles and exit.
    #[arg(long)]
    pub list_distros: bool,

    /// The node's labels (k=v,k2=v2): only templates whose nodeSelector matches are used. Without it every
    /// template given is used.
    #[arg(long, value_name = "LABELS", value_parser = plumber_render::select::label_list)]
    pub node_labels: Option<Labels>,

    /// The node's HostNetwork YAML (as `plumber show` prints it): resolves vendor/device and PCI selectors
    /// and DPDK uplinks to devices, and checks numVfs against totalVfs.
    #[arg(long, value_name = "HOSTNETWORK.yaml")]
    pub inventory: Option<PathBuf>,

    /// With an inventory: an sriovConfig entry whose pfName, pciAddr or vendorId/deviceId matches no
    /// NIC is an error (nothing is rendered). Without it such an entry is left out with a warning and
    /// the rest is rendered (best effort); a template annotated plumber.k8s.pf9.io/strict: "true" is
    /// strict on its own.
    #[arg(long)]
    pub strict: bool,

    /// Write the files under DIR as if DIR were / (with their modes). Symlinks in DIR are resolved inside
    /// it, as in a chroot; a file's own symlink is replaced, not written through. Plumber's files already
    /// in DIR that the rendering no longer contains (its file name and header, or listed in its
    /// manifest) are removed, each reported; other files are never touched.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write the files as a tar archive rooted at / (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub tar: Option<PathBuf>,

    /// Show a unified diff against the files installed under ROOT (symlinks resolved inside it, as in a
    /// chroot); plumber's files there that the rendering no longer contains are shown as deletions (to
    /// /dev/null). Exit 2 when they differ.
    #[arg(long, value_name = "ROOT")]
    pub diff: Option<PathBuf>,

    /// Exit 0 when the files under ROOT are identical to the rendering, 2 when not: each file that
    /// differs is named (`differs: PATH`), and each file of plumber's the rendering no longer contains
    /// (`stale: PATH`).
    #[arg(long, value_name = "ROOT")]
    pub check: Option<PathBuf>,

    /// Print the merged desired state (NodeConfig) instead of files, in the --output format.
    #[arg(long)]
    pub node_config: bool,

    /// With --node-config: yaml (the default; every string a YAML 1.1 reader could mistype is quoted)
    /// or json. The same flag as `plumber show -o` and `plumber apply -o`.
    #[arg(
        short,
        long,
        value_enum,
        default_value = "yaml",
        requires = "node_config"
    )]
    pub output: Format,

    /// Fleet mode: `kubectl get nodes -o yaml` output; renders every node into OUT/<node>/ (needs --out,
    /// or --no-write), removing stale files as --out does. A node that fails keeps its directory as it
    /// was, marked by OUT/<node>/RENDER-FAILED (exit 1); directories of nodes not listed are reported.
    #[arg(long, value_name = "NODES.yaml")]
    pub nodes: Option<PathBuf>,

    /// Fleet mode: render every node and report the ones that fail (conflicts, missing devices), but
    /// write nothing. A cheap CI gate for a template change.
    #[arg(long, requires = "nodes", conflicts_with = "out")]
    pub no_write: bool,

    /// Fleet mode: a directory of per-node HostNetwork YAML named <node>.yaml.
    #[arg(long, value_name = "DIR", requires = "nodes")]
    pub inventories: Option<PathBuf>,

    /// Render the HostPlumber README examples bundled in this binary, each on its own.
    #[arg(long, conflicts_with_all = ["files", "nodes", "inventory", "node_labels", "diff", "check", "tar"])]
    pub examples: bool,

    /// Colour `--diff`'s output: auto (when standard output is a terminal and NO_COLOR is not set),
    /// always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,

    /// Print the completion script for SHELL and exit (e.g. `plumber-render --completions bash >
    /// /etc/bash_completion.d/plumber-render`).
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<Shell>,

    /// Print the man page (roff) and exit (e.g. `plumber-render --man | man -l -`).
    #[arg(long, exclusive = true)]
    pub man: bool,
}
