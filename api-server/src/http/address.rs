//! The client's address: the peer, or, when the peer is one of the configured
//! `trusted_proxies` (a load balancer in front of several nodes), the nearest address its
//! `X-Forwarded-For` names that is not a trusted proxy itself. The audit trail records it,
//! sign-in throttling counts by it, and `/metrics` without a token answers only it on this
//! machine. A header from anyone else is ignored: a client cannot name its own address.

use std::net::IpAddr;

/// The proxies whose `X-Forwarded-For` is believed: addresses and networks (`10.0.0.0/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies(Vec<(IpAddr, u8)>);

impl Proxies {
    /// Parses `trusted_proxies`: each an address, or a network with its prefix length.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|entry| {
                let entry = entry.trim();
                let (ip, bits) = match entry.split_once('/') {
                    Some((ip, bits)) => (ip, Some(bits)),
                    None => (entry, None),
                };
                let ip: IpAddr = ip.parse().map_err(|_| {
                    format!("'{entry}' is neither an address nor a network such as 10.0.0.0/8")
                })?;
                let ip = canonical(ip);
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    None => max,
                    Some(b) => b
                        .parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(|| format!("'{entry}': the prefix length is 0 to {max}"))?,
                };
                Ok((ip, bits))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether no proxy is trusted (the peer is always the client).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|&(net, bits)| within(net, bits, ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted; else, walking the
    /// `X-Forwarded-For` values (`forwarded`, in header order) from the nearest hop, the first
    /// address not trusted (a hop that is not an address stops the walk at the proxy that
    /// wrote it).
    #[must_use]
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
        for hop in hops.iter().rev() {
            let Some(ip) = hop_address(hop.trim()) else {
                return client;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// An IPv4 address mapped into IPv6 (a dual-stack socket's peer) as the IPv4 address it is.
#[must_use]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn within(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// One `X-Forwarded-For` hop: an address, with or without a port (`[v6]:port`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::Proxies;

    fn proxies(list: &[&str]) -> Proxies {
        Proxies::parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn client(p: &Proxies, peer: &str, forwarded: &[&str]) -> String {
        p.client(peer.parse().unwrap(), forwarded.iter().copied())
            .to_string()
    }

    #[test]
    fn addresses_and_networks_are_parsed_and_bad_ones_named() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.7", "fd00::/8"]);
        assert!(p.trusts("10.200.3.4".parse().unwrap()));
        assert!(!p.trusts("11.0.0.1".parse().unwrap()));
        assert!(p.trusts("192.168.1.7".parse().unwrap()));
        assert!(!p.trusts("192.168.1.8".parse().unwrap()));
        assert!(p.trusts("fd12::1".parse().unwrap()));
        assert!(p.trusts("::ffff:10.1.1.1".parse().unwrap()));
        assert!(proxies(&["0.0.0.0/0"]).trusts("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "proxy.example.com", "10.0.0/8", "::/129"] {
            let e = Proxies::parse(&[bad.to_owned()]).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client_and_only_trusted_peers_are_believed() {
        let p = proxies(&["10.0.0.0/8"]);
        // Not through a trusted proxy: the header is the client's own say, ignored.
        assert_eq!(client(&p, "203.0.113.9", &["198.51.100.1"]), "203.0.113.9");
        assert_eq!(client(&p, "10.0.0.2", &["198.51.100.1"]), "198.51.100.1");
        // A client's forged first hop stays to the left of the address the proxy saw.
        assert_eq!(
            client(&p, "10.0.0.2", &["1.2.3.4, 198.51.100.1"]),
            "198.51.100.1"
        );
        // Several proxies, the header repeated, ports and brackets.
        assert_eq!(
            client(&p, "10.0.0.2", &["198.51.100.1:5123", "10.9.9.9"]),
            "198.51.100.1"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["[2001:db8::5]:443"]),
            "2001:db8::5"
        );
        // No header, or a hop that is not an address: the last proxy that can be vouched for.
        assert_eq!(client(&p, "10.0.0.2", &[]), "10.0.0.2");
        assert_eq!(client(&p, "10.0.0.2", &["unknown, 10.3.3.3"]), "10.3.3.3");
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(
            client(&Proxies::default(), "127.0.0.1", &["8.8.8.8"]),
            "127.0.0.1"
        );
    }
}
