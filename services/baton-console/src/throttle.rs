//! Slowing down password guessing, for every pod at once: failed logins are counted in the hot
//! store (`HotStore::shared_get`/`shared_set`), per username and per client address, in fixed
//! windows of the injected clock. Past the limit a login is refused with `429` and
//! `Retry-After` (the seconds to the window's end) before any password is checked.
//!
//! The username limit is tight (default 5 failures per 15 minutes) and the address limit loose
//! (50): whole schools and offices share one NAT address, and one person's typos there must not
//! lock out a colleague who types a different username.
//!
//! Counters are read-modify-write, which the hot store does not make atomic: two failures of
//! one username at the same moment could count once. The login holds a lease per username
//! (`HotStore::shared_lease`) while it checks the password and counts, so attempts on one
//! username are one at a time across all pods and its count is exact. The address count can
//! still lose an increment when attempts on different usernames race; it is the loose limit.
//!
//! Names in the hot store are made here, never from raw client input: the username appears only
//! as a SHA-256 digest, the address as a parsed IP (IPv6 cut to its /64, which one client
//! typically holds whole).

use actix_web::HttpRequest;
use baton_hot::{HotError, HotStore};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// At most `failures` failed logins per window of `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub failures: u32,
    pub window_ms: i64,
}

/// The two limits of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_username: Limit,
    pub per_address: Limit,
}

impl Default for LoginLimits {
    fn default() -> Self {
        const FIFTEEN_MINUTES: i64 = 15 * 60 * 1000;
        LoginLimits {
            per_username: Limit { failures: 5, window_ms: FIFTEEN_MINUTES },
            per_address: Limit { failures: 50, window_ms: FIFTEEN_MINUTES },
        }
    }
}

/// How long a login of one username may hold its lease: far longer than a password check,
/// short enough that a pod dying mid-login does not lock the name out for long.
pub const LOGIN_LEASE_MS: u64 = 10_000;

/// The lease that makes logins of one username one at a time.
pub fn lease_name(username_key: &str) -> String {
    format!("console:login:busy:{username_key}")
}

/// What a username is called in the hot store: a digest of the name as typed (lowercased), so
/// unknown and malformed names are throttled too and no client text reaches a key.
pub fn username_key(typed: &str) -> String {
    let digest = Sha256::digest(typed.to_lowercase().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// What a client address is called in the hot store.
pub fn address_key(addr: Option<IpAddr>) -> String {
    match addr.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

/// One counter: failures of one username or address in the current window.
#[derive(Debug, Clone)]
pub struct Counter {
    name: String,
    limit: Limit,
    /// When the current window ends (ms since the epoch).
    window_end: i64,
}

impl Counter {
    /// The counter of `key` (from [`username_key`] or [`address_key`]) of kind `kind` in the
    /// window `now_ms` falls in.
    pub fn new(kind: &str, key: &str, limit: Limit, now_ms: i64) -> Self {
        let window = limit.window_ms.max(1);
        let n = now_ms.div_euclid(window);
        Counter { name: format!("console:login:fails:{kind}:{key}:{n}"), limit, window_end: (n + 1) * window }
    }

    /// Failures counted so far.
    pub async fn count(&self, store: &dyn HotStore) -> Result<u32, HotError> {
        // A value that is not a count is treated as none: it cannot lock anybody out.
        Ok(store.shared_get(&self.name).await?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Whether `count` failures reach the limit.
    pub fn exceeded(&self, count: u32) -> bool {
        count >= self.limit.failures
    }

    /// Seconds until the window ends, at least 1: the `Retry-After` of a refused login.
    pub fn retry_after_secs(&self, now_ms: i64) -> i64 {
        (self.window_end - now_ms + 999).div_euclid(1000).max(1)
    }

    /// Stores `count` failures until the window ends (and a little after, for clock skew
    /// between pods).
    pub async fn set(&self, store: &dyn HotStore, count: u32, now_ms: i64) -> Result<(), HotError> {
        let ttl = u64::try_from(self.window_end - now_ms).unwrap_or(0) + 60_000;
        store.shared_set(&self.name, &count.to_string(), ttl).await
    }
}

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
            let (ip, prefix) = match e.split_once('/') {
                Some((ip, p)) => (ip, Some(p)),
                None => (e, None),
            };
            let ip: IpAddr =
                ip.parse().map_err(|_| format!("trusted proxy {e:?} is not an IP address or CIDR block"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("bad prefix in {e:?}"))?,
            };
            out.push((ip, prefix));
        }
        Ok(TrustedProxies(out))
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
        let mut client = req.peer_addr()?.ip();
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
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Some(client)
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
    fn windows_and_retry_after() {
        let limit = Limit { failures: 5, window_ms: 900_000 };
        let c = Counter::new("u", "k", limit, 1_800_000_000_000 + 1);
        assert_eq!(c.retry_after_secs(1_800_000_000_001), 900);
        assert_eq!(c.retry_after_secs(1_800_000_899_500), 1);
        assert_eq!(c.retry_after_secs(1_800_000_900_000), 1);
        assert!(!c.exceeded(4));
        assert!(c.exceeded(5));
        // The next window is another counter.
        assert_ne!(Counter::new("u", "k", limit, 1_800_000_900_000).name, c.name);
        assert_eq!(Counter::new("u", "k", limit, 1_800_000_899_999).name, c.name);
    }

    #[test]
    fn keys_carry_no_client_text() {
        let k = username_key("admin:*\r\n{v1:x}");
        assert_eq!(k.len(), 32);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(username_key("Admin"), username_key("admin"));
        assert_ne!(username_key("admin"), username_key("admin2"));
        assert_eq!(address_key(Some(ip("203.0.113.7"))), "203.0.113.7");
        assert_eq!(address_key(Some(ip("::ffff:203.0.113.7"))), "203.0.113.7");
        assert_eq!(address_key(Some(ip("2001:db8:1:2:3:4:5:6"))), "2001:db8:1:2::/64");
        assert_eq!(address_key(Some(ip("2001:db8:1:2:ffff::1"))), "2001:db8:1:2::/64");
        assert_eq!(address_key(None), "unknown");
    }

    #[test]
    fn trusted_proxies_parse_and_match() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.1", "fd00::/8"]).unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        assert!(t.contains(ip("192.0.2.1")));
        assert!(!t.contains(ip("192.0.2.2")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad}");
        }
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
}
