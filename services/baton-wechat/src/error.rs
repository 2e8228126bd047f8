//! What can go wrong talking to WeChat, and the problem document each failure answers with.
//!
//! | error | status | `code` |
//! |---|---|---|
//! | [`WeChatError::Rejected`], [`WeChatError::BadResponse`] (WeChat answered, with an error) | 502 | `wechat_upstream` |
//! | [`WeChatError::Unreachable`], [`WeChatError::RefreshTimedOut`] (no answer in time) | 503 | `wechat_unavailable` |
//! | [`WeChatError::RecentFailure`] (a refresh failed moments ago) | as the failure was | |
//! | [`WeChatError::BadCode`] (sign-in code malformed, unknown, used or expired) | 400 | `wechat_code_invalid` |
//! | [`WeChatError::Store`] (the hot store) | 503 / 500 | `unavailable` / `internal` |
//!
//! No message here ever holds the app secret or a credential: request URLs (which carry them)
//! are stripped from transport errors, and WeChat's own `errmsg` is scrubbed of the secret
//! before it is kept. Details go to the log, once, where the error becomes a [`Problem`]; the
//! client sees a fixed sentence.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use baton_hot::HotError;
use baton_http::Problem;
use std::fmt;
use std::time::Duration;

/// Which WeChat endpoint an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /cgi-bin/token`
    Token,
    /// `GET /cgi-bin/ticket/getticket`
    Ticket,
    /// `GET /sns/oauth2/access_token`
    OAuth,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Token => "cgi-bin/token",
            Endpoint::Ticket => "cgi-bin/ticket/getticket",
            Endpoint::OAuth => "sns/oauth2/access_token",
        })
    }
}

/// A refresh failure as every pod remembers it for [`crate::WeChatConfig::failure_backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// WeChat answered with an error (an `errcode`, an HTTP error, or something unreadable).
    Upstream,
    /// WeChat did not answer in time.
    Unavailable,
}

impl FailureKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureKind::Upstream => "upstream",
            FailureKind::Unavailable => "unavailable",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        if s == "upstream" { FailureKind::Upstream } else { FailureKind::Unavailable }
    }
}

/// Why a WeChat operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WeChatError {
    /// WeChat answered with a non-zero `errcode`.
    #[error("WeChat {endpoint} answered errcode {errcode}: {errmsg}")]
    Rejected { endpoint: Endpoint, errcode: i64, errmsg: String },
    /// WeChat answered with an HTTP error, or a body that is not the JSON its API documents.
    #[error("WeChat {endpoint} answered unexpectedly: {detail}")]
    BadResponse { endpoint: Endpoint, detail: String },
    /// WeChat could not be reached, or did not answer within the request timeout.
    #[error("WeChat {endpoint} could not be reached: {detail}")]
    Unreachable { endpoint: Endpoint, detail: String },
    /// Another caller (on this pod or another) holds the refresh lease and did not store fresh
    /// credentials within the configured wait.
    #[error("the WeChat credentials were not refreshed by another caller within {0:?}")]
    RefreshTimedOut(Duration),
    /// A refresh failed moments ago; WeChat is not asked again until the backoff has passed.
    #[error("a WeChat refresh failed moments ago ({}); not asking again yet", .0.as_str())]
    RecentFailure(FailureKind),
    /// The sign-in code is malformed, unknown, already used or expired.
    #[error("the WeChat sign-in code is malformed, unknown, used or expired")]
    BadCode,
    /// The hot store, where the shared credentials live, failed.
    #[error(transparent)]
    Store(#[from] HotError),
}

impl WeChatError {
    /// Whether this is a failure to refresh that other callers should see for a moment too.
    pub(crate) fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            WeChatError::Rejected { .. } | WeChatError::BadResponse { .. } => Some(FailureKind::Upstream),
            WeChatError::Unreachable { .. } => Some(FailureKind::Unavailable),
            _ => None,
        }
    }

    /// The problem document this error answers with. Logs the cause (once: call this once per
    /// request).
    pub fn to_problem(&self) -> Problem {
        let upstream = || {
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "wechat_upstream",
                "Bad gateway",
                "WeChat answered with an error. Please try again later.",
            )
        };
        let unavailable = || {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                "Service unavailable",
                "WeChat could not be reached. Please try again in a moment.",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
        };
        match self {
            WeChatError::Rejected { .. } | WeChatError::BadResponse { .. } => {
                tracing::error!(error = %self, "WeChat answered with an error");
                upstream()
            }
            WeChatError::RecentFailure(FailureKind::Upstream) => {
                tracing::warn!(error = %self, "WeChat failed recently");
                upstream()
            }
            WeChatError::Unreachable { .. } | WeChatError::RefreshTimedOut(_) => {
                tracing::error!(error = %self, "WeChat unavailable");
                unavailable()
            }
            WeChatError::RecentFailure(FailureKind::Unavailable) => {
                tracing::warn!(error = %self, "WeChat failed recently");
                unavailable()
            }
            WeChatError::BadCode => Problem::bad_request(
                "wechat_code_invalid",
                "The WeChat sign-in code is invalid, used or expired. Please open the page from WeChat again.",
            ),
            WeChatError::Store(HotError::Unavailable(m)) => Problem::unavailable(m),
            WeChatError::Store(HotError::Corrupt(m)) => Problem::internal(m),
        }
    }
}

impl From<WeChatError> for Problem {
    fn from(e: WeChatError) -> Self {
        e.to_problem()
    }
}

/// `text` without any occurrence of `secret`, at most 200 characters: for keeping WeChat's
/// `errmsg` (which may echo parts of a request) and transport messages.
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    let clean = if secret.is_empty() { text.to_owned() } else { text.replace(secret, "[redacted]") };
    clean.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases = [
            (
                WeChatError::Rejected { endpoint: Endpoint::Token, errcode: 40164, errmsg: "ip".into() },
                502,
                "wechat_upstream",
            ),
            (
                WeChatError::BadResponse { endpoint: Endpoint::Ticket, detail: "HTTP 500".into() },
                502,
                "wechat_upstream",
            ),
            (
                WeChatError::Unreachable { endpoint: Endpoint::Token, detail: "timeout".into() },
                503,
                "wechat_unavailable",
            ),
            (WeChatError::RefreshTimedOut(Duration::from_secs(3)), 503, "wechat_unavailable"),
            (WeChatError::RecentFailure(FailureKind::Upstream), 502, "wechat_upstream"),
            (WeChatError::RecentFailure(FailureKind::Unavailable), 503, "wechat_unavailable"),
            (WeChatError::BadCode, 400, "wechat_code_invalid"),
            (WeChatError::Store(HotError::Unavailable("down".into())), 503, "unavailable"),
        ];
        for (e, status, code) in cases {
            let p = e.to_problem();
            assert_eq!((p.status.as_u16(), p.code), (status, code), "{e}");
            assert!(!p.detail.contains("errcode") && !p.detail.contains("timeout"), "opaque detail: {}", p.detail);
        }
    }

    #[test]
    fn scrubbing() {
        assert_eq!(scrub("invalid appsecret S3CRET rid: 1", "S3CRET"), "invalid appsecret [redacted] rid: 1");
        assert_eq!(scrub(&"x".repeat(500), "S").len(), 200);
        assert_eq!(FailureKind::parse(FailureKind::Upstream.as_str()), FailureKind::Upstream);
        assert_eq!(FailureKind::parse(FailureKind::Unavailable.as_str()), FailureKind::Unavailable);
    }
}
