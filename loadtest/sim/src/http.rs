//! The simulator's HTTP client: one connection pool for every simulated phone, each request
//! timed and counted by kind.

use crate::stats::Stats;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A response the simulator expected.
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub location: Option<String>,
}

/// Why a request did not give what was expected (already counted as an error of its kind).
#[derive(Debug)]
pub struct Failed {
    pub kind: &'static str,
    pub status: u16,
    pub detail: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed with {}: {}", self.kind, self.status, self.detail)
    }
}

#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub base: String,
    pub stats: Arc<Stats>,
}

impl Http {
    pub fn new(base: &str, stats: Arc<Stats>, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            // Below actix-web's keep-alive (5 s), so that an idle connection the server is closing
            // is not picked for a request.
            .pool_idle_timeout(Duration::from_secs(4))
            .timeout(timeout)
            .build()?;
        Ok(Self { client, base: base.trim_end_matches('/').to_owned(), stats })
    }

    /// Sends a request of `kind` and reads its JSON body (other bodies read as `null`). A
    /// status not in `expect` is an error of that kind, and so is a JSON body that does not
    /// parse.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        kind: &'static str,
        method: reqwest::Method,
        path: &str,
        agent: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: &[u16],
    ) -> Result<Reply, Failed> {
        self.exchange(kind, method, path, agent, token, body, expect, true).await
    }

    /// [`Http::call`] for a reply whose body nobody reads (a page a phone shows, a board the
    /// citizen only looks at): the body is received in full but not parsed, since parsing it
    /// would only take CPU the replay's servers share with the simulator (`Reply::json` is
    /// `null`).
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        kind: &'static str,
        method: reqwest::Method,
        path: &str,
        agent: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: &[u16],
    ) -> Result<Reply, Failed> {
        self.exchange(kind, method, path, agent, token, body, expect, false).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        kind: &'static str,
        method: reqwest::Method,
        path: &str,
        agent: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: &[u16],
        parse: bool,
    ) -> Result<Reply, Failed> {
        let mut rb = self.client.request(method, format!("{}{path}", self.base)).header("user-agent", agent);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let t0 = Instant::now();
        let sent = rb.send().await;
        let (status, location, json_body, bytes) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let (location, json_body) =
                    (header("location"), header("content-type").is_some_and(|t| t.contains("json")));
                match r.bytes().await {
                    Ok(b) => (status, location, json_body, Ok(b)),
                    Err(e) => (0, None, false, Err(e.to_string())),
                }
            }
            Err(e) => (0, None, false, Err(e.to_string())),
        };
        let latency = t0.elapsed();
        let fail = |status: u16, detail: String| {
            self.stats.record(kind, latency, Some(status));
            Failed { kind, status, detail }
        };
        let bytes = bytes.map_err(|e| fail(0, e))?;
        if !expect.contains(&status) {
            return Err(fail(status, String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()));
        }
        let json = if !(parse && json_body) {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => return Err(fail(status, format!("not JSON: {e}"))),
            }
        };
        self.stats.record(kind, latency, None);
        Ok(Reply { status, json, location })
    }
}
