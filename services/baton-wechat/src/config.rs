//! What the WeChat integration is configured with: the official account's app id and secret,
//! where WeChat's API is, and the timings of the shared credential cache.
//!
//! The secret is an [`AppSecret`]: its `Debug` prints `[redacted]` and it has no `Display`, so
//! it cannot end up in a log line or a response by accident. [`WeChatConfig::validate`] checks
//! everything once, at start, and names the flag at fault.

use std::fmt;
use std::time::Duration;

/// WeChat's production API.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// The official account's app secret. Shown as `[redacted]`; read it with [`AppSecret::expose`]
/// only where it is sent to WeChat.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret(String);

impl AppSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that sends it to WeChat (and for scrubbing it out
    /// of upstream messages).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A setting that cannot work, named by its command-line flag (or, for the timings, which
/// have no flag, by their key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {reason}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub reason: String,
}

fn bad(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { flag, reason: reason.into() }
}

/// The WeChat integration's settings (`--wechat-app-id`, `--wechat-app-secret`,
/// `--wechat-api-base`; the timings have no flags and keep their defaults in production).
#[derive(Clone)]
pub struct WeChatConfig {
    /// The official account's app id (`wx` and 16 hex digits for a real account).
    pub app_id: String,
    /// Never logged, never returned.
    pub app_secret: AppSecret,
    /// WeChat's API without a trailing slash, [`DEFAULT_API_BASE`] unless a test points it at
    /// a fake.
    pub api_base: String,
    /// Cached credentials expire this long before WeChat says they do (default 5 minutes), so
    /// nobody signs with a ticket in its last minutes, and a fresh token is fetched inside the
    /// 5-minute overlap in which WeChat still accepts the old one.
    pub refresh_margin: Duration,
    /// Longest wait for one answer from WeChat, connecting included (default 5 s).
    pub request_timeout: Duration,
    /// How long a caller that found the cache empty waits for the pod that is refreshing it
    /// before giving up with `503` (default 3 s).
    pub refresh_wait: Duration,
    /// After a refresh failed, every pod answers with that failure for this long instead of
    /// asking WeChat again (default 2 s): a flash crowd during a WeChat outage, or with a
    /// misconfigured account, must not turn into a flood of calls against the daily quota.
    pub failure_backoff: Duration,
}

impl WeChatConfig {
    /// A configuration with the production API and default timings.
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: AppSecret::new(app_secret),
            api_base: DEFAULT_API_BASE.to_owned(),
            refresh_margin: Duration::from_secs(5 * 60),
            request_timeout: Duration::from_secs(5),
            refresh_wait: Duration::from_secs(3),
            failure_backoff: Duration::from_secs(2),
        }
    }

    /// The same configuration talking to `api_base` (a trailing slash is dropped).
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into().trim_end_matches('/').to_owned();
        self
    }

    /// Checks every setting; the error names the flag to fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let id = &self.app_id;
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(bad(
                "--wechat-app-id",
                "must be 1 to 64 letters, digits, '_' or '-' (e.g. wx0123456789abcdef)",
            ));
        }
        let secret = self.app_secret.expose();
        if secret.is_empty() || secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            // Never echo the secret, not even in this message.
            return Err(bad("--wechat-app-secret", "must be 1 to 256 printable ASCII characters without spaces"));
        }
        let base = url::Url::parse(&self.api_base)
            .map_err(|e| bad("--wechat-api-base", format!("{:?} is not a URL: {e}", self.api_base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(bad("--wechat-api-base", format!("{:?} must be an http(s) URL with a host", self.api_base)));
        }
        if base.query().is_some() || base.fragment().is_some() || self.api_base.ends_with('/') {
            return Err(bad(
                "--wechat-api-base",
                format!("{:?} must have no query, fragment or trailing slash", self.api_base),
            ));
        }
        for (key, d) in [
            ("wechat.request_timeout", self.request_timeout),
            ("wechat.refresh_wait", self.refresh_wait),
            ("wechat.failure_backoff", self.failure_backoff),
        ] {
            if d.is_zero() {
                return Err(bad(key, "must be positive"));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for WeChatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeChatConfig")
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("api_base", &self.api_base)
            .field("refresh_margin", &self.refresh_margin)
            .field("request_timeout", &self.request_timeout)
            .field("refresh_wait", &self.refresh_wait)
            .field("failure_backoff", &self.failure_backoff)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn debug_never_shows_the_secret() {
        let c = WeChatConfig::new("wx0123456789abcdef", SECRET);
        let shown = format!("{c:?} {:?} {c:#?}", c.app_secret);
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("wx0123456789abcdef"));
    }

    #[test]
    fn defaults_and_base() {
        let c = WeChatConfig::new("wxa", SECRET);
        assert_eq!(c.api_base, DEFAULT_API_BASE);
        assert_eq!(c.refresh_margin, Duration::from_secs(300));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.with_api_base("http://127.0.0.1:9/").api_base, "http://127.0.0.1:9");
    }

    #[test]
    fn validation_names_the_flag_and_hides_the_secret() {
        let flag = |c: WeChatConfig| c.validate().unwrap_err().flag;
        assert_eq!(flag(WeChatConfig::new("", SECRET)), "--wechat-app-id");
        assert_eq!(flag(WeChatConfig::new("wx:a", SECRET)), "--wechat-app-id");
        assert_eq!(flag(WeChatConfig::new("wxa", "")), "--wechat-app-secret");
        let e = WeChatConfig::new("wxa", "has space").validate().unwrap_err();
        assert!(!e.to_string().contains("has space"));
        assert_eq!(flag(WeChatConfig::new("wxa", SECRET).with_api_base("ftp://x")), "--wechat-api-base");
        assert_eq!(flag(WeChatConfig::new("wxa", SECRET).with_api_base("nonsense")), "--wechat-api-base");
        assert_eq!(flag(WeChatConfig::new("wxa", SECRET).with_api_base("http://x?a=1")), "--wechat-api-base");
        let mut c = WeChatConfig::new("wxa", SECRET);
        c.refresh_wait = Duration::ZERO;
        assert!(c.validate().is_err());
    }
}
