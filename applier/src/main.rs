//! `plumber`, the node applier. `show` prints the node's state as a HostNetwork; `apply --dry-run`
//! prints what an apply would change. Applying for real and the agent come next (their library pieces
//! are in this crate).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// plumber: host networking for Kubernetes nodes, on the node.
#[derive(Parser)]
#[command(
    name = "plumber",
    version,
    after_help = "Examples:\n  plumber show\n  plumber show -o json --node-name worker-1 > worker-1.json\n  plumber-render --distro rhel9 --inventory <(plumber show) templates/\n  plumber apply --dry-run -f templates/ --node-labels rack=r1"
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
    /// Make the node match the templates that select it. Only `--dry-run` exists yet: it prints the
    /// files that would be written or removed and the link, address and route changes, and changes
    /// nothing.
    Apply {
        /// Template files or directories of *.yaml.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// The node's labels (k=v,...); without it every template given is used.
        #[arg(long)]
        node_labels: Option<String>,
        /// The root the files go under; its /etc/os-release picks the distro.
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Override the distro found in ROOT/etc/os-release.
        #[arg(long)]
        distro: Option<String>,
        #[arg(long, default_value = "/sys")]
        sysfs: PathBuf,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(short, long, value_enum, default_value = "text")]
        output: PlanFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
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
        Cmd::Apply {
            files,
            node_labels,
            root,
            distro,
            sysfs,
            dry_run,
            output,
        } => {
            if !dry_run {
                anyhow::bail!("apply without --dry-run is not built yet; `plumber apply --dry-run` shows what it would do");
            }
            let sources = plumber_render::read_sources(&files)?;
            let templates = plumber_render::load(&sources)?;
            let labels = node_labels
                .as_deref()
                .map(plumber_render::select::parse_labels)
                .transpose()?;
            let distro = match distro {
                Some(d) => plumber_render::distro::Distro::by_name(&d)?,
                None => plumber::dry_run::distro_of(&root)?,
            };
            let state = plumber::netlink::run(async {
                let h = plumber::netlink::connection()?;
                plumber::netlink::discover(&h).await
            })?;
            let inventory =
                plumber::show::host_network(&plumber::show::node_name(), &state, &sysfs)?;
            let plan = plumber::dry_run::dry_run(
                &templates,
                labels.as_ref(),
                &inventory,
                &state,
                &root,
                &distro,
            )?;
            match output {
                PlanFormat::Text => print!("{plan}"),
                PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
            }
        }
    }
    Ok(())
}
