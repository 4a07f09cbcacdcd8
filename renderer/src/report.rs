//! An error with its causes, as both binaries print it: `what: why: deeper why`, each cause said once.
//!
//! Our own errors show a cause either in their message or as their `source`, never both
//! (error.rs), but other crates' do both (kube's "failed to read kubeconfig from '…': No such file or
//! directory (os error 2)" has the io error as its source too), and printing the chain (anyhow's
//! `{:#}`) would then repeat it. So a cause whose text is already in what is printed is left out.

use std::error::Error;

/// `e` and its chain of sources on one line (unless a message has newlines of its own), joined by
/// `": "`, leaving out each cause whose text the line already holds.
pub fn with_causes(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that says its cause and has it as its source too, as kube's do.
    #[derive(Debug)]
    struct Both(std::io::Error);

    impl std::fmt::Display for Both {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "failed to read kubeconfig: {}", self.0)
        }
    }

    impl Error for Both {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    /// The cause only as a source.
    #[derive(Debug)]
    struct Wraps(Both);

    impl std::fmt::Display for Wraps {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connecting to the API server")
        }
    }

    impl Error for Wraps {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_once() {
        let e = Wraps(Both(std::io::Error::from(std::io::ErrorKind::NotFound)));
        assert_eq!(
            with_causes(&e),
            "connecting to the API server: failed to read kubeconfig: entity not found"
        );
    }

    #[test]
    fn a_cause_only_in_the_source_is_shown() {
        let e = Wraps(Both(std::io::Error::other("disk on fire")));
        assert!(with_causes(&e).ends_with(": failed to read kubeconfig: disk on fire"));
    }
}
