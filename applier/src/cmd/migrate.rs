//! `plumber migrate`.

use std::path::PathBuf;

use clap::Args;
use plumber::cluster::migrate::{self, Options};

/// Switch a cluster from HostPlumber to plumber: export HostPlumber's namespaced HostNetworkTemplates
/// (all namespaces), remove its ovsFinalizer, replace its namespaced CRDs with plumber's
/// cluster-scoped ones and create the templates again with the same name, labels, annotations and
/// spec. Refuses, changing nothing, while HostPlumber's agent runs, when two namespaces hold a
/// template of one name, or when plumber would not accept a template. Each step is safe to repeat:
/// running again after an interruption finishes the job.
#[derive(Args)]
#[command(
    after_help = "Environment: the API server from KUBECONFIG (or the in-cluster config); it needs to read\nDaemonSets, read and delete CRDs and templates, and create CRDs and templates (an administrator).\n\nExamples:\n  kubectl delete daemonset hostplumber-controller-manager -n luigi-system\n  plumber migrate --dry-run --export hostplumber-templates.yaml\n  plumber migrate --export hostplumber-templates.yaml\n  plumber migrate --from-export hostplumber-templates.yaml   # after an interrupted run\n\nExit codes: 0 done (or nothing to do), 1 refused or a step failed (see the message; run again to\nfinish), 2 bad command line."
)]
pub(crate) struct Migrate {
    /// Write HostPlumber's templates here before anything changes (needed while its CRD is there).
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Take the templates from an export an earlier, interrupted run wrote (once HostPlumber's
    /// HostNetworkTemplate CRD is gone).
    #[arg(long, value_name = "FILE", conflicts_with = "export")]
    from_export: Option<PathBuf>,
    /// Read and check as a run would, print the steps it would take, change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) fn run(m: Migrate) -> u8 {
    let opts = Options {
        export: m.export,
        from_export: m.from_export,
        dry_run: m.dry_run,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            super::report(&e);
            return 1;
        }
    };
    let result = rt.block_on(async {
        let client = kube::Client::try_default().await.map_err(|e| {
            anyhow::Error::new(e)
                .context("connecting to the API server (KUBECONFIG or in-cluster config)")
        })?;
        let mut out = std::io::stdout().lock();
        Ok::<_, anyhow::Error>(migrate::run(&client, &opts, &mut out).await?)
    });
    match result {
        Ok(sum) if sum.is_noop() => {
            println!(
                "nothing to do: plumber's CRDs are installed, no HostPlumber CRD is left{}",
                if sum.present > 0 {
                    format!(", and the export's {} template(s) are there", sum.present)
                } else {
                    String::new()
                }
            );
            0
        }
        Ok(sum) => {
            let would = if opts.dry_run {
                "dry run, would have: "
            } else {
                "done: "
            };
            println!(
                "{would}{} template(s) exported, {} finalizer(s) removed, {} HostPlumber CRD(s) deleted (with {} HostNetwork(s)), {} plumber CRD(s) installed, {} template(s) created, {} already there",
                sum.exported,
                sum.finalizers_removed,
                sum.crds_deleted,
                sum.host_networks_deleted,
                sum.crds_installed,
                sum.created,
                sum.present
            );
            0
        }
        Err(e) => {
            super::report(&*e);
            1
        }
    }
}
