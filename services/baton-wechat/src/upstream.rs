//! The calls to WeChat's API, one function per endpoint, without caching (that is
//! [`crate::WeChat`]'s job).
//!
//! Every call is a `GET` whose query carries a credential (the app secret or the access
//! token), so a transport error is formatted only after [`reqwest::Error::without_url`], and
//! every message kept is [`scrub`]bed of the secret. WeChat answers JSON (often labelled
//! `text/plain`), and reports failures as `{"errcode": N, "errmsg": "..."}` with HTTP 200.

use crate::config::{AppSecret, WeChatConfig};
use crate::error::{Endpoint, WeChatError, scrub};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Largest answer read from WeChat (its answers are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// A credential WeChat issued and how many seconds it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issued {
    pub value: String,
    pub expires_in: u64,
}

/// WeChat's API for one official account.
pub(crate) struct Upstream {
    http: reqwest::Client,
    api_base: String,
    app_id: String,
    secret: AppSecret,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TicketReply {
    ticket: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthReply {
    openid: String,
}

/// What WeChat documents as the lifetime of tokens and tickets, for answers that omit it.
const DEFAULT_EXPIRES_IN: u64 = 7200;

impl Upstream {
    pub fn new(config: &WeChatConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            api_base: config.api_base.clone(),
            app_id: config.app_id.clone(),
            secret: config.app_secret.clone(),
        })
    }

    /// `GET /cgi-bin/token`: a new access token (which starts the 5-minute end of the old one).
    pub async fn access_token(&self) -> Result<Issued, WeChatError> {
        let query =
            [("grant_type", "client_credential"), ("appid", self.app_id.as_str()), ("secret", self.secret.expose())];
        let r: TokenReply = self.get(Endpoint::Token, "/cgi-bin/token", &query).await?;
        Ok(Issued { value: r.access_token, expires_in: r.expires_in.unwrap_or(DEFAULT_EXPIRES_IN) })
    }

    /// `GET /cgi-bin/ticket/getticket?type=jsapi`: a JS-SDK ticket for `access_token`.
    pub async fn jsapi_ticket(&self, access_token: &str) -> Result<Issued, WeChatError> {
        let query = [("access_token", access_token), ("type", "jsapi")];
        let r: TicketReply = self.get(Endpoint::Ticket, "/cgi-bin/ticket/getticket", &query).await?;
        Ok(Issued { value: r.ticket, expires_in: r.expires_in.unwrap_or(DEFAULT_EXPIRES_IN) })
    }

    /// `GET /sns/oauth2/access_token`: the openid a `snsapi_base` sign-in code stands for.
    pub async fn openid(&self, code: &str) -> Result<String, WeChatError> {
        let query = [
            ("appid", self.app_id.as_str()),
            ("secret", self.secret.expose()),
            ("code", code),
            ("grant_type", "authorization_code"),
        ];
        let r: OAuthReply = self.get(Endpoint::OAuth, "/sns/oauth2/access_token", &query).await?;
        Ok(r.openid)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, WeChatError> {
        let mut url = url::Url::parse(&format!("{}{path}", self.api_base))
            .map_err(|e| WeChatError::BadResponse { endpoint, detail: format!("cannot build the request URL: {e}") })?;
        url.query_pairs_mut().extend_pairs(query);
        let unreachable = |e: reqwest::Error| WeChatError::Unreachable { endpoint, detail: self.describe(e) };
        let mut res = self.http.get(url).send().await.map_err(unreachable)?;
        let status = res.status();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(WeChatError::BadResponse {
                    endpoint,
                    detail: format!("answer longer than {MAX_BODY} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(WeChatError::BadResponse { endpoint, detail: format!("HTTP {}", status.as_u16()) });
        }
        let malformed = |e: serde_json::Error| WeChatError::BadResponse {
            endpoint,
            detail: scrub(&format!("HTTP {}, not the documented JSON: {e}", status.as_u16()), self.secret.expose()),
        };
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(malformed)?;
        let st: Status = serde_json::from_value(value.clone()).map_err(malformed)?;
        if st.errcode != 0 {
            return Err(WeChatError::Rejected {
                endpoint,
                errcode: st.errcode,
                errmsg: scrub(&st.errmsg, self.secret.expose()),
            });
        }
        serde_json::from_value(value).map_err(malformed)
    }

    /// A transport error without the request URL (it carries credentials), with its causes.
    fn describe(&self, e: reqwest::Error) -> String {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        let e = e.without_url();
        let mut text = format!("{kind}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        scrub(&text, self.secret.expose())
    }
}
