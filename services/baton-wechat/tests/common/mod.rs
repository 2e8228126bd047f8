//! What the WeChat tests share: [`FakeWeChat`], a local stand-in for WeChat's API that counts
//! calls and misbehaves on request, and [`Backend`], a hot store of either kind that the test
//! owns.

#![allow(dead_code)]

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use baton_hot::HotStore;
use baton_testkit::TestRedis;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const APP_ID: &str = "wxfa4e0000000000c0";
pub const SECRET: &str = "S3CRET-5e0b1c9a4f6d2e87a1b3c5d7e9f01234";

/// How the fake answers an endpoint told to fail.
#[derive(Debug, Clone, Copy)]
pub enum Fail {
    /// HTTP 200 with `{"errcode": N, "errmsg": ...}`.
    Errcode(i64),
    /// This HTTP status with a plain-text body.
    Http(u16),
    /// HTTP 200 with a body that is not JSON.
    Malformed,
}

/// A sign-in code the fake knows.
enum Code {
    Fresh(String),
    Used,
    Expired,
}

struct Behaviour {
    expires_in: u64,
    delay: Duration,
    token_fail: Option<Fail>,
    ticket_fail: Option<Fail>,
    oauth_fail: Option<Fail>,
    /// Put the secret into every `errmsg` (as a careless upstream might echo a request).
    echo_secret: bool,
    tokens: Vec<String>,
    tickets: Vec<String>,
    codes: HashMap<String, Code>,
}

struct State {
    token_calls: AtomicUsize,
    ticket_calls: AtomicUsize,
    oauth_calls: AtomicUsize,
    b: Mutex<Behaviour>,
}

/// WeChat's API on a loopback port: `/cgi-bin/token`, `/cgi-bin/ticket/getticket`,
/// `/sns/oauth2/access_token`. It checks the app id and secret, accepts only the access tokens
/// it issued, and treats sign-in codes as single-use.
pub struct FakeWeChat {
    pub base: String,
    state: Arc<State>,
    handle: ServerHandle,
}

type Query = web::Query<HashMap<String, String>>;

fn failure(f: Fail, echo_secret: bool) -> HttpResponse {
    match f {
        Fail::Errcode(code) => {
            let errmsg =
                if echo_secret { format!("fake error, secret={SECRET} rid: 1") } else { "fake error rid: 1".into() };
            HttpResponse::Ok().content_type("text/plain").body(json!({"errcode": code, "errmsg": errmsg}).to_string())
        }
        Fail::Http(status) => HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a status"))
            .body(format!("upstream trouble {SECRET}")),
        Fail::Malformed => HttpResponse::Ok().content_type("text/html").body("<html>busy</html>"),
    }
}

fn errcode(code: i64, msg: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body(json!({"errcode": code, "errmsg": msg}).to_string())
}

fn credentials_ok(q: &HashMap<String, String>) -> Option<HttpResponse> {
    if q.get("appid").map(String::as_str) != Some(APP_ID) {
        return Some(errcode(40013, "invalid appid"));
    }
    if q.get("secret").map(String::as_str) != Some(SECRET) {
        return Some(errcode(40125, "invalid appsecret"));
    }
    None
}

async fn token(st: web::Data<State>, q: Query) -> HttpResponse {
    st.token_calls.fetch_add(1, Ordering::SeqCst);
    let (delay, fail, echo) = {
        let b = st.b.lock().unwrap();
        (b.delay, b.token_fail, b.echo_secret)
    };
    tokio::time::sleep(delay).await;
    if let Some(f) = fail {
        return failure(f, echo);
    }
    if q.get("grant_type").map(String::as_str) != Some("client_credential") {
        return errcode(40002, "invalid grant_type");
    }
    if let Some(r) = credentials_ok(&q) {
        return r;
    }
    let mut b = st.b.lock().unwrap();
    let t = format!("TOKEN-{}", b.tokens.len() + 1);
    b.tokens.push(t.clone());
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(json!({"access_token": t, "expires_in": b.expires_in}).to_string())
}

async fn ticket(st: web::Data<State>, q: Query) -> HttpResponse {
    st.ticket_calls.fetch_add(1, Ordering::SeqCst);
    let (delay, fail, echo) = {
        let b = st.b.lock().unwrap();
        (b.delay, b.ticket_fail, b.echo_secret)
    };
    tokio::time::sleep(delay).await;
    if let Some(f) = fail {
        return failure(f, echo);
    }
    if q.get("type").map(String::as_str) != Some("jsapi") {
        return errcode(40097, "invalid args");
    }
    let mut b = st.b.lock().unwrap();
    if !q.get("access_token").is_some_and(|t| b.tokens.contains(t)) {
        return errcode(40001, "invalid credential, access_token is invalid or not latest rid: 1");
    }
    let t = format!("TICKET-{}", b.tickets.len() + 1);
    b.tickets.push(t.clone());
    let body = json!({"errcode": 0, "errmsg": "ok", "ticket": t, "expires_in": b.expires_in});
    HttpResponse::Ok().content_type("text/plain").body(body.to_string())
}

async fn oauth(st: web::Data<State>, q: Query) -> HttpResponse {
    st.oauth_calls.fetch_add(1, Ordering::SeqCst);
    let (delay, fail, echo) = {
        let b = st.b.lock().unwrap();
        (b.delay, b.oauth_fail, b.echo_secret)
    };
    tokio::time::sleep(delay).await;
    if let Some(f) = fail {
        return failure(f, echo);
    }
    if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return errcode(40002, "invalid grant_type");
    }
    if let Some(r) = credentials_ok(&q) {
        return r;
    }
    let mut b = st.b.lock().unwrap();
    let code = q.get("code").cloned().unwrap_or_default();
    match b.codes.get_mut(&code) {
        None => errcode(40029, "invalid code"),
        Some(Code::Used) => errcode(40163, "code been used"),
        Some(Code::Expired) => errcode(42003, "oauth_code expired"),
        Some(c @ Code::Fresh(_)) => {
            let Code::Fresh(openid) = std::mem::replace(c, Code::Used) else { unreachable!() };
            let body = json!({
                "access_token": "OAUTH-TOKEN", "expires_in": 7200, "refresh_token": "R",
                "openid": openid, "scope": "snsapi_base", "is_snapshotuser": 0,
            });
            HttpResponse::Ok().content_type("text/plain").body(body.to_string())
        }
    }
}

impl FakeWeChat {
    /// Starts the fake on a free loopback port. Must run inside an actix system
    /// (`#[actix_web::test]`).
    pub async fn start() -> Self {
        let state = web::Data::new(State {
            token_calls: AtomicUsize::new(0),
            ticket_calls: AtomicUsize::new(0),
            oauth_calls: AtomicUsize::new(0),
            b: Mutex::new(Behaviour {
                expires_in: 7200,
                delay: Duration::ZERO,
                token_fail: None,
                ticket_fail: None,
                oauth_fail: None,
                echo_secret: false,
                tokens: Vec::new(),
                tickets: Vec::new(),
                codes: HashMap::new(),
            }),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/cgi-bin/token", web::get().to(token))
                .route("/cgi-bin/ticket/getticket", web::get().to(ticket))
                .route("/sns/oauth2/access_token", web::get().to(oauth))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("the fake listens")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { base: format!("http://127.0.0.1:{port}"), state: state.into_inner(), handle }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Behaviour) -> R) -> R {
        f(&mut self.state.b.lock().unwrap())
    }

    /// Lifetime, in seconds, of tokens and tickets issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.with(|b| b.expires_in = secs);
    }
    /// Each answer waits this long first.
    pub fn set_delay(&self, d: Duration) {
        self.with(|b| b.delay = d);
    }
    pub fn fail_token(&self, f: Option<Fail>) {
        self.with(|b| b.token_fail = f);
    }
    pub fn fail_ticket(&self, f: Option<Fail>) {
        self.with(|b| b.ticket_fail = f);
    }
    pub fn fail_oauth(&self, f: Option<Fail>) {
        self.with(|b| b.oauth_fail = f);
    }
    pub fn echo_secret(&self, on: bool) {
        self.with(|b| b.echo_secret = on);
    }
    /// A fresh sign-in code for `openid`.
    pub fn add_code(&self, code: &str, openid: &str) {
        self.with(|b| b.codes.insert(code.into(), Code::Fresh(openid.into())));
    }
    pub fn add_expired_code(&self, code: &str) {
        self.with(|b| b.codes.insert(code.into(), Code::Expired));
    }
    /// The ticket issued last.
    pub fn current_ticket(&self) -> String {
        self.with(|b| b.tickets.last().cloned().expect("a ticket was issued"))
    }

    pub fn token_calls(&self) -> usize {
        self.state.token_calls.load(Ordering::SeqCst)
    }
    pub fn ticket_calls(&self) -> usize {
        self.state.ticket_calls.load(Ordering::SeqCst)
    }
    pub fn oauth_calls(&self) -> usize {
        self.state.oauth_calls.load(Ordering::SeqCst)
    }
    /// `(token calls, ticket calls)`.
    pub fn calls(&self) -> (usize, usize) {
        (self.token_calls(), self.ticket_calls())
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A hot store that belongs to one test.
pub struct Backend {
    pub store: Arc<dyn HotStore>,
    /// Keeps the Redis server (and its key prefix) alive for the test.
    _redis: Option<TestRedis>,
}

impl Backend {
    pub async fn embedded() -> Self {
        Self { store: Arc::new(baton_hot::embedded::EmbeddedStore::new()), _redis: None }
    }

    pub async fn redis() -> Self {
        let redis = TestRedis::start().await;
        let store = baton_hot::redis::RedisStore::connect(redis.url(), redis.key_prefix(), 1)
            .await
            .expect("connects to the test Redis");
        Self { store: Arc::new(store), _redis: Some(redis) }
    }
}
