//! `plumber-render`: HostNetworkTemplates in, distro-native network files out. Offline and pure: it
//! reads files and writes only where `--out`/`--tar` say; under `--out`, `--check` and `--diff`
//! directories every path is resolved inside the directory as if it were `/` (the library's rooted.rs).
//!
//! Exit codes: 0 success (and "identical" for `--check`/`--diff`), 1 invalid input or any error,
//! 2 differences found by `--check`/`--diff`.

mod args;
mod colour;
mod docs;
mod examples;
mod fleet;
mod output;
mod sriov_cache;
mod stale;

use std::process::ExitCode;

use clap::Parser;
use plumber_render::distro::Distro;
use plumber_render::inventory::HostNetwork;
use plumber_render::parse::Loaded;
use plumber_render::rooted;
use plumber_render::{node_config, Error};

use args::Args;

// Fleet mode allocates many small strings on every core; mimalloc's per-thread heaps make that about a
// third cheaper than glibc's malloc (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rust ignores SIGPIPE, so printing to a pipe whose reader has gone (`| head`) fails, and `print!`
/// panics on it. A program whose output is the point should end as `cat` does: quietly, by the signal.
fn exit_quietly_on_a_closed_pipe() {
    // SAFETY: resetting a signal's disposition to its default, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    exit_quietly_on_a_closed_pipe();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // With its causes, each once (plumber_render::report).
            eprintln!(
                "plumber-render: {}",
                plumber_render::report::with_causes(&*e).replace('\n', "\nplumber-render: ")
            );
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> anyhow::Result<u8> {
    if let Some(shell) = args.completions {
        docs::completions(shell);
        return Ok(0);
    }
    if args.man {
        docs::man()?;
        return Ok(0);
    }
    if args.list_distros {
        for d in Distro::all() {
            let aliases = if d.aliases.is_empty() {
                String::new()
            } else {
                format!(" (also: {})", d.aliases.join(", "))
            };
            println!("{:8} {}{}", d.name, d.description, aliases);
            println!("{:8} needs {}", "", d.host.requires);
        }
        return Ok(0);
    }
    if args.networks {
        let templates = read_input(&args.files)?;
        let refs: Vec<&Loaded> = templates.iter().collect();
        let nads = plumber_render::networks::networks(&refs)?;
        print!("{}", plumber_render::networks::to_yaml(&nads));
        return Ok(0);
    }
    let distro_name = args
        .distro
        .clone()
        .ok_or_else(|| Error::Usage("--distro is required (see --list-distros)".into()))?;
    if args.examples {
        return examples::run(&args, &distro_name);
    }
    if distro_name == "all" {
        return Err(Error::Usage(
            "--distro all renders the bundled examples (--examples) for every distro; for templates, \
             name one distro (see --list-distros)"
                .into(),
        )
        .into());
    }
    let distro = Distro::by_name(&distro_name)?;
    if distro.host.note_at_render {
        eprintln!(
            "plumber-render: note: {} files take effect only with {}",
            distro.name, distro.host.requires
        );
    }
    let t0 = std::time::Instant::now();
    let templates = read_input(&args.files)?;
    if std::env::var_os("PLUMBER_TIMING").is_some() {
        eprintln!(
            "plumber-render: timing: {} templates loaded in {:?}",
            templates.len(),
            t0.elapsed()
        );
    }

    if let Some(nodes) = &args.nodes {
        return fleet::run(&args, nodes, &templates, &distro);
    }

    let labels = args.node_labels.clone();
    let inventory = match &args.inventory {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p.display(), e))?;
            Some(HostNetwork::parse(&text, &p.display().to_string())?)
        }
        None => None,
    };
    let node = node_config(&templates, labels.as_ref(), inventory.as_ref())?;
    let refs: Vec<&plumber_render::parse::Loaded> = templates.iter().collect();
    plumber_render::best_effort::check(&node, &refs, args.strict)?;
    for l in plumber_render::best_effort::lines(&node) {
        eprintln!("plumber-render: warning: {l}");
    }
    if args.node_config {
        match args.output {
            args::Format::Yaml => print!("{}", plumber_render::yaml::to_string(&node)?),
            args::Format::Json => println!("{}", serde_json::to_string_pretty(&node)?),
        }
        return Ok(0);
    }
    let artifacts = plumber_render::render::render(&node, &distro)?;
    output::emit(&args, &distro, &artifacts)
}

/// The templates of the files given on the command line (see [`plumber_render::read_input`]), after
/// its notes and warnings on standard error.
fn read_input(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<Loaded>> {
    if files.is_empty() {
        return Err(Error::Usage(
            "no template files given (use - for standard input, or --examples)".into(),
        )
        .into());
    }
    let input = plumber_render::read_input(files)?;
    for n in &input.notes {
        eprintln!("plumber-render: note: {n}");
    }
    for w in &input.warnings {
        eprintln!("plumber-render: warning: {w}");
    }
    Ok(input.templates)
}
