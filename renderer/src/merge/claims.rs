//! Claims: a value a template set, with where it was set, and the one rule for two claims on the same
//! setting (equal agree, higher priority wins, different at the same priority conflict).

use std::fmt;
use std::rc::Rc;

use crate::error::{Conflict, ConflictSide, Origin};

/// A value a template set, with where it was set. Origins and paths are shared (`Rc`) because one VF
/// range entry claims the same path for every VF it covers.
#[derive(Clone)]
pub(super) struct Claim<T> {
    pub value: T,
    pub origin: Rc<Origin>,
    pub path: Rc<str>,
    pub priority: i32,
}

impl<T> Claim<T> {
    /// This claim as one side of a conflict, its value shown as `show`.
    pub fn side(&self, show: String) -> ConflictSide {
        ConflictSide {
            template: self.origin.template.clone().unwrap_or_default(),
            path: self.path.to_string(),
            value: show,
            priority: self.priority,
        }
    }

    /// Where the claim was made, owned (for errors found after merging).
    pub fn place(&self) -> (Origin, String) {
        ((*self.origin).clone(), self.path.to_string())
    }
}

impl Claim<()> {
    /// The claim of `value` at this claim's place (for a claim made before its value is known).
    pub fn with<T>(self, value: T) -> Claim<T> {
        Claim {
            value,
            origin: self.origin,
            path: self.path,
            priority: self.priority,
        }
    }
}

/// Record `new` in `slot`, or report a conflict on `field` (a phrase: "the MTU of eno1").
pub(super) fn claim<T: PartialEq + fmt::Display>(
    slot: &mut Option<Claim<T>>,
    new: Claim<T>,
    field: impl FnOnce() -> String,
    conflicts: &mut Vec<Conflict>,
) {
    match slot {
        None => *slot = Some(new),
        Some(old) if old.value == new.value => {}
        Some(old) if new.priority > old.priority => *slot = Some(new),
        Some(old) if new.priority < old.priority => {}
        Some(old) => conflicts.push(Conflict {
            field: field(),
            first: old.side(old.value.to_string()),
            second: new.side(new.value.to_string()),
        }),
    }
}

/// [`claim`] when the template sets the value at all.
pub(super) fn claim_opt<T: PartialEq + fmt::Display>(
    slot: &mut Option<Claim<T>>,
    new: Option<Claim<T>>,
    field: impl FnOnce() -> String,
    conflicts: &mut Vec<Conflict>,
) {
    if let Some(new) = new {
        claim(slot, new, field, conflicts);
    }
}
