//! Who the client of a request is: its address, taken from `X-Forwarded-For` only when the peer
//! is a configured trusted proxy (the ingress), otherwise the peer itself — a header any client
//! can write is never believed from anyone else.
//!
//! Every role asks here ([`TrustedProxies::client_ip`]): the rate limits ([`crate::limits`]) and
//! the console's failed-login counts key on the same address. [`network`] says which addresses
//! count as one client: an IPv6 client typically holds a whole /64, so a limit per address would
//! be a limit per /128 it can change at will.

use actix_web::HttpRequest;
use std::net::{IpAddr, Ipv6Addr};

/// Proxies whose `X-Forwarded-For` is believed: single addresses or CIDR blocks
/// (`10.0.0.0/8`, `fd00::/8`). With none, the peer address is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `ip` or `ip/prefix` entries.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut out = Vec::new();
        for e in entries {
            let e = e.as_ref().trim();
            if e.is_empty() {
                continue;
            }
            let (ip, prefix) = match e.split_once('/') {
                Some((ip, p)) => (ip, Some(p)),
                None => (e, None),
            };
            let ip: IpAddr =
                ip.parse().map_err(|_| format!("trusted proxy {e:?} is not an IP address or CIDR block"))?;
            let ip = ip.to_canonical();
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("bad prefix in {e:?}"))?,
            };
            out.push((ip, prefix));
        }
        Ok(TrustedProxies(out))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(net, prefix)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// The client of a request: the peer, unless the peer is a trusted proxy; then the
    /// nearest address of `X-Forwarded-For` (read from the right) that is not a trusted proxy.
    /// A malformed entry ends the walk at the last address known good.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let mut client = req.peer_addr()?.ip().to_canonical();
        if !self.contains(client) {
            return Some(client);
        }
        let hops = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        Some(client)
    }
}

/// The network a client address stands for: an IPv4 address itself (IPv4-mapped IPv6 as
/// IPv4), an IPv6 address cut to its /64.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_parse_and_match() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.1", "fd00::/8", " "]).unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        assert!(t.contains(ip("192.0.2.1")));
        assert!(!t.contains(ip("192.0.2.2")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().contains(ip("8.8.8.8")));
        // An IPv4-mapped entry is the IPv4 address.
        assert!(TrustedProxies::parse(&["::ffff:10.0.0.1"]).unwrap().contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let req = |peer: &str, xff: Option<&str>| {
            let mut r = TestRequest::default().peer_addr(format!("{peer}:40000").parse().unwrap());
            if let Some(x) = xff {
                r = r.insert_header(("X-Forwarded-For", x));
            }
            r.to_http_request()
        };
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(t.client_ip(&req("198.51.100.9", Some("1.2.3.4"))), Some(ip("198.51.100.9")));
        // Through the ingress: the address the ingress saw.
        assert_eq!(t.client_ip(&req("10.0.0.5", Some("203.0.113.7"))), Some(ip("203.0.113.7")));
        // A client cannot hide behind a forged first hop.
        assert_eq!(t.client_ip(&req("10.0.0.5", Some("1.2.3.4, 203.0.113.7"))), Some(ip("203.0.113.7")));
        // Several trusted hops are skipped.
        assert_eq!(t.client_ip(&req("10.0.0.5", Some("203.0.113.7, 10.0.0.9"))), Some(ip("203.0.113.7")));
        // No header, or garbage in it: the last good address.
        assert_eq!(t.client_ip(&req("10.0.0.5", None)), Some(ip("10.0.0.5")));
        assert_eq!(t.client_ip(&req("10.0.0.5", Some("203.0.113.7, junk"))), Some(ip("10.0.0.5")));
        // Nobody trusted: the peer.
        assert_eq!(TrustedProxies::default().client_ip(&req("10.0.0.5", Some("1.2.3.4"))), Some(ip("10.0.0.5")));
        assert_eq!(t.client_ip(&TestRequest::default().to_http_request()), None);
    }

    #[test]
    fn networks() {
        assert_eq!(network(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(network(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(network(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(network(ip("2001:db8:1:2:ffff::1")), network(ip("2001:db8:1:2::9")));
    }
}
