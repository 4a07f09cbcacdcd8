//! Bounded integers: each type says its range in its error message.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

macro_rules! ranged {
    ($(#[$m:meta])* $name:ident, $inner:ty, $lo:expr, $hi:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            pub const MIN: $inner = $lo;
            pub const MAX: $inner = $hi;
            pub fn new(v: i64) -> Result<Self, String> {
                if v >= $lo as i64 && v <= $hi as i64 {
                    Ok($name(v as $inner))
                } else {
                    Err(format!("{} is not in {}..={}", v, $lo, $hi))
                }
            }
            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "integer", "minimum": $lo, "maximum": $hi})
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = deserialize_int(d)?;
                $name::new(v).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// An integer from YAML; a big unsigned value is reported rather than wrapped.
fn deserialize_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
        }
    }
    d.deserialize_any(V)
}

ranged!(
    /// Link MTU in bytes, `68..=65535` (68 is the IPv4 minimum; the kernel's own ceiling is 65535).
    Mtu, u32, 68, 65535
);
ranged!(
    /// 802.1Q VLAN id of a VLAN interface, `1..=4094`.
    VlanId, u16, 1, 4094
);
ranged!(
    /// VLAN tag put on a VF by the PF, `0..=4095`; 0 means untagged.
    VfVlan, u16, 0, 4095
);
ranged!(
    /// 802.1p priority for a VF's VLAN, `0..=7`.
    VfQos, u8, 0, 7
);
ranged!(
    /// Number of SR-IOV VFs on a PF, `0..=1024`; the device's own `sriov_totalvfs` is checked when an
    /// inventory is given and again by the applier.
    NumVfs, u32, 0, 1024
);
ranged!(
    /// Route metric, `0..=4294967295`.
    Metric, u32, 0, 4294967295u32
);
ranged!(
    /// Routing table id, `1..=4294967295` except the kernel's reserved 253 (default), 254 (main) and 255
    /// (local) which are accepted as the tables they name.
    TableId, u32, 1, 4294967295u32
);
ranged!(
    /// A VF rate limit in Mbit/s (`maxTxRate`, `minTxRate`), `0..=1000000`; 0 means no limit.
    TxRate, u32, 0, 1_000_000
);
ranged!(
    /// Milliseconds for bond link monitoring and delays, `0..=3600000`.
    Millis, u32, 0, 3_600_000
);
ranged!(
    /// Template priority for merging: the higher wins a disagreement. `-1000..=1000`, default 0.
    Priority, i32, -1000, 1000
);
ranged!(
    /// Bridge STP forward delay in seconds, `2..=30` (IEEE 802.1D).
    ForwardDelay, u32, 2, 30
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_messages() {
        assert_eq!(VlanId::new(5000).unwrap_err(), "5000 is not in 1..=4094");
        assert_eq!(VlanId::new(0).unwrap_err(), "0 is not in 1..=4094");
        assert!(VlanId::new(4094).is_ok());
        assert_eq!(Mtu::new(67).unwrap_err(), "67 is not in 68..=65535");
        assert!(Mtu::new(65535).is_ok());
        assert!(Mtu::new(65536).is_err());
        assert!(NumVfs::new(-1).is_err());
        let m: Result<Mtu, _> = serde_yaml::from_str("18446744073709551615");
        assert!(m.unwrap_err().to_string().contains("too large"));
    }
}
