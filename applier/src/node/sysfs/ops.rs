//! SR-IOV changes through sysfs, in two halves: pure `plan_*` functions that turn (current, desired) into
//! a list of [`Planned`] steps, each with the steps that undo it, and an executor ([`run`]) that carries a
//! plan out against a sysfs root and, when a step fails, undoes the steps done before it.
//!
//! Every path in a step is relative to the sysfs root (`bus/pci/devices/0000:03:00.0/sriov_numvfs`), so a
//! plan prints the same on a host and against a test fixture.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plumber_render::model::{DriverName, PciAddr};

use super::discover::{link_basename, read_parsed};
use crate::node::{Error, Result};

/// How long [`bind_vf_driver`] waits for the VF to show up bound after probing. The kernel probes
/// synchronously, so this only bounds the wait for a slow driver.
const DRIVER_BIND_WAIT: Duration = Duration::from_secs(5);

/// `EBUSY` on Linux (every architecture).
const EBUSY: i32 = 16;

/// How often waits look at sysfs again.
const POLL: Duration = Duration::from_millis(2);

/// One value written to one sysfs attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysfsWrite {
    /// Relative to the sysfs root.
    pub(crate) path: PathBuf,
    /// Written as is, in one `write(2)`. `"\n"` clears `driver_override`.
    pub value: String,
}

/// One step of a sysfs plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Write(SysfsWrite),
    /// Wait (bounded, polling) until the device has exactly `count` `virtfnN` links.
    WaitVfs {
        pf: PciAddr,
        count: u32,
    },
    /// Wait (bounded, polling) until the device's `driver` link names `driver`.
    ExpectDriver {
        dev: PciAddr,
        driver: String,
    },
    /// Write `dev` to `bus/pci/drivers/<driver>/unbind` if it is bound to `driver` (the kernel answers
    /// `ENODEV` otherwise, and the driver directory is gone when its module is not loaded).
    Unbind {
        dev: PciAddr,
        driver: String,
    },
}

/// A step and the steps that undo it (run after undoing every later step of its plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub step: Step,
    pub(crate) inverse: Vec<Step>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Write(w) => write!(
                f,
                "write {:?} to {}",
                w.value.trim_end_matches('\n'),
                w.path.display()
            ),
            Step::WaitVfs { pf, count } => write!(f, "wait for {pf} to have {count} VFs"),
            Step::ExpectDriver { dev, driver } => {
                write!(f, "wait for {dev} to be bound to {driver}")
            }
            Step::Unbind { dev, driver } => write!(f, "unbind {dev} from {driver}"),
        }
    }
}

/// `bus/pci/devices/<pci>`, relative to the sysfs root.
pub(crate) fn device_path(pci: PciAddr) -> PathBuf {
    PathBuf::from(format!("bus/pci/devices/{pci}"))
}

fn write(path: impl Into<PathBuf>, value: impl Into<String>) -> Step {
    Step::Write(SysfsWrite {
        path: path.into(),
        value: value.into(),
    })
}

/// The steps that undo `done` (a prefix of a plan, or a whole plan that succeeded): the inverses of its
/// steps, last step first.
pub fn rollback_steps(done: &[Planned]) -> Vec<Step> {
    done.iter()
        .rev()
        .flat_map(|p| p.inverse.iter().cloned())
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Planning (pure)

/// Changing a PF's VF count from `from` to `to`, with `total` its `sriov_totalvfs`.
///
/// Nothing when `from == to`. The kernel refuses N→M with `EBUSY` when both are non-zero, so that goes
/// through 0. Each count write is followed by a wait for the `virtfnN` links; the inverse of a count write
/// writes the previous count back (so a rollback goes through 0 too).
pub fn plan_num_vfs(pf: PciAddr, from: u32, to: u32, total: u32) -> Result<Vec<Planned>> {
    if to > total {
        return Err(Error::Sysfs(format!(
            "{pf}: cannot create {to} VFs, the device supports at most {total} (sriov_totalvfs)"
        )));
    }
    let mut plan = Vec::new();
    if from == to {
        return Ok(plan);
    }
    let path = device_path(pf).join("sriov_numvfs");
    let count = |plan: &mut Vec<Planned>, prev: u32, next: u32| {
        plan.push(Planned {
            step: write(&path, next.to_string()),
            inverse: vec![
                write(&path, prev.to_string()),
                Step::WaitVfs { pf, count: prev },
            ],
        });
        plan.push(Planned {
            step: Step::WaitVfs { pf, count: next },
            inverse: vec![],
        });
    };
    if from != 0 && to != 0 {
        count(&mut plan, from, 0);
        count(&mut plan, 0, to);
    } else {
        count(&mut plan, from, to);
    }
    Ok(plan)
}

/// Binding VF `vf` to `driver`, given its current driver and `driver_override`.
///
/// Nothing when it is already bound to `driver` (except to correct an override naming another driver,
/// which would move the VF on the next probe). Otherwise: unbind from the current driver, set
/// `driver_override`, write the VF to `drivers_probe`, and wait until it is bound. The unbind comes
/// first so that the inverses, run in reverse, restore the override before re-binding the old driver
/// (the kernel refuses to bind a device to a driver its override does not name).
pub fn plan_bind_driver(
    vf: PciAddr,
    driver: &DriverName,
    current: Option<&str>,
    current_override: Option<&str>,
) -> Vec<Planned> {
    let driver = driver.as_str();
    let dev = device_path(vf);
    let override_path = dev.join("driver_override");
    let set_override = |plan: &mut Vec<Planned>| {
        if current_override != Some(driver) {
            plan.push(Planned {
                step: write(&override_path, driver),
                inverse: vec![write(
                    &override_path,
                    current_override.unwrap_or("\n").to_string(),
                )],
            });
        }
    };
    let mut plan = Vec::new();
    if current == Some(driver) {
        if current_override.is_some() {
            set_override(&mut plan);
        }
        return plan;
    }
    let drivers = Path::new("bus/pci/drivers");
    if let Some(cur) = current {
        plan.push(Planned {
            step: Step::Unbind {
                dev: vf,
                driver: cur.to_string(),
            },
            inverse: vec![
                write(drivers.join(cur).join("bind"), vf.to_string()),
                Step::ExpectDriver {
                    dev: vf,
                    driver: cur.to_string(),
                },
            ],
        });
    }
    set_override(&mut plan);
    plan.push(Planned {
        step: write("bus/pci/drivers_probe", vf.to_string()),
        inverse: vec![Step::Unbind {
            dev: vf,
            driver: driver.to_string(),
        }],
    });
    plan.push(Planned {
        step: Step::ExpectDriver {
            dev: vf,
            driver: driver.to_string(),
        },
        inverse: vec![],
    });
    plan
}

/// Setting a PF's `sriov_drivers_autoprobe` (whether new VFs get bound to their default driver).
pub fn plan_drivers_autoprobe(pf: PciAddr, current: Option<bool>, enable: bool) -> Vec<Planned> {
    if current == Some(enable) {
        return Vec::new();
    }
    let path = device_path(pf).join("sriov_drivers_autoprobe");
    let bit = |b: bool| if b { "1" } else { "0" };
    vec![Planned {
        step: write(&path, bit(enable)),
        inverse: vec![write(&path, bit(current.unwrap_or(!enable)))],
    }]
}

// ---------------------------------------------------------------------------------------------------
// Reading and doing

/// Sets PF `pf`'s VF count from `from` (what discovery found) to `to`, waiting up to `wait` for each
/// count to show. Refuses `to` above `sriov_totalvfs`, and a `from` that is no longer true. Returns the
/// plan carried out (undo it with [`rollback`]); on failure, what was done is already undone.
pub fn set_num_vfs(
    sysfs: &Path,
    pf: PciAddr,
    from: u32,
    to: u32,
    wait: Duration,
) -> Result<Vec<Planned>> {
    let dev = sysfs.join(device_path(pf));
    let total = read_parsed(&dev.join("sriov_totalvfs"), |s| s.parse().ok()).ok_or_else(|| {
        Error::Sysfs(format!(
            "{pf}: no readable sriov_totalvfs; the device does not do SR-IOV"
        ))
    })?;
    if let Some(now) = read_parsed::<u32>(&dev.join("sriov_numvfs"), |s| s.parse().ok()) {
        if now != from {
            return Err(Error::Sysfs(format!(
                "{pf} has {now} VFs, not {from} as planned; discover the node again"
            )));
        }
    }
    let plan = plan_num_vfs(pf, from, to, total)?;
    run(sysfs, &plan, wait)?;
    Ok(plan)
}

/// Binds VF `vf` to `driver` (its [canonical](DriverName::canonical) name); nothing when already bound.
/// Returns the plan carried out (undo it with [`rollback`]: previous override and driver).
pub fn bind_vf_driver(sysfs: &Path, vf: PciAddr, driver: &DriverName) -> Result<Vec<Planned>> {
    let dev = sysfs.join(device_path(vf));
    if !dev.exists() {
        return Err(Error::Sysfs(format!("{vf}: no such PCI device")));
    }
    let current = link_basename(&dev.join("driver"));
    let current_override = read_parsed(&dev.join("driver_override"), |s| {
        (!s.is_empty() && s != "(null)").then(|| s.to_string())
    });
    let plan = plan_bind_driver(
        vf,
        &driver.canonical(),
        current.as_deref(),
        current_override.as_deref(),
    );
    run(sysfs, &plan, DRIVER_BIND_WAIT)?;
    Ok(plan)
}

/// Sets PF `pf`'s `sriov_drivers_autoprobe`; nothing when it already is. Returns the plan carried out.
pub fn set_drivers_autoprobe(sysfs: &Path, pf: PciAddr, enable: bool) -> Result<Vec<Planned>> {
    let path = sysfs.join(device_path(pf)).join("sriov_drivers_autoprobe");
    let current = read_parsed(&path, |s| match s {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    });
    let plan = plan_drivers_autoprobe(pf, current, enable);
    run(sysfs, &plan, Duration::ZERO)?;
    Ok(plan)
}

/// Carries out `plan` against the sysfs root `sysfs`, each wait bounded by `wait`. When a step fails, runs
/// [`rollback_steps`] of the steps done and returns [`Error::SysfsApply`].
pub fn run(sysfs: &Path, plan: &[Planned], wait: Duration) -> Result<()> {
    run_with(sysfs, plan, wait, &mut write_attr)
}

/// [`run`] with the attribute writes done by `write` (given the full path): tests inject kernel errors
/// such as `EBUSY` that a file in a temp dir cannot produce.
pub fn run_with(
    sysfs: &Path,
    plan: &[Planned],
    wait: Duration,
    write: &mut dyn FnMut(&Path, &str) -> io::Result<()>,
) -> Result<()> {
    for (i, p) in plan.iter().enumerate() {
        if let Err(error) = execute(sysfs, &p.step, wait, write) {
            let mut rolled_back = Vec::new();
            let mut rollback_failed = Vec::new();
            for step in rollback_steps(&plan[..i]) {
                match execute(sysfs, &step, wait, write) {
                    Ok(()) => rolled_back.push(step.to_string()),
                    Err(e) => rollback_failed.push(format!("{step}: {e}")),
                }
            }
            let rollback = if !rollback_failed.is_empty() {
                format!(
                    "rollback failed, the device is neither as it was nor as desired: {}",
                    rollback_failed.join("; ")
                )
            } else if rolled_back.is_empty() {
                "nothing to roll back".to_string()
            } else {
                format!("rolled back: {}", rolled_back.join(", "))
            };
            return Err(Error::SysfsApply(Box::new(crate::node::Failed {
                at: p.step.to_string(),
                error,
                rolled_back,
                rollback_failed,
                rollback,
            })));
        }
    }
    Ok(())
}

/// Undoes a plan carried out earlier (all of [`rollback_steps`]; failures are collected, not fatal).
pub fn rollback(sysfs: &Path, done: &[Planned], wait: Duration) -> Result<()> {
    let failed: Vec<String> = rollback_steps(done)
        .iter()
        .filter_map(|s| {
            execute(sysfs, s, wait, &mut write_attr)
                .err()
                .map(|e| format!("{s}: {e}"))
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Sysfs(format!("rollback: {}", failed.join("; "))))
    }
}

/// One attribute write: the file must exist (sysfs attributes are never created), one `write(2)`.
fn write_attr(path: &Path, value: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(value.as_bytes())
}

/// One step; the error is a message without the step (the caller has it).
fn execute(
    sysfs: &Path,
    step: &Step,
    wait: Duration,
    write: &mut dyn FnMut(&Path, &str) -> io::Result<()>,
) -> Result<(), String> {
    match step {
        Step::Write(w) => write(&sysfs.join(&w.path), &w.value).map_err(|e| write_error(w, &e)),
        Step::WaitVfs { pf, count } => {
            let dev = sysfs.join(device_path(*pf));
            poll(wait, || virtfn_count(&dev) == *count).map_err(|waited| {
                format!(
                    "timed out after {waited:?}: {pf} has {} VFs, not {count}",
                    virtfn_count(&dev)
                )
            })
        }
        Step::Unbind { dev, driver } => {
            let link = sysfs.join(device_path(*dev)).join("driver");
            if link_basename(&link).as_deref() != Some(driver) {
                return Ok(());
            }
            let w = SysfsWrite {
                path: Path::new("bus/pci/drivers").join(driver).join("unbind"),
                value: dev.to_string(),
            };
            write(&sysfs.join(&w.path), &w.value).map_err(|e| write_error(&w, &e))
        }
        Step::ExpectDriver { dev, driver } => {
            let link = sysfs.join(device_path(*dev)).join("driver");
            poll(wait, || link_basename(&link).as_deref() == Some(driver)).map_err(|waited| {
                let now = match link_basename(&link) {
                    Some(d) => format!("bound to {d}"),
                    None => "unbound".to_string(),
                };
                format!(
                    "{dev} is {now} after {waited:?}, not bound to {driver}: is the {driver} module \
                     loaded, and does it handle this device?"
                )
            })
        }
    }
}

fn write_error(w: &SysfsWrite, e: &io::Error) -> String {
    let numvfs = w.path.file_name().is_some_and(|n| n == "sriov_numvfs");
    if numvfs && e.raw_os_error() == Some(EBUSY) {
        format!(
            "{e}: the kernel cannot change the number of VFs while VFs are in use (assigned to a VM or \
             pod, or held by their driver); free them, then apply again"
        )
    } else {
        e.to_string()
    }
}

/// Polls `done` until it holds or `wait` has passed (then `Err(elapsed)`); always looks at least once.
fn poll(wait: Duration, mut done: impl FnMut() -> bool) -> Result<(), Duration> {
    let start = Instant::now();
    loop {
        if done() {
            return Ok(());
        }
        let elapsed = start.elapsed();
        if elapsed >= wait {
            return Err(elapsed);
        }
        std::thread::sleep(POLL.min(wait - elapsed));
    }
}

/// How many `virtfnN` links a device directory has.
fn virtfn_count(dev: &Path) -> u32 {
    fs::read_dir(dev)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("virtfn"))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .count() as u32
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
