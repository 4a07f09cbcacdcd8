//! PCI addresses and PCI vendor/device ids.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::escape::printable;

/// A PCI function address `DDDD:BB:DD.F` (domain optional on input, `03:00.0`), stored lower-case with
/// a 4-digit domain. YAML reads the unquoted `pciAddr: 0000:03:00.0` of HostPlumber's examples as this
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddr {
    pub domain: u16,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl PciAddr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "{} is not a PCI address like 0000:03:00.0 (domain:bus:device.function, hexadecimal)",
                printable(s)
            )
        };
        let hex = |p: &str, max_len: usize| -> Option<u32> {
            if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                None
            } else {
                u32::from_str_radix(p, 16).ok()
            }
        };
        let (rest, func) = s.rsplit_once('.').ok_or_else(err)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (dom, bus, dev) = match parts.as_slice() {
            [d, b, v] => (hex(d, 4).ok_or_else(err)?, *b, *v),
            [b, v] => (0, *b, *v),
            _ => return Err(err()),
        };
        let bus = hex(bus, 2).ok_or_else(err)?;
        let dev = hex(dev, 2).ok_or_else(err)?;
        let func = hex(func, 1).ok_or_else(err)?;
        if dev > 0x1f || func > 7 {
            return Err(err());
        }
        Ok(PciAddr {
            domain: dom as u16,
            bus: bus as u8,
            device: dev as u8,
            function: func as u8,
        })
    }
}

impl fmt::Display for PciAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl<'de> Deserialize<'de> for PciAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PciAddr::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PciAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A PCI vendor or device id, 4 hex digits (`"8086"`, `"10fb"`, `0x8086`). HostPlumber accepted
/// `vendorId: 8086` unquoted, which YAML reads as the integer 8086: its decimal digits are taken as the
/// hex id, so `8086` means 0x8086, as the user meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciId(pub u16);

impl PciId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if !t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(PciId(u16::from_str_radix(t, 16).expect("checked hex")))
        } else {
            Err(format!(
                "{} is not a PCI id (up to 4 hexadecimal digits, like \"8086\" or \"10fb\")",
                printable(s)
            ))
        }
    }
}

impl fmt::Display for PciId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}", self.0)
    }
}

impl<'de> Deserialize<'de> for PciId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PciId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a PCI id such as \"8086\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PciId, E> {
                PciId::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PciId, E> {
                // The digits the user typed, read as hex. An unquoted `0x8086` arrives here as 32902 and
                // cannot be told apart from a typo, so the message asks for quotes.
                PciId::parse(&v.to_string()).map_err(|_| {
                    E::custom(format!(
                        "{v} was read as a number and is not a PCI id; write ids as quoted hex, like \"8086\""
                    ))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PciId, E> {
                if v < 0 {
                    return Err(E::custom(format!("{v} is not a PCI id")));
                }
                self.visit_u64(v as u64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PciId, E> {
                Err(E::custom(format!(
                    "{v} was read as a number; quote PCI ids, e.g. \"1e10\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for PciId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses() {
        assert_eq!(
            PciAddr::parse("0000:03:00.0").unwrap().to_string(),
            "0000:03:00.0"
        );
        assert_eq!(
            PciAddr::parse("03:00.1").unwrap().to_string(),
            "0000:03:00.1"
        );
        assert_eq!(
            PciAddr::parse("0000:AF:00.7").unwrap().to_string(),
            "0000:af:00.7"
        );
        assert!(PciAddr::parse("0000:03.00.1").is_err());
        assert!(PciAddr::parse("0000:03:00.8").is_err());
        assert!(PciAddr::parse("0000:03:20.0").is_err());
        assert!(PciAddr::parse("../../x").is_err());
    }

    #[test]
    fn pci_ids_as_numbers_or_strings() {
        let v: PciId = serde_yaml::from_str("8086").unwrap();
        assert_eq!(v.to_string(), "8086");
        let v: PciId = serde_yaml::from_str("\"10FB\"").unwrap();
        assert_eq!(v.to_string(), "10fb");
        let v: PciId = serde_yaml::from_str("10fb").unwrap();
        assert_eq!(v.to_string(), "10fb");
        let v: PciId = serde_yaml::from_str("\"0x1528\"").unwrap();
        assert_eq!(v.to_string(), "1528");
        assert!(serde_yaml::from_str::<PciId>("123456").is_err());
        assert!(serde_yaml::from_str::<PciId>("1e10").is_err());
    }
}
