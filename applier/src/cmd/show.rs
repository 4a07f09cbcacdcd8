//! `plumber show`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Print the node's network state as a HostNetwork object (the format `plumber-render --inventory`
/// reads and the agent publishes).
#[derive(Args)]
pub(crate) struct Show {
    /// yaml (the default, the inventory format; every string a YAML 1.1 reader could mistype is quoted)
    /// or json. The same flag as `plumber apply -o` and `plumber-render --node-config -o`.
    #[arg(short, long, value_enum, default_value = "yaml")]
    output: Format,
    /// Where sysfs is (a fixture tree in tests).
    #[arg(long, default_value = "/sys")]
    sysfs: PathBuf,
    /// The node name to publish under (default: $NODE_NAME, else the hostname).
    #[arg(long)]
    node_name: Option<String>,
    /// OVSDB's unix socket (default: ovs-vsctl's own). OVS bridges are shown when OVSDB answers.
    #[arg(long)]
    ovsdb_socket: Option<PathBuf>,
    /// The root the state directory and the SR-IOV device plugin's configuration
    /// (`/etc/pcidp/config.json`, for `status.pools`) are read under.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// The state directory of `plumber apply` (under --root), whose record names the NICs it bound to
    /// vfio-pci (they have no network interface left to name them).
    #[arg(long, default_value = plumber::node::install::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

pub(crate) fn run(c: Show) -> u8 {
    match show(c) {
        Ok(()) => 0,
        Err(e) => {
            super::report(&*e);
            1
        }
    }
}

fn show(c: Show) -> anyhow::Result<()> {
    let state = plumber::node::netlink::run(async {
        let h = plumber::node::netlink::connection()?;
        plumber::node::netlink::discover(&h).await
    })?;
    let node = c.node_name.unwrap_or_else(plumber::node::show::node_name);
    let mut hn = plumber::node::show::host_network(&node, &state, &c.sysfs)?;
    // Under the root, as `plumber apply --state-dir` is.
    let state_dir = c
        .root
        .join(c.state_dir.strip_prefix("/").unwrap_or(&c.state_dir));
    plumber::node::show::name_bound_nics(&mut hn, &state_dir);
    plumber::node::show::set_pools(&c.root, &mut hn.status).map_err(anyhow::Error::msg)?;
    let db = super::ovsdb(c.ovsdb_socket.as_deref());
    if db.reachable() {
        hn.status
            .set_ovs(plumber::node::ovs::status(&plumber::node::ovs::discover(
                &db,
            )?));
    }
    match c.output {
        Format::Yaml => print!("{}", plumber_render::yaml::to_string(&hn)?),
        Format::Json => println!("{}", serde_json::to_string_pretty(&hn)?),
    }
    Ok(())
}
