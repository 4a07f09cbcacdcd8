//! `plumber migrate`: switching a running cluster from HostPlumber's namespaced CRDs to plumber's
//! cluster-scoped ones without losing a template.
//!
//! The steps, each safe to repeat, so that running again after an interruption finishes the job:
//!
//! 1. refuse while HostPlumber's agent runs (its DaemonSet, or its pods while they stop:
//!    [`hostplumber::is_agent`]): templates deleted under its finalizer would make it delete their OVS
//!    bridges on every node;
//! 2. read every HostPlumber template (all namespaces) and refuse, changing nothing, when two
//!    namespaces hold one name or plumber would not accept one ([`check`]);
//! 3. write them to the export file ([`export`]) before anything changes;
//! 4. remove HostPlumber's `ovsFinalizer` from them;
//! 5. delete HostPlumber's two CRDs (their templates and `HostNetwork`s go with them; plumber's agents
//!    publish their nodes' again) and wait until they are gone;
//! 6. install plumber's CRDs ([`crate::cluster::crd::crds`], the same as `deploy/crds/`) and wait until
//!    they are established;
//! 7. create every template cluster-scoped with its name, labels, annotations and spec (server-side
//!    apply, field manager `plumber-migrate`) and check the server holds that spec.
//!
//! A run interrupted after step 5 began finds HostPlumber's template CRD gone (or going): its
//! templates are then only in the export, and `--from-export FILE` takes them from there. A run
//! after the switch finds plumber's CRDs and changes nothing. `--dry-run` reads and checks as a run
//! would and says what it would do.

mod api;
mod check;
mod error;
mod export;
mod hostplumber;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use kube::Client;

pub use error::{Agent, MigrateError};

use api::Scope;
use export::Exported;

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where to write HostPlumber's templates before anything changes (needed while its CRD is there).
    pub export: Option<PathBuf>,
    /// An export an earlier run wrote: the templates to create once HostPlumber's CRD is gone.
    pub from_export: Option<PathBuf>,
    /// Read and check, say what would be done, change nothing.
    pub dry_run: bool,
}

/// What was done (or, with `--dry-run`, would be).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Templates written to the export.
    pub exported: usize,
    /// `ovsFinalizer`s removed.
    pub finalizers_removed: usize,
    /// HostPlumber CRDs deleted, and the `HostNetwork`s deleted with them.
    pub crds_deleted: usize,
    pub host_networks_deleted: usize,
    /// plumber CRDs installed.
    pub crds_installed: usize,
    /// Templates created, and those already there with the same spec.
    pub created: usize,
    pub present: usize,
}

impl Summary {
    /// Whether nothing was (or would be) changed.
    pub fn is_noop(&self) -> bool {
        *self
            == Summary {
                present: self.present,
                ..Summary::default()
            }
    }
}

/// Runs the migration against the cluster of `client`, saying each step on `out`.
pub async fn run(
    client: &Client,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<Summary, MigrateError> {
    // A step as done, or as it would be: `say("export", "exported")`.
    let say = |now: &str, done: &str| {
        if opts.dry_run {
            format!("would {now}")
        } else {
            done.to_string()
        }
    };
    let mut sum = Summary::default();
    let templates_crd = api::scope(client, hostplumber::TEMPLATES_CRD).await?;
    let networks_crd = api::scope(client, hostplumber::HOST_NETWORKS_CRD).await?;
    let hostplumbers = [templates_crd, networks_crd]
        .iter()
        .any(|s| matches!(s, Scope::HostPlumber { .. }));
    if hostplumbers {
        let agents = api::hostplumber_agents(client).await?;
        if !agents.is_empty() {
            return Err(MigrateError::AgentRunning(agents));
        }
    }

    // What HostPlumber's CRD still holds (finalizers to remove), and the templates to create.
    let listed = match templates_crd {
        Scope::HostPlumber { .. } => api::hostplumber_templates(client).await?,
        _ => Vec::new(),
    };
    let live = templates_crd == Scope::HostPlumber { terminating: false };
    let templates: Vec<Exported> = match (&opts.from_export, templates_crd) {
        (Some(_), _) if live => return Err(MigrateError::ExportNotNeeded),
        (Some(path), _) => {
            let t = export::read(path)?;
            let _ = writeln!(out, "read {} template(s) from {}", t.len(), path.display());
            t
        }
        (None, Scope::HostPlumber { terminating: false }) => {
            listed.iter().map(api::exported).collect()
        }
        (None, Scope::HostPlumber { terminating: true }) => {
            return Err(MigrateError::NeedExport("being deleted"))
        }
        (None, Scope::Absent) => return Err(MigrateError::NeedExport("gone")),
        (None, Scope::Plumber) => Vec::new(),
    };
    check::templates(&templates)?;

    if live {
        let Some(path) = &opts.export else {
            return Err(MigrateError::NoExportFile(templates.len()));
        };
        if !opts.dry_run {
            export::write(path, &templates)?;
        }
        let namespaces: BTreeSet<&str> = templates
            .iter()
            .map(|t| t.metadata.namespace.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{} {} HostPlumber template(s) from {} namespace(s) to {}",
            say("export", "exported"),
            templates.len(),
            namespaces.len(),
            path.display()
        );
        sum.exported = templates.len();
    }

    for o in &listed {
        let has = o
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == hostplumber::OVS_FINALIZER);
        if has && (opts.dry_run || api::remove_finalizer(client, o).await?) {
            let e = api::exported(o);
            let _ = writeln!(
                out,
                "{} {} from template {}",
                say("remove", "removed"),
                hostplumber::OVS_FINALIZER,
                e.id()
            );
            sum.finalizers_removed += 1;
        }
    }

    for (name, scope) in [
        (hostplumber::TEMPLATES_CRD, templates_crd),
        (hostplumber::HOST_NETWORKS_CRD, networks_crd),
    ] {
        if !matches!(scope, Scope::HostPlumber { .. }) {
            continue;
        }
        let mut with = String::new();
        if name == hostplumber::HOST_NETWORKS_CRD {
            let n = api::count_host_networks(client).await?;
            sum.host_networks_deleted = n;
            with = format!(
                " (with its {n} HostNetwork(s): plumber's agents publish their nodes' again)"
            );
        }
        if !opts.dry_run {
            api::delete_crd(client, name).await?;
        }
        let _ = writeln!(
            out,
            "{} HostPlumber's namespaced CRD {name}{with}",
            say("delete", "deleted")
        );
        sum.crds_deleted += 1;
    }

    for crd in crate::cluster::crd::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let before = if name == hostplumber::TEMPLATES_CRD {
            templates_crd
        } else {
            networks_crd
        };
        if before == Scope::Plumber {
            continue;
        }
        if !opts.dry_run {
            api::install_crd(client, &crd).await?;
        }
        let _ = writeln!(
            out,
            "{} plumber's cluster-scoped CRD {name}",
            say("install", "installed")
        );
        sum.crds_installed += 1;
    }
    if !opts.dry_run {
        for crd in crate::cluster::crd::crds() {
            api::established(client, crd.metadata.name.as_deref().unwrap_or_default()).await?;
        }
    }

    let mut differs = Vec::new();
    for t in &templates {
        let name = &t.metadata.name;
        let existing = if templates_crd == Scope::Plumber {
            api::plumber_template(client, name).await?
        } else {
            None
        };
        match existing {
            Some(e) if e.spec == t.spec => sum.present += 1,
            Some(_) => differs.push(format!("{name} (exported from {})", t.id())),
            None if opts.dry_run => {
                let _ = writeln!(out, "would create template {name} (from {})", t.id());
                sum.created += 1;
            }
            None => {
                api::create_template(client, t).await?;
                verify(client, t).await?;
                let _ = writeln!(
                    out,
                    "created template {name} (from {}), spec checked",
                    t.id()
                );
                sum.created += 1;
            }
        }
    }
    if !differs.is_empty() {
        return Err(MigrateError::Differs(differs));
    }
    Ok(sum)
}

/// Checks that plumber's template `t.metadata.name` holds `t`'s spec, labels and annotations.
async fn verify(client: &Client, t: &Exported) -> Result<(), MigrateError> {
    let got = api::plumber_template(client, &t.metadata.name).await?;
    let kept = got.as_ref().is_some_and(|g| {
        let labels = g.metadata.labels.clone().unwrap_or_default();
        let annotations = g.metadata.annotations.clone().unwrap_or_default();
        g.spec == t.spec
            && t.metadata
                .labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
            && t.metadata
                .annotations
                .iter()
                .all(|(k, v)| annotations.get(k) == Some(v))
    });
    if kept {
        Ok(())
    } else {
        Err(MigrateError::NotKept(t.metadata.name.clone()))
    }
}
