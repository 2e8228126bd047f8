//! WeChat for Baton: `wx.config` signatures for the JS-SDK (share cards in WeChat's in-app
//! browser), and silent `snsapi_base` sign-in (a code in, an openid out).
//!
//! # One copy of the credentials, one refresher
//! The JS-SDK signature needs a `jsapi_ticket`, which needs an `access_token`. Both live 7200 s,
//! an account may fetch only about 2000 a day, and fetching a new token ends the old one after a
//! 5-minute overlap; so every pod shares ONE copy of each in the hot store's shared values
//! ([`baton_hot::HotStore::shared_get`]), and only the holder of one lease refreshes them:
//!
//! 1. Read the ticket. Present: sign with it (one hot-store read per request).
//! 2. Missing: if a refresh failed within [`WeChatConfig::failure_backoff`], answer with that
//!    failure without asking WeChat. Otherwise take the lease `wechat:<app_id>:refresh`.
//! 3. The lease holder reads the ticket again (a refresh may just have finished), then gets a
//!    token (cached, or `GET /cgi-bin/token`) and a ticket (`GET /cgi-bin/ticket/getticket`),
//!    stores each for its `expires_in` minus [`WeChatConfig::refresh_margin`], and releases the
//!    lease. If WeChat rejects the token as invalid or expired (40001, 40014, 42001), a new
//!    token replaces the cached one and the ticket is asked for once more. The refresh runs as its own task,
//!    so a client that goes away mid-refresh cannot leave the lease held and the cache empty.
//! 4. Callers that did not get the lease poll the shared ticket (backing off from 10 to 100 ms)
//!    for at most [`WeChatConfig::refresh_wait`], then answer `503`.
//!
//! # Layout
//! - this file: [`WeChat`], the service; [`names`]: the shared-value names it uses.
//! - [`config`]: [`WeChatConfig`], with the secret redacted in `Debug`, validated at start.
//! - [`mod@sign`]: [`sign()`], [`PageUrl`], nonces.
//! - [`oauth`]: the `snsapi_base` authorize URL and the code's shape.
//! - [`error`]: [`WeChatError`] and the problem documents it becomes.
//! - `upstream`: the HTTP calls to WeChat.
//! - [`routes`]: `GET /api/v1/wechat/jssdk-config`.

pub mod config;
pub mod error;
pub mod oauth;
pub mod routes;
pub mod sign;
mod upstream;

pub use config::{AppSecret, ConfigError, DEFAULT_API_BASE, WeChatConfig};
pub use error::{Endpoint, FailureKind, WeChatError};
pub use sign::{PageUrl, PageUrlError, sign};

use baton_hot::HotStore;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use upstream::{Issued, Upstream};

/// What `wx.config` needs besides `jsApiList`: the page's signature and what it was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JsSdkConfig {
    /// The official account's app id (`appId`).
    pub app_id: String,
    /// Seconds since the Unix epoch (`timestamp`).
    pub timestamp: i64,
    /// A fresh random string (`nonceStr`).
    pub nonce_str: String,
    /// Hex SHA-1 (`signature`).
    pub signature: String,
}

/// The names of the shared values and the lease, per app id. Baton's own code chooses them
/// (the app id is validated configuration), never a client.
pub mod names {
    /// The cached `access_token`.
    pub fn access_token(app_id: &str) -> String {
        format!("wechat:{app_id}:access_token")
    }
    /// The cached `jsapi_ticket`.
    pub fn jsapi_ticket(app_id: &str) -> String {
        format!("wechat:{app_id}:jsapi_ticket")
    }
    /// The lease of the one refresher.
    pub fn refresh_lease(app_id: &str) -> String {
        format!("wechat:{app_id}:refresh")
    }
    /// The kind of the last refresh failure, kept for the failure backoff.
    pub fn failure(app_id: &str) -> String {
        format!("wechat:{app_id}:failure")
    }
}

/// Errcodes of `getticket` that mean "this access token is not (or no longer) valid".
const TOKEN_REJECTED: [i64; 3] = [40001, 40014, 42001];

/// The WeChat integration for one official account. Cheap to clone; every clone shares the
/// HTTP connection pool.
#[derive(Clone)]
pub struct WeChat {
    inner: Arc<Inner>,
}

struct Inner {
    config: WeChatConfig,
    store: Arc<dyn HotStore>,
    upstream: Upstream,
    /// Shared-value names for this app id.
    token_name: String,
    ticket_name: String,
    lease_name: String,
    failure_name: String,
}

impl std::fmt::Debug for WeChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChat").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl WeChat {
    /// Validates `config` and builds the service on `store`.
    pub fn new(config: WeChatConfig, store: Arc<dyn HotStore>) -> Result<Self, ConfigError> {
        config.validate()?;
        let upstream = Upstream::new(&config).map_err(|e| ConfigError {
            flag: "--wechat-api-base",
            reason: format!("cannot build the HTTP client: {}", e.without_url()),
        })?;
        let id = config.app_id.as_str();
        Ok(Self {
            inner: Arc::new(Inner {
                token_name: names::access_token(id),
                ticket_name: names::jsapi_ticket(id),
                lease_name: names::refresh_lease(id),
                failure_name: names::failure(id),
                upstream,
                store,
                config,
            }),
        })
    }

    pub fn app_id(&self) -> &str {
        &self.inner.config.app_id
    }

    /// The `wx.config` values for the page at `url`, signed at `timestamp` (seconds).
    pub async fn jssdk_config(&self, url: &PageUrl, timestamp: i64) -> Result<JsSdkConfig, WeChatError> {
        let ticket = self.jsapi_ticket().await?;
        let nonce_str = sign::nonce();
        let signature = sign(&ticket, &nonce_str, timestamp, url.as_str());
        Ok(JsSdkConfig { app_id: self.inner.config.app_id.clone(), timestamp, nonce_str, signature })
    }

    /// The `snsapi_base` authorize URL that sends the browser back to `redirect_uri` with a
    /// `code` (and `state`); see [`oauth::authorize_url`].
    pub fn oauth_url(&self, redirect_uri: &str, state: &str) -> String {
        oauth::authorize_url(&self.inner.config.app_id, redirect_uri, state)
    }

    /// The openid a sign-in `code` stands for. A malformed code is refused without asking
    /// WeChat; an unknown (40029), used (40163) or expired (42003) one is
    /// [`WeChatError::BadCode`].
    pub async fn openid_for_code(&self, code: &str) -> Result<String, WeChatError> {
        if !oauth::code_shape_ok(code) {
            return Err(WeChatError::BadCode);
        }
        match self.inner.upstream.openid(code).await {
            Ok(openid) if !openid.is_empty() => Ok(openid),
            Ok(_) => Err(WeChatError::BadResponse { endpoint: Endpoint::OAuth, detail: "an empty openid".into() }),
            Err(WeChatError::Rejected { errcode, .. }) if oauth::CODE_REJECTED.contains(&errcode) => {
                Err(WeChatError::BadCode)
            }
            Err(e) => Err(e),
        }
    }

    /// The shared `jsapi_ticket`, refreshed by one caller among all pods when missing.
    pub async fn jsapi_ticket(&self) -> Result<String, WeChatError> {
        let store = &self.inner.store;
        if let Some(ticket) = store.shared_get(&self.inner.ticket_name).await? {
            return Ok(ticket);
        }
        let holder = sign::random_token(16);
        let deadline = Instant::now() + self.inner.config.refresh_wait;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(kind) = store.shared_get(&self.inner.failure_name).await? {
                return Err(WeChatError::RecentFailure(FailureKind::parse(&kind)));
            }
            if store.shared_lease(&self.inner.lease_name, &holder, self.lease_ms()).await? {
                // Run the refresh on its own task: it finishes (and releases the lease) even
                // if this request is dropped half-way.
                let me = self.clone();
                return match tokio::spawn(async move { me.refresh_holding_lease(holder).await }).await {
                    Ok(result) => result,
                    Err(join) => Err(WeChatError::Unreachable {
                        endpoint: Endpoint::Ticket,
                        detail: format!("the refresh task ended abnormally: {join}"),
                    }),
                };
            }
            if Instant::now() >= deadline {
                return Err(WeChatError::RefreshTimedOut(self.inner.config.refresh_wait));
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_millis(100));
            if let Some(ticket) = store.shared_get(&self.inner.ticket_name).await? {
                return Ok(ticket);
            }
        }
    }

    /// How long the lease is held at most: long enough for the longest refresh (two tokens and
    /// two tickets, each up to the request timeout), short enough that a crashed holder does
    /// not stop refreshes for long.
    fn lease_ms(&self) -> u64 {
        (self.inner.config.request_timeout * 4 + Duration::from_secs(2)).as_millis() as u64
    }

    async fn refresh_holding_lease(&self, holder: String) -> Result<String, WeChatError> {
        let result = self.refresh().await;
        if let Err(e) = &result
            && let Some(kind) = e.failure_kind()
        {
            let backoff = self.inner.config.failure_backoff.as_millis() as u64;
            if let Err(store) = self.inner.store.shared_set(&self.inner.failure_name, kind.as_str(), backoff).await {
                tracing::warn!(error = %store, "could not record the WeChat refresh failure");
            }
        }
        if let Err(e) = self.inner.store.shared_release(&self.inner.lease_name, &holder).await {
            // The lease expires by itself; until then other callers wait or time out.
            tracing::warn!(error = %e, "could not release the WeChat refresh lease");
        }
        result
    }

    /// Under the lease: the ticket, fetched (with a token, cached or fetched) unless another
    /// refresher stored one since this caller looked.
    async fn refresh(&self) -> Result<String, WeChatError> {
        let inner = &self.inner;
        if let Some(ticket) = inner.store.shared_get(&inner.ticket_name).await? {
            return Ok(ticket);
        }
        let token = match inner.store.shared_get(&inner.token_name).await? {
            Some(t) => t,
            None => self.fetch_token().await?,
        };
        let ticket = match inner.upstream.jsapi_ticket(&token).await {
            Err(WeChatError::Rejected { errcode, .. }) if TOKEN_REJECTED.contains(&errcode) => {
                // Another system may have fetched tokens for this account (each ends the ones
                // before it): replace ours, once.
                tracing::info!(errcode, "WeChat rejected the access token; fetching a new one");
                let token = self.fetch_token().await?;
                inner.upstream.jsapi_ticket(&token).await?
            }
            other => other?,
        };
        if ticket.value.is_empty() {
            return Err(WeChatError::BadResponse { endpoint: Endpoint::Ticket, detail: "an empty ticket".into() });
        }
        self.keep(&inner.ticket_name, &ticket).await?;
        tracing::info!(expires_in = ticket.expires_in, "fetched a new WeChat jsapi_ticket");
        Ok(ticket.value)
    }

    async fn fetch_token(&self) -> Result<String, WeChatError> {
        let token = self.inner.upstream.access_token().await?;
        if token.value.is_empty() {
            return Err(WeChatError::BadResponse { endpoint: Endpoint::Token, detail: "an empty access_token".into() });
        }
        self.keep(&self.inner.token_name, &token).await?;
        tracing::info!(expires_in = token.expires_in, "fetched a new WeChat access_token");
        Ok(token.value)
    }

    /// Stores `issued` for every pod until shortly before it expires.
    async fn keep(&self, name: &str, issued: &Issued) -> Result<(), WeChatError> {
        if let Some(ttl) = cache_ttl_ms(issued.expires_in, self.inner.config.refresh_margin) {
            self.inner.store.shared_set(name, &issued.value, ttl).await?;
        }
        Ok(())
    }
}

/// How long to keep a credential that lives `expires_in` seconds: that minus `margin`, or half
/// of it when it lives no longer than the margin; `None` (use once, do not keep) below 1 ms.
fn cache_ttl_ms(expires_in: u64, margin: Duration) -> Option<u64> {
    let lives = expires_in.saturating_mul(1000);
    let margin = margin.as_millis() as u64;
    let ttl = if lives > margin { lives - margin } else { lives / 2 };
    (ttl > 0).then_some(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_leaves_the_margin() {
        let five_min = Duration::from_secs(300);
        assert_eq!(cache_ttl_ms(7200, five_min), Some(6_900_000));
        assert_eq!(cache_ttl_ms(3, Duration::from_secs(2)), Some(1000));
        assert_eq!(cache_ttl_ms(60, five_min), Some(30_000));
        assert_eq!(cache_ttl_ms(0, five_min), None);
    }

    #[test]
    fn names_are_per_app() {
        assert_eq!(names::refresh_lease("wx1"), "wechat:wx1:refresh");
        assert_ne!(names::jsapi_ticket("wx1"), names::jsapi_ticket("wx2"));
        assert_ne!(names::jsapi_ticket("wx1"), names::access_token("wx1"));
    }
}
