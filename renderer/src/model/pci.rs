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

/// A PCI vendor or device id: up to 4 hex digits as a string, as `lspci -n` prints them (`"8086"`,
/// `"10FB"`, `"0x1572"`).
///
/// A YAML number is refused: HostPlumber's CRD declares the ids `type: string`, so the API server refuses
/// them too, and the number cannot say what was typed. An unquoted `deviceId: 0x1572` is the number 5490
/// (whose digits, read as hex, would be another device), and an unquoted `8086` is 8086, not 0x8086.
/// The message gives both readings and the quoted spelling of each ([`number_message`]).
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
                Err(E::custom(number_message(&v.to_string(), Some(v))))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PciId, E> {
                Err(E::custom(number_message(
                    &v.to_string(),
                    u64::try_from(v).ok(),
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PciId, E> {
                Err(E::custom(number_message(&v.to_string(), None)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a PCI id that YAML read as a number (`shown`, whole when `whole` is set) is refused, with what
/// to write instead: the quoted hex the unquoted `0x...` meant, and the quoted digits, when those
/// digits are themselves an id.
pub fn number_message(shown: &str, whole: Option<u64>) -> String {
    let hex = whole.filter(|v| *v <= 0xffff).map(|v| format!("{v:04x}"));
    let digits = whole
        .map(|v| v.to_string())
        .filter(|d| PciId::parse(d).is_ok());
    let head = format!("{shown} was read as a YAML number");
    let tail = "PCI ids are strings as lspci -n prints them";
    match (hex, digits) {
        (Some(h), Some(d)) => format!(
            "{head} (an unquoted 0x{h}, or {d}); {tail}: write \"{h}\" (or \"{d}\" if you meant those digits)"
        ),
        (Some(h), None) => format!("{head} (an unquoted 0x{h}); {tail}: write \"{h}\""),
        _ => format!(
            "{head}; {tail}, up to 4 hexadecimal digits: write it quoted, like \"8086\""
        ),
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
    fn pci_ids_are_strings() {
        let v: PciId = serde_yaml::from_str("\"8086\"").unwrap();
        assert_eq!(v.to_string(), "8086");
        let v: PciId = serde_yaml::from_str("\"10FB\"").unwrap();
        assert_eq!(v.to_string(), "10fb");
        // YAML reads an unquoted 10fb as a string.
        let v: PciId = serde_yaml::from_str("10fb").unwrap();
        assert_eq!(v.to_string(), "10fb");
        let v: PciId = serde_yaml::from_str("\"0x1528\"").unwrap();
        assert_eq!(v.to_string(), "1528");
        assert!(serde_yaml::from_str::<PciId>("\"12345\"").is_err());
        let v: PciId = serde_json::from_str("\"8086\"").unwrap();
        assert_eq!(v, PciId(0x8086));
    }

    fn refusal(yaml: &str) -> String {
        serde_yaml::from_str::<PciId>(yaml).unwrap_err().to_string()
    }

    #[test]
    fn numbers_are_refused_with_both_readings() {
        // An unquoted 0x1572 is 5490; 5490's digits are an id too.
        assert_eq!(
            refusal("0x1572"),
            "5490 was read as a YAML number (an unquoted 0x1572, or 5490); PCI ids are strings as lspci -n prints them: write \"1572\" (or \"5490\" if you meant those digits)"
        );
        assert!(refusal("8086").contains("(an unquoted 0x1f96, or 8086)"));
        assert!(refusal("8086").contains("(or \"8086\" if you meant those digits)"));
        // 32902's digits are too many for an id: only the hex reading.
        assert_eq!(
            refusal("0x8086"),
            "32902 was read as a YAML number (an unquoted 0x8086); PCI ids are strings as lspci -n prints them: write \"8086\""
        );
        for n in ["123456", "-1", "1e10", "1.5"] {
            assert!(
                refusal(n).contains("was read as a YAML number; PCI ids are strings"),
                "{n}: {}",
                refusal(n)
            );
        }
        assert!(serde_json::from_str::<PciId>("8086").is_err());
    }
}
