//! The renderer's integration tests: one binary (as ripgrep does), one module per concern.
//!
//! Tests that need a real consumer (netplan, nmcli, ovsdb-server, bash) fail when it is missing: the
//! README's test command installs them.

mod common;

mod cli;
mod cli_docs;
mod device_plugin;
mod diff_colour;
mod errors;
mod golden;
mod host_links;
mod ifcfg_shell;
mod injection;
mod input;
mod keyfile_nmcli;
mod netplan_generate;
mod networkd_oracle;
mod networks;
mod out_symlinks;
mod ovs_ovsdb;
mod readme;
mod sriov_udev;
mod stale;
mod yaml_readers;
