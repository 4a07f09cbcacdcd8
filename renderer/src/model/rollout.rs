//! `spec.maxUnavailable`: how many of the nodes a template selects may be taking a new version of it
//! at once (plumber's; HostPlumber applied every change everywhere at once).
//!
//! ```yaml
//! spec:
//!   nodeSelector: {role: storage}
//!   maxUnavailable: 25%     # or a count: 2
//!   interfaceConfig: [{name: ens1f0, mtu: 9000}]
//! ```
//!
//! The renderer only reads and checks it (a file has no rollout); the agent enforces it with one
//! `coordination.k8s.io` Lease per slot: a node takes a slot before applying a changed template and
//! gives it back once the apply succeeded, so a template that breaks nodes stops after that many.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A count (`2`, at least 1) or a percentage of the selected nodes (`"25%"`, 1 to 100; rounded up, so
/// at least one node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxUnavailable {
    Count(u32),
    Percent(u8),
}

impl MaxUnavailable {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{:?} is not a node count (1 or more) or a percentage (\"1%\" to \"100%\")",
                s
            )
        };
        match s.strip_suffix('%') {
            Some(p) => match p.parse::<u8>() {
                Ok(n) if (1..=100).contains(&n) && !p.starts_with('+') => {
                    Ok(MaxUnavailable::Percent(n))
                }
                _ => Err(bad()),
            },
            None => match s.parse::<u32>() {
                Ok(n) if n >= 1 && !s.starts_with('+') => Ok(MaxUnavailable::Count(n)),
                _ => Err(bad()),
            },
        }
    }

    /// The number of slots among `matched` nodes: a percentage is rounded up, and there is always at
    /// least one (a rollout that can never start helps nobody).
    pub fn slots(&self, matched: u32) -> u32 {
        match *self {
            MaxUnavailable::Count(n) => n.max(1),
            MaxUnavailable::Percent(p) => (matched * p as u32).div_ceil(100).max(1),
        }
    }
}

impl fmt::Display for MaxUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUnavailable::Count(n) => write!(f, "{n}"),
            MaxUnavailable::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxUnavailable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = MaxUnavailable;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a node count such as 2 or a percentage such as \"25%\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MaxUnavailable, E> {
                MaxUnavailable::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MaxUnavailable, E> {
                match u32::try_from(v) {
                    Ok(n) if n >= 1 => Ok(MaxUnavailable::Count(n)),
                    _ => Err(E::custom(format!(
                        "{v} is not a node count (1 or more) or a percentage (\"1%\" to \"100%\")"
                    ))),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MaxUnavailable, E> {
                if v < 0 {
                    return Err(E::custom(format!(
                        "{v} is not a node count (1 or more) or a percentage (\"1%\" to \"100%\")"
                    )));
                }
                self.visit_u64(v as u64)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for MaxUnavailable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxUnavailable::Count(n) => s.serialize_u32(*n),
            MaxUnavailable::Percent(_) => s.collect_str(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentages() {
        let m: MaxUnavailable = serde_yaml::from_str("2").unwrap();
        assert_eq!(m, MaxUnavailable::Count(2));
        let m: MaxUnavailable = serde_yaml::from_str("25%").unwrap();
        assert_eq!(m, MaxUnavailable::Percent(25));
        let m: MaxUnavailable = serde_yaml::from_str("\"3\"").unwrap();
        assert_eq!(m, MaxUnavailable::Count(3));
        for bad in ["0", "-1", "0%", "101%", "x", "2.5", "\"\"", "\"+3\""] {
            assert!(
                serde_yaml::from_str::<MaxUnavailable>(bad).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            serde_yaml::to_string(&MaxUnavailable::Count(2)).unwrap(),
            "2\n"
        );
        assert_eq!(
            serde_yaml::to_string(&MaxUnavailable::Percent(25)).unwrap(),
            "25%\n"
        );
    }

    #[test]
    fn slots_round_up_and_never_reach_zero() {
        assert_eq!(MaxUnavailable::Percent(25).slots(10), 3);
        assert_eq!(MaxUnavailable::Percent(25).slots(8), 2);
        assert_eq!(MaxUnavailable::Percent(1).slots(0), 1);
        assert_eq!(MaxUnavailable::Percent(100).slots(7), 7);
        assert_eq!(MaxUnavailable::Count(3).slots(1), 3);
    }
}
