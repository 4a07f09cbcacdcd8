//! IP prefixes and MAC addresses.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::escape::printable;

/// An address with its prefix length, `192.168.195.7/24` or `fc00:1::3/112`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpCidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpCidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let shown = printable(s);
        let Some((a, p)) = s.split_once('/') else {
            return Err(format!(
                "{shown} is not an address with a prefix length, like 192.0.2.10/24 or 2001:db8::10/64"
            ));
        };
        let addr: IpAddr = a.parse().map_err(|_| {
            format!(
                "{shown} is not a valid CIDR: {} is not an IP address",
                printable(a)
            )
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => n,
            _ => {
                return Err(format!(
                    "{shown} is not a valid CIDR: prefix length {} is not in 0..={max}",
                    printable(p)
                ))
            }
        };
        Ok(IpCidr { addr, prefix })
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The address with host bits cleared.
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                IpAddr::V4(Ipv4Addr::from(bits & mask))
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                IpAddr::V6(Ipv6Addr::from(bits & mask))
            }
        }
    }

    /// Whether `ip` is inside this prefix (same family, same network bits).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4()
            && IpCidr {
                addr: ip,
                prefix: self.prefix,
            }
            .network()
                == self.network()
    }

    /// IPv4 netmask in dotted quad, for ifcfg route files.
    pub fn netmask_v4(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(_) => Some(Ipv4Addr::from(if self.prefix == 0 {
                0
            } else {
                u32::MAX << (32 - self.prefix)
            })),
            IpAddr::V6(_) => None,
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> Deserialize<'de> for IpCidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IpCidr::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for IpCidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A route destination: a network prefix (host bits must be zero, as the kernel requires) or `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteDest {
    Default,
    Prefix(IpCidr),
}

impl RouteDest {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "default" {
            return Ok(RouteDest::Default);
        }
        let c = IpCidr::parse(s)?;
        if c.network() != c.addr {
            return Err(format!(
                "{} has host bits set; the network is {}/{}",
                printable(s),
                c.network(),
                c.prefix
            ));
        }
        if c.prefix == 0 {
            return Ok(RouteDest::Default);
        }
        Ok(RouteDest::Prefix(c))
    }

    /// The prefix for a family: `default` is `0.0.0.0/0` or `::/0`.
    pub fn cidr(&self, v6: bool) -> IpCidr {
        match self {
            RouteDest::Prefix(c) => *c,
            RouteDest::Default if v6 => IpCidr {
                addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                prefix: 0,
            },
            RouteDest::Default => IpCidr {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                prefix: 0,
            },
        }
    }

    /// Family, when the destination says it (`default` does not).
    pub fn is_ipv4(&self) -> Option<bool> {
        match self {
            RouteDest::Prefix(c) => Some(c.is_ipv4()),
            RouteDest::Default => None,
        }
    }
}

impl fmt::Display for RouteDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteDest::Default => f.write_str("default"),
            RouteDest::Prefix(c) => c.fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for RouteDest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RouteDest::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for RouteDest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A gateway address (no prefix).
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("{} is not an IP address", printable(s)))
}

/// An Ethernet MAC address, written `aa:bb:cc:dd:ee:ff` (case-insensitive, stored lower-case). Multicast
/// addresses are refused; all-zero is accepted (it clears a VF's administrative MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let shown = printable(s);
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6
            || parts
                .iter()
                .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!(
                "{shown} is not a MAC address like 02:00:00:00:00:01"
            ));
        }
        let mut b = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            b[i] = u8::from_str_radix(p, 16).expect("checked hex");
        }
        if b[0] & 1 == 1 {
            return Err(format!("{shown} is a multicast MAC address"));
        }
        Ok(MacAddr(b))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MacAddr::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(
            IpCidr::parse("192.168.195.7/24").unwrap().to_string(),
            "192.168.195.7/24"
        );
        assert_eq!(IpCidr::parse("fc00:1::3/112").unwrap().prefix, 112);
        assert!(IpCidr::parse("10.0.0.1")
            .unwrap_err()
            .contains("prefix length"));
        assert!(IpCidr::parse("10.0.0.1/33").is_err());
        assert!(IpCidr::parse("10.0.0.256/24").is_err());
        assert!(IpCidr::parse("fc00::1/129").is_err());
        assert!(IpCidr::parse("10.0.0.1/+8").is_err());
        assert_eq!(
            IpCidr::parse("10.1.2.3/8")
                .unwrap()
                .netmask_v4()
                .unwrap()
                .to_string(),
            "255.0.0.0"
        );
    }

    #[test]
    fn route_destinations() {
        assert_eq!(RouteDest::parse("default").unwrap(), RouteDest::Default);
        assert_eq!(RouteDest::parse("0.0.0.0/0").unwrap(), RouteDest::Default);
        assert!(RouteDest::parse("10.0.0.1/8")
            .unwrap_err()
            .contains("10.0.0.0/8"));
        assert!(RouteDest::parse("10.0.0.0/8").is_ok());
    }

    #[test]
    fn macs() {
        assert_eq!(
            MacAddr::parse("02:AA:bb:cc:dd:ee").unwrap().to_string(),
            "02:aa:bb:cc:dd:ee"
        );
        assert!(MacAddr::parse("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        assert!(MacAddr::parse("02:00:00:00:00").is_err());
        assert!(MacAddr::parse("02-00-00-00-00-01").is_err());
        assert!(MacAddr::parse("00:00:00:00:00:00").is_ok());
    }
}
