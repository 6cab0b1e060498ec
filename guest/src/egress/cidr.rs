//! CIDR parsing: IPv4 and IPv6, range-checked, canonical text.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed, normalized CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    /// Canonical text (`10.0.0.0/8`, `2001:db8::/32`).
    pub text: String,
    /// True for IPv6.
    pub v6: bool,
}

/// Parses an IPv4 or IPv6 CIDR, range-checking octets, groups and prefix.
///
/// IPv4 octets are 0-255 without leading zeros; IPv6 takes the full and the
/// `::` forms, with an optional dotted IPv4 tail. The prefix is 0-32 or
/// 0-128 and host bits must be zero. IPv4-mapped IPv6 ranges are refused
/// (policies match IPv4 traffic by its IPv4 address), naming the IPv4 form.
pub fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let s = s.trim();
    let Some((address, prefix)) = s.split_once('/') else {
        return Err(format!(
            "`{s}` is not a CIDR: expected `address/prefix` (`10.0.0.0/8`, `2001:db8::/32`)"
        ));
    };
    if address.contains(':') {
        parse_v6(s, address, prefix)
    } else {
        parse_v4(s, address, prefix)
    }
}

fn parse_prefix(s: &str, prefix: &str, max: u32) -> Result<u32, String> {
    let digits_ok = !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.chars().all(|c| c.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'));
    match prefix.parse::<u32>() {
        Ok(n) if digits_ok && n <= max => Ok(n),
        _ => Err(format!(
            "`{s}`: prefix length `{prefix}` must be a number from 0 to {max}"
        )),
    }
}

fn parse_v4(s: &str, address: &str, prefix: &str) -> Result<Cidr, String> {
    let octets: Vec<&str> = address.split('.').collect();
    if octets.len() != 4 {
        return Err(format!(
            "`{s}`: `{address}` is not an IPv4 address (four numbers 0-255 separated by `.`)"
        ));
    }
    let mut bytes = [0u8; 4];
    for (byte, octet) in bytes.iter_mut().zip(&octets) {
        let shape_ok =
            !octet.is_empty() && octet.len() <= 3 && octet.chars().all(|c| c.is_ascii_digit());
        if !shape_ok {
            return Err(format!(
                "`{s}`: `{octet}` is not an IPv4 octet (a number from 0 to 255)"
            ));
        }
        if octet.len() > 1 && octet.starts_with('0') {
            return Err(format!(
                "`{s}`: octet `{octet}` has a leading zero (ambiguous: octal to some parsers); write it without"
            ));
        }
        *byte = octet
            .parse::<u8>()
            .map_err(|_| format!("`{s}`: octet `{octet}` is out of range (0-255)"))?;
    }
    let len = parse_prefix(s, prefix, 32)?;
    let ip = u32::from_be_bytes(bytes);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let network = Ipv4Addr::from(ip & mask);
    if ip & !mask != 0 {
        return Err(format!("{s} has host bits set; use {network}/{len}"));
    }
    Ok(Cidr {
        text: format!("{network}/{len}"),
        v6: false,
    })
}

fn parse_v6(s: &str, address: &str, prefix: &str) -> Result<Cidr, String> {
    let ip: Ipv6Addr = address.parse().map_err(|_| {
        format!(
            "`{s}`: `{address}` is not an IPv6 address (eight groups of 1-4 hex digits, \
             `::` for one run of zero groups, optionally ending in a dotted IPv4 address)"
        )
    })?;
    let len = parse_prefix(s, prefix, 128)?;
    let bits = u128::from(ip);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    let network = Ipv6Addr::from(bits & mask);
    if bits & !mask != 0 {
        return Err(format!("{s} has host bits set; use {network}/{len}"));
    }
    if let Some(v4) = network.to_ipv4_mapped().filter(|_| len >= 96) {
        return Err(format!(
            "`{s}` is an IPv4-mapped IPv6 range, which network policies never match against \
             IPv4 traffic; write it as IPv4: {v4}/{}",
            len - 96
        ));
    }
    Ok(Cidr {
        text: format!("{network}/{len}"),
        v6: true,
    })
}
