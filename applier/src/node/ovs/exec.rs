//! `apply` and `rollback`: a list of ops as ONE ovs-vsctl invocation (`--`-separated commands), which
//! OVSDB commits as one transaction. It all happens or none of it does, so there is never a partial
//! change inside OVS to roll back.

use super::db::check_name;
use super::{OvsOp, Ovsdb};
use crate::node::{Error, Result};

/// The full argument vector (after the [`Ovsdb`] options) that executes `ops`.
pub(crate) fn arguments(ops: &[OvsOp]) -> Result<Vec<String>> {
    let mut args = Vec::new();
    let mut ids = 0;
    for op in ops {
        for n in op.names() {
            check_name(n)?;
        }
        for cmd in op.commands(&mut ids) {
            args.push("--".to_string());
            args.extend(cmd);
        }
    }
    Ok(args)
}

/// Executes `ops` as one OVSDB transaction and returns how many ops were executed (0, without calling
/// ovs-vsctl, when there are none). On failure nothing changed: [`Error::Apply`] names the ops and
/// carries ovs-vsctl's stderr.
pub fn apply(db: &Ovsdb, ops: &[OvsOp]) -> Result<usize> {
    transaction(db, ops, "")
}

/// Undoes `done` (ops that [`apply`] executed): their inverses, last first, as one transaction.
pub fn rollback(db: &Ovsdb, done: &[OvsOp]) -> Result<usize> {
    let undo: Vec<OvsOp> = done.iter().rev().map(OvsOp::inverse).collect();
    transaction(db, &undo, "rolling back: ")
}

fn transaction(db: &Ovsdb, ops: &[OvsOp], what: &str) -> Result<usize> {
    if ops.is_empty() {
        return Ok(0);
    }
    let args = arguments(ops)?;
    match db.run(&args) {
        Ok(_) => Ok(ops.len()),
        Err(e) => {
            let lines: Vec<String> = ops.iter().map(OvsOp::to_string).collect();
            Err(Error::Apply(Box::new(crate::node::Failed {
                at: format!(
                    "{what}ovs-vsctl transaction of {} OVS changes ({})",
                    ops.len(),
                    lines.join("; ")
                ),
                error: e.to_string(),
                rolled_back: Vec::new(),
                rollback_failed: Vec::new(),
                rollback: "nothing changed (one OVSDB transaction)".to_string(),
            })))
        }
    }
}
