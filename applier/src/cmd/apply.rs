//! `plumber apply`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use plumber::node::apply::{self, Outcome, Prune, Scope, Stage, Target};

/// Make the node match the templates that select it: install the rendered files atomically and
/// enforce links, MTUs, VLANs, bonds, bridges, addresses, routes and SR-IOV at runtime; verify, and
/// roll everything back if any of it fails. `--dry-run` prints the plan and changes nothing.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  plumber apply --dry-run -f templates/\n  plumber apply -f templates/ --node-labels node-role=worker,rack=r1\n  plumber apply -f templates/ --files-only --root /mnt/image --distro rhel9\n  plumber apply -f templates/ --node-labels node-role=worker --prune   # let go of templates no longer selected\n\nExit codes: 0 done (or nothing to do), 1 refused or failed before changing anything, 2 bad command\nline, 3 failed and rolled back (the node is as it was), 4 failed and the rollback failed too.\nThe outcome of the last apply is kept in STATE_DIR/last-apply.json."
)]
pub(crate) struct Apply {
    /// Template files or directories of *.yaml.
    #[arg(short = 'f', long = "file", required = true)]
    files: Vec<PathBuf>,
    /// The node's labels (k=v,...); without it every template given is used.
    #[arg(long, value_name = "LABELS", value_parser = plumber_render::select::label_list)]
    node_labels: Option<plumber_render::select::Labels>,
    /// The root the files go under; its /etc/os-release picks the distro.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Override the distro found in ROOT/etc/os-release.
    #[arg(long)]
    distro: Option<String>,
    /// Where sysfs is (a fixture tree in tests).
    #[arg(long, default_value = "/sys")]
    sysfs: PathBuf,
    /// The state directory (manifest, journal, last-apply.json, lock), under ROOT.
    #[arg(long, default_value = plumber::node::install::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// The node name for the inventory SR-IOV PFs resolve against (default: $NODE_NAME, else the
    /// hostname).
    #[arg(long)]
    node_name: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Let go of what earlier applies made for templates this apply does not select (templates no
    /// longer given or no longer matching --node-labels): their files, links, addresses, routes and OVS
    /// bridges. Without it such an apply is refused, and changes nothing, so that a mistyped label or
    /// the wrong file never wipes the node. Entries dropped from a selected template are let go anyway.
    #[arg(long)]
    prune: bool,
    /// Only install the files (for an image, or a node rebooted next).
    #[arg(long, conflicts_with = "runtime_only")]
    files_only: bool,
    /// Only change the running node; leave the files alone.
    #[arg(long)]
    runtime_only: bool,
    /// OVSDB's unix socket, for a non-standard install or a test database (changes are then not
    /// waited on ovs-vswitchd). Default: ovs-vsctl's own (the system database).
    #[arg(long)]
    ovsdb_socket: Option<PathBuf>,
    /// Connectivity guard: a TCP endpoint the node must still reach after the changes if it did
    /// before (besides its default gateways); repeatable.
    #[arg(long = "reach", value_name = "HOST:PORT", value_parser = plumber::node::guard::probe::resolve)]
    reach: Vec<plumber::node::guard::Endpoint>,
    /// Connectivity guard: how long the probes that answered before the changes have to answer
    /// again (0 turns the guard off).
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = seconds)]
    guard_timeout: std::time::Duration,
    /// Connectivity guard: apply a plan that removes the address, route or link through which a
    /// default gateway or a --reach endpoint is reached (the probes are still checked afterwards).
    #[arg(long)]
    allow_disconnect: bool,
    /// All or nothing: refuse (exit 1, nothing changed) when a template entry selects a device this
    /// node does not have (an SR-IOV PF by pfName, pciAddr or vendorId/deviceId). Without it such an
    /// entry is skipped and reported, and the rest is applied (best effort); a template annotated
    /// plumber.k8s.pf9.io/strict: "true" is strict on its own.
    #[arg(long)]
    strict: bool,
    /// text (lines, the default), or the plan (--dry-run) or the record (last-apply.json's schema) as
    /// yaml or json: the same `changes` either way (README, "The plan and the record").
    #[arg(short, long, value_enum, default_value = "text")]
    output: PlanFormat,
    /// Keep the node so: apply now, then again after netlink reports a change to links, addresses or
    /// routes (debounced), and every --resync-secs in any case, until SIGTERM or SIGINT.
    #[arg(long, conflicts_with = "dry_run")]
    watch: bool,
    /// With --watch: quiet time after a burst of netlink events before re-applying.
    #[arg(long, default_value_t = 200, requires = "watch")]
    debounce_ms: u64,
    /// With --watch: re-apply this often even without events (the backstop for changes netlink does
    /// not report: sysfs, OVSDB, files).
    #[arg(long, default_value_t = 60, requires = "watch")]
    resync_secs: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Text,
    Yaml,
    Json,
}

/// `value` as YAML (every string a YAML 1.1 reader could mistype quoted) or pretty JSON.
fn structured<T: serde::Serialize>(value: &T, yaml: bool) -> String {
    if yaml {
        plumber_render::yaml::to_string(value).expect("a plan or record serializes")
    } else {
        serde_json::to_string_pretty(value).expect("a plan or record serializes") + "\n"
    }
}

impl Apply {
    /// A dry run prints the plan and changes nothing (and does not watch).
    pub(crate) fn prints_only(&self) -> bool {
        self.dry_run && !self.watch
    }
}

pub(crate) fn run(c: Apply) -> u8 {
    let prune = if c.prune {
        Prune::Allowed
    } else {
        Prune::Guarded
    };
    match prepare(&c) {
        Ok((target, templates, labels)) => {
            if c.watch {
                let cfg = plumber::node::watch::WatchConfig {
                    debounce: std::time::Duration::from_millis(c.debounce_ms),
                    resync: std::time::Duration::from_secs(c.resync_secs),
                };
                let result = plumber::node::netlink::run(async {
                    let stop = plumber::node::watch::shutdown_signal()?;
                    let h = plumber::node::netlink::connection()?;
                    let (h, t, tp, l) = (&h, &target, &templates[..], labels.as_ref());
                    let apply = move |_| apply::apply(h, t, tp, l, prune);
                    plumber::node::watch::watch(cfg, apply, stop).await
                });
                match result {
                    Ok(stats) => {
                        eprintln!(
                            "plumber watch: stopped after {} passes ({} repairs, {} failed)",
                            stats.passes, stats.repairs, stats.errors
                        );
                        0
                    }
                    Err(e) => {
                        super::report(&e);
                        1
                    }
                }
            } else if c.dry_run {
                match dry_run(&target, &templates, labels.as_ref(), prune, c.output) {
                    Ok(()) => 0,
                    Err(e) => {
                        super::report(&*e);
                        1
                    }
                }
            } else {
                let result = plumber::node::netlink::run(async {
                    let h = plumber::node::netlink::connection()?;
                    apply::apply(&h, &target, &templates, labels.as_ref(), prune).await
                });
                let code = apply::exit_code(&result);
                match result {
                    Ok(a) => print_applied(&a, c.output),
                    Err(e) => super::report(&e),
                }
                code
            }
        }
        Err(e) => {
            super::report(&*e);
            1
        }
    }
}

/// Seconds, possibly fractional (`0.5`).
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    let n: f64 = s.parse().map_err(|e| format!("{s}: {e}"))?;
    std::time::Duration::try_from_secs_f64(n).map_err(|e| format!("{s}: {e}"))
}

type Prepared = (
    Target,
    Vec<plumber_render::parse::Loaded>,
    Option<plumber_render::select::Labels>,
);

fn prepare(c: &Apply) -> anyhow::Result<Prepared> {
    let t = std::time::Instant::now();
    let input = plumber_render::read_input(&c.files)?;
    for n in &input.notes {
        eprintln!("plumber: note: {n}");
    }
    for w in &input.warnings {
        eprintln!("plumber: warning: {w}");
    }
    let templates = input.templates;
    plumber::node::timing("read and parse templates", t);
    let labels = c.node_labels.clone();
    let distro = match &c.distro {
        Some(d) => plumber_render::distro::Distro::by_name(d)?,
        None => apply::distro_of(&c.root)?,
    };
    let scope = match (c.files_only, c.runtime_only) {
        (true, _) => Scope::Files,
        (_, true) => Scope::Runtime,
        _ => Scope::All,
    };
    let target = Target {
        root: c.root.clone(),
        state_dir: c.state_dir.clone(),
        sysfs: c.sysfs.clone(),
        distro,
        scope,
        node_name: c
            .node_name
            .clone()
            .unwrap_or_else(plumber::node::show::node_name),
        ovsdb: super::ovsdb(c.ovsdb_socket.as_deref()),
        guard: plumber::node::guard::Guard {
            timeout: c.guard_timeout,
            endpoints: c.reach.clone(),
            allow_disconnect: c.allow_disconnect,
            ..Default::default()
        },
        strict: c.strict,
    };
    Ok((target, templates, labels))
}

fn dry_run(
    target: &Target,
    templates: &[plumber_render::parse::Loaded],
    labels: Option<&plumber_render::select::Labels>,
    prune: Prune,
    output: PlanFormat,
) -> anyhow::Result<()> {
    let mut found = plumber::node::netlink::run(async {
        let h = plumber::node::netlink::connection()?;
        apply::discover(&h, target).await
    })?;
    let desired = apply::Desired::new(templates, labels, &found.inventory, target)?;
    apply::discover_for(target, &desired, &mut found)?;
    let (plan, _) = apply::plan_node(target, &desired, &found)?;
    match output {
        PlanFormat::Text => {
            // Formatted first, then one write (as the apply's output: `print_applied`).
            let text = plan.to_string();
            print!("{text}");
        }
        PlanFormat::Yaml => print!("{}", structured(&plan, true)),
        PlanFormat::Json => print!("{}", structured(&plan, false)),
    }
    // The plan, then the refusal the apply would meet.
    apply::selection::check(prune, &plan, templates, labels)?;
    apply::check_guard(target, &desired, &found, &plan)?;
    Ok(())
}

fn print_applied(a: &apply::Applied, output: PlanFormat) {
    match output {
        PlanFormat::Yaml => print!("{}", structured(&a.record, true)),
        PlanFormat::Json => print!("{}", structured(&a.record, false)),
        // One string, one write: `println!` per line is a write(2) per line (stdout flushes at every
        // newline), 2000 of them after a 500-interface apply.
        PlanFormat::Text => print!("{}", applied_text(a)),
    }
}

/// The text output of an apply: what was skipped, the changes, the guard's probes, a summary line.
fn applied_text(a: &apply::Applied) -> String {
    use std::fmt::Write as _;
    let r = &a.record;
    let names: Vec<&str> = r.templates.iter().map(|t| t.name.as_str()).collect();
    let names = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    let mut out = String::new();
    for s in &r.skipped {
        let _ = writeln!(out, "skipped: {s}");
    }
    match a.outcome {
        Outcome::Unchanged => {
            let _ = writeln!(out, "plumber: nothing to do (templates: {names})");
        }
        _ => {
            let (files, ops): (Vec<_>, Vec<_>) =
                r.changes.iter().partition(|c| c.stage == Stage::File);
            for f in &files {
                let _ = writeln!(out, "file: {}", f.text);
            }
            for o in &ops {
                let _ = writeln!(out, "done: {}", o.text);
            }
            for g in &r.guard {
                let _ = writeln!(out, "guard: {g}");
            }
            let _ = writeln!(
                out,
                "plumber: applied {} file changes and {} runtime changes (templates: {})",
                files.len(),
                ops.len(),
                names
            );
        }
    }
    out
}
