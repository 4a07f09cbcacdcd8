//! The renderer's one error type.
//!
//! Every error that comes from user input says *where* (file, YAML document, template name and the YAML
//! path inside it) and *what* (the offending value), e.g.
//! `hosts.yaml#1 (hostconfig-kernel-eno2): spec.interfaceConfig[0].vlan[2].id: 5000 is not in 1..=4094`.

use std::fmt;

/// Where a piece of input came from: a file (or `-`), the 1-based YAML document in it, and the template
/// name once it is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Origin {
    pub file: String,
    pub document: usize,
    pub template: Option<String>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.document)?;
        if let Some(t) = &self.template {
            write!(f, " ({})", crate::escape::printable(t))?;
        }
        Ok(())
    }
}

/// One problem with one value: `path: message`, the message starting with the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub origin: Origin,
    /// YAML path inside the document, e.g. `spec.sriovConfig[1].numVfs`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.path, self.message)
        }
    }
}

/// Two templates that set the same thing to different values with the same priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// What is set twice, e.g. `interface eno2 mtu`.
    pub field: String,
    pub first: ConflictSide,
    pub second: ConflictSide,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictSide {
    pub template: String,
    pub path: String,
    pub value: String,
    pub priority: i32,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = crate::escape::printable;
        let (a, b) = (&self.first, &self.second);
        if a.template == b.template {
            // Priority orders templates; within one template only an edit helps.
            return write!(
                f,
                "conflict on {}: template {} sets {} ({}) and {} ({}); make them agree \
                 (spec.priority only decides between templates)",
                self.field,
                p(&a.template),
                a.value,
                a.path,
                b.value,
                b.path
            );
        }
        write!(
            f,
            "conflict on {}: template {} sets {} ({}) and template {} sets {} ({}), ",
            self.field,
            p(&a.template),
            a.value,
            a.path,
            p(&b.template),
            b.value,
            b.path,
        )?;
        if a.priority == b.priority {
            write!(
                f,
                "both with priority {}; make them agree or give one a higher spec.priority",
                a.priority
            )
        } else {
            // Settings that are one on the node but two fields (a PF's MTU and its link's), which
            // priority does not order.
            write!(
                f,
                "with priorities {} and {}; make them agree",
                a.priority, b.priority
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not YAML, or not the shape of a HostNetworkTemplate.
    #[error("{origin}: {path}{message}")]
    Parse {
        origin: Origin,
        /// `spec.x.y: ` or empty when the error is at the document root.
        path: String,
        message: String,
    },
    /// Values that parse but break a rule; all of them, not only the first.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<FieldError>),
    /// Templates that disagree.
    #[error("{}", join_lines(.0))]
    Conflicts(Vec<Conflict>),
    /// The name, then a suggestion (when one is close) and the known names.
    #[error("unknown distro {0:?}; {1}")]
    UnknownDistro(String, String),
    /// A bug: a template or a formatter refused what validation let through.
    #[error("rendering {artifact}: {message}")]
    Render { artifact: String, message: String },
    /// A file that could not be read or written: the path, then the system's reason. The reason is
    /// in the message and deliberately not a `source`: error chains printed with their causes
    /// (`{:#}`) would say it twice.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}")]
    Usage(String),
}

fn join_lines<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn io(path: impl fmt::Display, error: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            error,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn side(template: &str, path: &str, value: &str, priority: i32) -> ConflictSide {
        ConflictSide {
            template: template.into(),
            path: path.into(),
            value: value.into(),
            priority,
        }
    }

    #[test]
    fn conflicts_say_what_can_resolve_them() {
        let c = |a, b| {
            Conflict {
                field: "the MTU of eno2".into(),
                first: a,
                second: b,
            }
            .to_string()
        };
        let link = |t, p| side(t, "spec.interfaceConfig[0].mtu", "9000", p);
        let pf = |t, p| side(t, "spec.sriovConfig[0].mtu", "1500", p);
        assert_eq!(
            c(link("a", 0), pf("a", 0)),
            "conflict on the MTU of eno2: template a sets 9000 (spec.interfaceConfig[0].mtu) and 1500 (spec.sriovConfig[0].mtu); make them agree (spec.priority only decides between templates)"
        );
        assert!(c(link("a", 5), pf("b", 5))
            .ends_with("both with priority 5; make them agree or give one a higher spec.priority"));
        assert!(c(link("a", 10), pf("b", 0)).ends_with("with priorities 10 and 0; make them agree"));
    }
}
