//! The end-to-end harness: the real app (built by the same [`baton::app`] functions `baton serve`
//! uses) served over real HTTP on a free loopback port, backed by real stores the test owns —
//! the embedded hot store or a throwaway `redis-server`, SQLite in a temp dir or a fresh
//! PostgreSQL database — with a [`ManualClock`] the test moves.
//!
//! The HTTP client is a few lines over `TcpStream`, so tests can also send what no well-behaved
//! client would (malformed JSON, wrong content types, oversized bodies).

use baton::app::{ServeConfig, Services};
use baton::roles::Roles;
use baton_core::Millis;
use baton_http::clock::ManualClock;
use baton_testkit::{TestPg, TestRedis, TestRedisCluster, TestSqlite};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which hot store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hot {
    Embedded,
    Redis,
    /// The six-node Redis Cluster this test binary shares (a key prefix of the test's own),
    /// participants over 8 hash tags.
    RedisCluster,
}

/// Which SQL engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sql {
    Sqlite,
    Postgres,
}

/// 2026-06-10T04:00:00Z (noon in Shanghai): the demo campaign is live.
pub const NOON: Millis = 1_781_064_000_000;

/// The password of every organizer [`TestApp::organizer`] makes.
pub const ORGANIZER_PASSWORD: &str = "correct horse battery staple";

/// A running app and what it owns.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub clock: ManualClock,
    pub services: Services,
    server: actix_web::dev::ServerHandle,
    _redis: Option<TestRedis>,
    _pg: Option<TestPg>,
    _sqlite: Option<TestSqlite>,
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Asserts a problem document with this status and code; returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "status of {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text());
        let v = self.json();
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["status"], status);
        assert_eq!(v["type"], format!("urn:baton:problem:{code}"));
        assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()));
        v
    }
}

/// A participant that joined.
#[derive(Debug, Clone)]
pub struct Joined {
    pub id: String,
    pub token: String,
}

impl TestApp {
    /// The app with every role, the demo campaign loaded, the clock at [`NOON`].
    pub async fn spawn(hot: Hot, sql: Sql) -> Self {
        Self::spawn_with(hot, sql, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to change the configuration first.
    pub async fn spawn_with(hot: Hot, sql: Sql, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let (redis, redis_url, prefix) = match hot {
            Hot::Embedded => (None, None, String::new()),
            Hot::Redis => {
                let r = TestRedis::start().await;
                let (url, prefix) = (r.url().to_owned(), r.key_prefix().to_owned());
                (Some(r), Some(url), prefix)
            }
            Hot::RedisCluster => {
                let c = tokio::task::spawn_blocking(TestRedisCluster::shared).await.expect("the cluster starts");
                (None, Some(c.url()), baton_testkit::redis_cluster::unique_prefix())
            }
        };
        let (pg, sqlite, database_url) = match sql {
            Sql::Sqlite => {
                let s = TestSqlite::new();
                let url = s.url().to_owned();
                (None, Some(s), url)
            }
            Sql::Postgres => {
                let p = TestPg::create().await;
                let url = p.url().to_owned();
                (Some(p), None, url)
            }
        };
        let mut config = ServeConfig {
            roles: Roles::all(),
            database_url,
            redis_url,
            redis_prefix: prefix,
            redis_shards: if hot == Hot::RedisCluster { 8 } else { 1 },
            redis_cluster: hot == Hot::RedisCluster,
            jwt_keys: Vec::new(),
            body_limit: baton_http::extract::DEFAULT_BODY_LIMIT,
            public_url: "https://baton.test".into(),
            demo: true,
            campaign_refresh: Duration::from_secs(3600),
            wechat: None,
            limits: baton_http::limits::LimitsConfig::default(),
            trusted_proxies: baton_http::client::TrustedProxies::default(),
            separate_metrics: false,
        };
        tweak(&mut config);
        let clock = ManualClock::new(NOON);
        let (addr, services, server) = serve(config, &clock).await;
        Self { addr, clock, services, server, _redis: redis, _pg: pg, _sqlite: sqlite }
    }

    /// Stops this process's app and starts a new one on the same stores and configuration, as
    /// a restart (or another pod) would.
    pub async fn restart(mut self) -> Self {
        self.server.stop(true).await;
        let (addr, services, server) = serve(self.services.config.clone(), &self.clock).await;
        (self.addr, self.services, self.server) = (addr, services, server);
        self
    }

    /// Another pod of the same deployment: a second app on the same stores, configuration and
    /// clock, serving beside this one (Redis only: the embedded store lives in its process).
    /// The stores belong to `self`, so the pod must not outlive it.
    pub async fn another_pod(&self) -> TestApp {
        assert!(self.services.config.redis_url.is_some(), "only pods on Redis share a hot store");
        let (addr, services, server) = serve(self.services.config.clone(), &self.clock).await;
        TestApp { addr, clock: self.clock.clone(), services, server, _redis: None, _pg: None, _sqlite: None }
    }

    /// Sends one raw HTTP/1.1 request and reads the whole response.
    pub async fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.expect("connects");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("reads the response");
        parse_response(&buf)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h = vec![];
        if let Some(a) = &auth {
            h.push(("Authorization", a.as_str()));
        }
        self.raw("GET", path, &h, b"").await
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            h.push(("Authorization", a.as_str()));
        }
        self.raw("POST", path, &h, body.to_string().as_bytes()).await
    }

    /// Sends `body` with `method` and an optional bearer token (`content_type` names it).
    pub async fn send(&self, method: &str, path: &str, content_type: &str, body: &[u8], token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h = vec![("Content-Type", content_type)];
        if let Some(a) = &auth {
            h.push(("Authorization", a.as_str()));
        }
        self.raw(method, path, &h, body).await
    }

    /// Makes an organizer account (as `baton organizer add` does) and logs it in over HTTP;
    /// returns its token. `campaign` and `region` as the role allows.
    pub async fn organizer(&self, username: &str, role: &str, campaign: Option<&str>, region: Option<&str>) -> String {
        let role = baton_console::Role::parse(role).expect("a role");
        baton_console::create_organizer(&self.services.db, username, role, campaign, region, ORGANIZER_PASSWORD)
            .await
            .expect("the organizer is created");
        let r = self
            .post(
                "/api/v1/console/login",
                &serde_json::json!({"username": username, "password": ORGANIZER_PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "login: {}", r.text());
        r.json()["token"].as_str().expect("a token").to_owned()
    }

    /// Brings SQL up to date (with Redis: runs an archiver until the streams are drained) and
    /// rolls up the relay totals, as the background workers would.
    pub async fn settle(&self) {
        if let Some(url) = self.services.config.redis_url.clone() {
            let mut c = baton_archiver::redis::ArchiverConfig::new("settle");
            c.block = Duration::from_millis(20);
            c.claim_idle = Duration::ZERO;
            let mut a = baton::app::start_archiver(&self.services, &url, c).await.expect("the archiver starts");
            loop {
                let r = a.run_once().await.expect("archives");
                if r.read == 0 && r.claimed == 0 {
                    break;
                }
            }
        }
        baton_relay::worker::roll_up_all(&self.services.db, &self.services.campaigns).await.expect("rolls up");
    }

    /// Joins the demo campaign from `device` at a township of 荷塘区.
    pub async fn join(&self, device: &str, nickname: &str) -> Joined {
        self.join_at(device, nickname, "hetang-yuetang", None).await
    }

    pub async fn join_at(&self, device: &str, nickname: &str, region: &str, unit: Option<&str>) -> Joined {
        let mut body = serde_json::json!({"device_id": device, "region_id": region, "nickname": nickname});
        if let Some(u) = unit {
            body["unit_id"] = u.into();
        }
        let r = self.post("/api/v1/campaigns/demo/participants", &body, None).await;
        assert!(r.status == 201 || r.status == 200, "join: {}", r.text());
        let v = r.json();
        Joined { id: v["participant_id"].as_str().unwrap().into(), token: v["token"].as_str().unwrap().into() }
    }

    /// Joins the demo campaign at a township of 荷塘区, through a relay code if given; returns
    /// the status and the answer (no status is asserted: callers check what they expect).
    pub async fn join_invited(&self, device: &str, nickname: &str, code: Option<&str>) -> (u16, Value) {
        let mut body = serde_json::json!({"device_id": device, "region_id": "hetang-yuetang", "nickname": nickname});
        if let Some(c) = code {
            body["invite_code"] = c.into();
        }
        let r = self.post("/api/v1/campaigns/demo/participants", &body, None).await;
        (r.status, r.json())
    }

    /// The caller's relay stats.
    pub async fn relay_of(&self, token: &str) -> Value {
        self.get("/api/v1/me/relay", Some(token)).await.json()
    }

    /// Starts (or resumes) an attempt; returns the attempt JSON.
    pub async fn start(&self, who: &Joined) -> Value {
        let r = self.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {}", who.token))], b"").await;
        assert!(r.status == 201 || r.status == 200, "start: {}", r.text());
        r.json()
    }

    /// The choice that answers `question` (as shown in `attempt`) right, from the bank.
    pub fn right_choice(&self, question: &Value) -> Vec<usize> {
        let c = self.services.campaigns.get(&baton_core::ids::CampaignId::parse("demo").unwrap()).unwrap();
        let q = c.question(&baton_core::ids::QuestionId::parse(question["id"].as_str().unwrap()).unwrap()).unwrap();
        let shown: Vec<&str> = question["options"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
        let mut right: Vec<usize> =
            q.answer.iter().map(|&i| shown.iter().position(|s| *s == q.options[usize::from(i)]).unwrap()).collect();
        right.sort();
        right
    }

    /// A wrong choice for `question` (one option that is not exactly the right set).
    pub fn wrong_choice(&self, question: &Value) -> Vec<usize> {
        let right = self.right_choice(question);
        let n = question["options"].as_array().unwrap().len();
        (0..n).find(|i| right != vec![*i]).map(|i| vec![i]).unwrap()
    }

    pub async fn answer(&self, who: &Joined, attempt: &str, question: &str, choice: &[usize]) -> Resp {
        self.post(
            &format!("/api/v1/attempts/{attempt}/answers"),
            &serde_json::json!({"question_id": question, "choice": choice}),
            Some(&who.token),
        )
        .await
    }

    pub async fn finish(&self, who: &Joined, attempt: &str) -> Value {
        let r = self
            .raw(
                "POST",
                &format!("/api/v1/attempts/{attempt}/finish"),
                &[("Authorization", &format!("Bearer {}", who.token))],
                b"",
            )
            .await;
        assert_eq!(r.status, 200, "finish: {}", r.text());
        r.json()
    }

    /// Plays a whole attempt: the first `right` questions right, the rest wrong, each taking
    /// `ms_each` of the clock. Returns the finish answer.
    pub async fn play(&self, who: &Joined, right: usize, ms_each: Millis) -> Value {
        let a = self.start(who).await;
        let aid = a["attempt_id"].as_str().unwrap().to_owned();
        for (i, q) in a["questions"].as_array().unwrap().iter().enumerate() {
            self.clock.advance(ms_each);
            let choice = if i < right { self.right_choice(q) } else { self.wrong_choice(q) };
            let r = self.answer(who, &aid, q["id"].as_str().unwrap(), &choice).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        self.finish(who, &aid).await
    }
}

async fn serve(
    config: ServeConfig,
    clock: &ManualClock,
) -> (std::net::SocketAddr, Services, actix_web::dev::ServerHandle) {
    let services = Services::connect(config, Arc::new(clock.clone())).await.expect("the app starts");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().unwrap();
    let app_services = services.clone();
    let server = actix_web::HttpServer::new(move || baton::app::app(app_services.clone()))
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("listens")
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    (addr, services, handle)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and let workers go; the runtime ends with the test anyway.
        let h = self.server.clone();
        drop(tokio::spawn(async move { h.stop(false).await }));
    }
}

fn parse_response(buf: &[u8]) -> Resp {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Resp { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).split(';').next().unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sse {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl Sse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.data))
    }
}

/// An open `text/event-stream` response, read event by event.
pub struct SseStream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    stream: tokio::net::TcpStream,
    /// Bytes read and not yet de-chunked, and de-chunked text not yet parsed.
    raw: Vec<u8>,
    text: String,
    pub ended: bool,
}

impl TestApp {
    /// Opens a server-sent event stream (`GET path`), with a bearer token and `Last-Event-ID`
    /// if given.
    pub async fn sse(&self, path: &str, token: &str, last_event_id: Option<&str>) -> SseStream {
        self.sse_with(path, token, last_event_id, &[]).await
    }

    /// Like [`TestApp::sse`], with more request headers.
    pub async fn sse_with(
        &self,
        path: &str,
        token: &str,
        last_event_id: Option<&str>,
        headers: &[(&str, &str)],
    ) -> SseStream {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.expect("connects");
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n",
            self.addr
        );
        if let Some(id) = last_event_id {
            req.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let split = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.expect("reads the head");
            assert!(n > 0, "the connection closed before the response head");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = parse_response(&raw[..split + 4]);
        let raw = raw[split + 4..].to_vec();
        SseStream { status: head.status, headers: head.headers, stream: s, raw, text: String::new(), ended: false }
    }
}

impl SseStream {
    /// The next event (a `retry:`-only block is skipped); `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut e = Sse { event: "message".into(), id: None, data: String::new() };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        e.event = v.into();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        e.id = Some(v.into());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        e.data = v.into();
                        any = true;
                    }
                }
                if any {
                    return Some(e);
                }
                continue;
            }
            // De-chunk whatever complete chunks arrived.
            while let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") {
                let size =
                    usize::from_str_radix(String::from_utf8_lossy(&self.raw[..eol]).trim(), 16).expect("a chunk size");
                if size == 0 {
                    self.ended = true;
                    self.raw.clear();
                    break;
                }
                if self.raw.len() < eol + 2 + size + 2 {
                    break;
                }
                self.text.push_str(std::str::from_utf8(&self.raw[eol + 2..eol + 2 + size]).expect("UTF-8 events"));
                self.raw.drain(..eol + 2 + size + 2);
            }
            if self.text.contains("\n\n") {
                continue;
            }
            if self.ended {
                return None;
            }
            let mut buf = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut buf))
                .await
                .expect("an event within 30 s")
                .expect("reads");
            if n == 0 {
                self.ended = true;
                continue;
            }
            self.raw.extend_from_slice(&buf[..n]);
        }
    }

    /// The events up to and including the next `overview` (one tick of the console's feed).
    pub async fn tick(&mut self) -> Vec<Sse> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            let last = e.event == "overview";
            out.push(e);
            if last {
                break;
            }
        }
        out
    }
}

/// Runs each named async test fn `(hot, sql)` as `#[tokio::test]`s on the embedded store with
/// SQLite and on Redis with PostgreSQL (the production pairing).
#[macro_export]
macro_rules! on_both_stacks {
    ($($case:ident),* $(,)?) => {
        mod embedded_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Hot::Embedded, $crate::Sql::Sqlite).await
                }
            )*
        }
        mod redis_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Hot::Redis, $crate::Sql::Postgres).await
                }
            )*
        }
    };
}
