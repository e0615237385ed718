//! The `cidr` operator: an IPv4 or IPv6 network in `address/prefix-length` form.

use std::net::IpAddr;

/// A network; host bits in the written address are ignored, as AWS and quamina do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    /// Parses `10.0.0.0/24` or `2001:db8::/32`, or says why it is not a CIDR block.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let Some((address, length)) = text.split_once('/') else {
            return Err(format!(
                "cidr {text:?} has no prefix length; write it as address/length, e.g. 10.0.0.0/24"
            ));
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("cidr {text:?}: {address:?} is not an IPv4 or IPv6 address"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let length: u32 = match length.parse() {
            Ok(n) if n <= bits && length.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(format!(
                    "cidr {text:?}: prefix length must be a whole number from 0 to {bits}"
                ));
            }
        };
        Ok(match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - length).unwrap_or(0);
                Self::V4 {
                    network: u32::from(v4) & mask,
                    mask,
                }
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - length).unwrap_or(0);
                Self::V6 {
                    network: u128::from(v6) & mask,
                    mask,
                }
            }
        })
    }

    /// Whether `text` is an IP address inside this network (an IPv4 address never falls inside
    /// an IPv6 network, nor the other way round).
    pub(crate) fn contains(&self, text: &str) -> bool {
        match (self, text.parse::<IpAddr>()) {
            (Self::V4 { network, mask }, Ok(IpAddr::V4(ip))) => u32::from(ip) & mask == *network,
            (Self::V6 { network, mask }, Ok(IpAddr::V6(ip))) => u128::from(ip) & mask == *network,
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::V4 { network, mask } => write!(f, "{}/{}", std::net::Ipv4Addr::from(network), mask.count_ones()),
            Self::V6 { network, mask } => write!(f, "{}/{}", std::net::Ipv6Addr::from(network), mask.count_ones()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap_or_else(|reason| panic!("{reason}"))
    }

    #[test]
    fn ipv4_networks_contain_their_addresses_only() {
        let net = cidr("10.0.0.0/24");
        assert!(net.contains("10.0.0.0"));
        assert!(net.contains("10.0.0.255"));
        assert!(!net.contains("10.0.1.0"));
        assert!(!net.contains("10.0.0"));
        assert!(!net.contains("2001:db8::1"));
        assert!(cidr("0.0.0.0/0").contains("192.168.1.1"));
        assert!(cidr("192.168.1.7/32").contains("192.168.1.7"));
        assert!(!cidr("192.168.1.7/32").contains("192.168.1.8"));
        assert!(cidr("10.0.0.77/24").contains("10.0.0.1"), "host bits are ignored");
    }

    #[test]
    fn ipv6_networks_contain_their_addresses_only() {
        let net = cidr("2001:db8::/32");
        assert!(net.contains("2001:db8::1"));
        assert!(net.contains("2001:0db8:ffff::"));
        assert!(!net.contains("2001:db9::1"));
        assert!(!net.contains("10.0.0.1"));
        assert!(cidr("::/0").contains("::1"));
        assert!(cidr("::1/128").contains("::1"));
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for text in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "::/129",
            "x/8",
            "/8",
            "10.0.0.0/",
        ] {
            assert!(Cidr::parse(text).is_err(), "{text} should be refused");
        }
    }
}
