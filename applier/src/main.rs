//! `plumber`, the node applier. So far one command: `show` prints the node's state as a HostNetwork.
//! `apply` and `agent` come next (their library pieces are in this crate).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// plumber: host networking for Kubernetes nodes, on the node.
#[derive(Parser)]
#[command(
    name = "plumber",
    version,
    after_help = "Examples:\n  plumber show\n  plumber show -o json --node-name worker-1 > worker-1.json\n  plumber-render --distro rhel9 --inventory <(plumber show) templates/"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the node's network state as a HostNetwork object (the format `plumber-render --inventory`
    /// reads and the agent publishes).
    Show {
        #[arg(short, long, value_enum, default_value = "yaml")]
        output: Format,
        /// Where sysfs is (a fixture tree in tests).
        #[arg(long, default_value = "/sys")]
        sysfs: PathBuf,
        /// The node name to publish under (default: $NODE_NAME, else the hostname).
        #[arg(long)]
        node_name: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plumber: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Show {
            output,
            sysfs,
            node_name,
        } => {
            let state = plumber::netlink::run(async {
                let h = plumber::netlink::connection()?;
                plumber::netlink::discover(&h).await
            })?;
            let node = node_name.unwrap_or_else(plumber::show::node_name);
            let hn = plumber::show::host_network(&node, &state, &sysfs)?;
            match output {
                Format::Yaml => print!("{}", serde_yaml::to_string(&hn)?),
                Format::Json => println!("{}", serde_json::to_string_pretty(&hn)?),
            }
        }
    }
    Ok(())
}
