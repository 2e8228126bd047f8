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
    match addr.map(baton_http::client::network) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => format!("{v6}/64"),
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

/// Client addresses behind proxies: one implementation for every role, in `baton_http`.
pub use baton_http::client::TrustedProxies;

#[cfg(test)]
mod tests {
    use super::*;

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
}
