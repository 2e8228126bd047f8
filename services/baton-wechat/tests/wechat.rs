//! The WeChat integration against a local fake of WeChat's API, on both hot stores (embedded,
//! and Redis on a throwaway `redis-server`): signatures, one refresher for a crowd on a cold
//! cache and again after expiry, token replacement, upstream failures as problem documents,
//! the secret kept out of every answer and log, the sign-in code exchange, and the route.

mod common;

use actix_web::App;
use actix_web::http::StatusCode;
use actix_web::test as web_test;
use baton_http::clock::{Clock, ManualClock};
use baton_wechat::{JsSdkConfig, PageUrl, WeChat, WeChatConfig, WeChatError, names, sign};
use common::{APP_ID, Backend, Fail, FakeWeChat, SECRET};
use futures_util::future::join_all;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa_actix_web::AppExt;

/// The clock of the route tests: 2023-11-14T22:13:20.123Z.
const NOW_MS: i64 = 1_700_000_000_123;
const PAGE: &str = "https://baton.example/c/demo?from=r1&x=%E4%B8%AD";

fn config(api_base: &str) -> WeChatConfig {
    let mut c = WeChatConfig::new(APP_ID, SECRET).with_api_base(api_base);
    c.request_timeout = Duration::from_secs(2);
    c.failure_backoff = Duration::from_millis(300);
    c
}

fn wechat(b: &Backend, c: WeChatConfig) -> WeChat {
    WeChat::new(c, b.store.clone()).expect("a valid configuration")
}

fn page(url: &str) -> PageUrl {
    PageUrl::parse(url).expect("a signable URL")
}

/// Waits (bounded) until none of the shared values `names` is set any more.
async fn until_expired(b: &Backend, names: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut left = false;
        for n in names {
            left |= b.store.shared_get(n).await.expect("store answers").is_some();
        }
        if !left {
            return;
        }
        assert!(Instant::now() < deadline, "shared values {names:?} did not expire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_signed(c: &JsSdkConfig, ticket: &str, url: &str) {
    assert_eq!(c.signature, sign(ticket, &c.nonce_str, c.timestamp, url), "signature of {c:?}");
}

/// What the route answers: status, content type, `Retry-After`, body (as JSON and as text).
struct Answer {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    cache_control: Option<String>,
    text: String,
    json: serde_json::Value,
}

async fn call_route(wechat: Option<WeChat>, uri: &str) -> Answer {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW_MS));
    let (app, _openapi) = App::new().into_utoipa_app().configure(baton_wechat::routes::configure).split_for_parts();
    let app = web_test::init_service(
        app.app_data(actix_web::web::Data::new(wechat))
            .app_data(actix_web::web::Data::new(clock))
            .app_data(baton_http::extract::query_config()),
    )
    .await;
    let res = web_test::call_service(&app, web_test::TestRequest::get().uri(uri).to_request()).await;
    let header = |name| res.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let status = res.status();
    let content_type = header(actix_web::http::header::CONTENT_TYPE).unwrap_or_default();
    let retry_after = header(actix_web::http::header::RETRY_AFTER);
    let cache_control = header(actix_web::http::header::CACHE_CONTROL);
    let text = String::from_utf8(web_test::read_body(res).await.to_vec()).unwrap();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Answer { status, content_type, retry_after, cache_control, text, json }
}

fn jssdk_uri(url: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    format!("/api/v1/wechat/jssdk-config?url={enc}")
}

fn assert_problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    assert_eq!(a.content_type, "application/problem+json");
    assert_eq!(a.json["code"], code, "{}", a.text);
    assert_eq!(a.json["status"], status);
    assert_eq!(a.json["type"], format!("urn:baton:problem:{code}"));
}

/// The signature is WeChat's, made with the ticket the fake issued, over the page URL without
/// its fragment; the cached ticket serves later calls without asking WeChat again.
async fn signature_uses_the_shared_ticket(b: Backend) {
    let fake = FakeWeChat::start().await;
    let w = wechat(&b, config(&fake.base));
    let c = w.jssdk_config(&page(&format!("{PAGE}#/quiz/3")), 1_414_587_457).await.expect("signed");
    assert_eq!(c.app_id, APP_ID);
    assert_eq!(c.timestamp, 1_414_587_457);
    assert_eq!(c.nonce_str.len(), 16);
    assert_eq!(fake.current_ticket(), "TICKET-1");
    assert_signed(&c, "TICKET-1", PAGE);
    let again = w.jssdk_config(&page(PAGE), 1_414_587_458).await.expect("signed");
    assert_signed(&again, "TICKET-1", PAGE);
    assert_ne!(again.nonce_str, c.nonce_str);
    assert_eq!(fake.calls(), (1, 1), "the second call uses the cache");
    assert_eq!(b.store.shared_get(&names::jsapi_ticket(APP_ID)).await.unwrap().as_deref(), Some("TICKET-1"));
    assert_eq!(b.store.shared_get(&names::access_token(APP_ID)).await.unwrap().as_deref(), Some("TOKEN-1"));
    fake.stop().await;
}

/// 50 callers on two "pods" (two services on one store) with nothing cached: one token fetch,
/// one ticket fetch. When both expire (expires_in 3 s minus a 2 s margin), again one of each.
async fn crowd_on_a_cold_cache_refreshes_once(b: Backend) {
    let fake = FakeWeChat::start().await;
    fake.set_expires_in(3);
    // Slow answers, so the crowd piles up while the refresh is in flight.
    fake.set_delay(Duration::from_millis(150));
    let mut c = config(&fake.base);
    c.refresh_margin = Duration::from_secs(2);
    let pods = [wechat(&b, c.clone()), wechat(&b, c)];
    let url = page(PAGE);
    let crowd = || join_all((0..50).map(|i| pods[i % 2].jssdk_config(&url, 1_700_000_000 + i as i64)));

    let first = crowd().await;
    assert_eq!(fake.calls(), (1, 1), "one token fetch and one ticket fetch for 50 callers");
    for r in &first {
        assert_signed(r.as_ref().expect("every caller is answered"), "TICKET-1", PAGE);
    }

    until_expired(&b, &[names::jsapi_ticket(APP_ID), names::access_token(APP_ID)]).await;
    let second = crowd().await;
    assert_eq!(fake.calls(), (2, 2), "one more of each after expiry");
    for r in &second {
        assert_signed(r.as_ref().expect("every caller is answered"), "TICKET-2", PAGE);
    }
    fake.stop().await;
}

/// A cached token WeChat no longer accepts (40001 on getticket) is replaced once; a token that
/// is rejected again ends in an upstream error, not a loop.
async fn rejected_token_is_replaced_once(b: Backend) {
    let fake = FakeWeChat::start().await;
    let w = wechat(&b, config(&fake.base));
    b.store.shared_set(&names::access_token(APP_ID), "TOKEN-ENDED-ELSEWHERE", 60_000).await.unwrap();
    let c = w.jssdk_config(&page(PAGE), 1_700_000_000).await.expect("signed after replacing the token");
    assert_signed(&c, "TICKET-1", PAGE);
    assert_eq!(fake.calls(), (1, 2), "one new token, the ticket asked for twice");
    assert_eq!(b.store.shared_get(&names::access_token(APP_ID)).await.unwrap().as_deref(), Some("TOKEN-1"));

    // Every ticket request rejected: one retry with a new token, then the error.
    let other = Backend::embedded().await;
    let w = wechat(&other, config(&fake.base));
    fake.fail_ticket(Some(Fail::Errcode(42001)));
    let e = w.jssdk_config(&page(PAGE), 1_700_000_000).await.unwrap_err();
    assert!(matches!(e, WeChatError::Rejected { errcode: 42001, .. }), "{e:?}");
    assert_eq!(fake.calls(), (3, 4));
    fake.stop().await;
}

/// An errcode from WeChat answers `502 wechat_upstream`; so do an HTTP error and a body that
/// is not JSON. A crowd during the failure causes one call; after the backoff WeChat is asked
/// again and the service recovers.
async fn upstream_errors_are_502(b: Backend) {
    let fake = FakeWeChat::start().await;
    let w = wechat(&b, config(&fake.base));
    fake.fail_token(Some(Fail::Errcode(40164)));
    let a = call_route(Some(w.clone()), &jssdk_uri(PAGE)).await;
    assert_problem(&a, 502, "wechat_upstream");
    assert_eq!(fake.calls(), (1, 0));

    // Within the backoff: nobody asks WeChat.
    let url = page(PAGE);
    let crowd = join_all((0..20).map(|_| w.jssdk_config(&url, 1))).await;
    for r in crowd {
        let e = r.unwrap_err();
        assert_eq!(e.to_problem().code, "wechat_upstream", "{e:?}");
    }
    assert_eq!(fake.calls(), (1, 0), "the failure is remembered for the backoff");

    for (fail, token_calls) in [(Fail::Http(500), 2), (Fail::Malformed, 3)] {
        fake.fail_token(Some(fail));
        until_expired(&b, &[names::failure(APP_ID)]).await;
        let e = w.jssdk_config(&page(PAGE), 1).await.unwrap_err();
        assert!(matches!(e, WeChatError::BadResponse { .. }), "{fail:?}: {e:?}");
        assert_problem(&call_route(Some(w.clone()), &jssdk_uri(PAGE)).await, 502, "wechat_upstream");
        assert_eq!(fake.token_calls(), token_calls);
    }

    fake.fail_token(None);
    until_expired(&b, &[names::failure(APP_ID)]).await;
    let a = call_route(Some(w), &jssdk_uri(PAGE)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(fake.calls(), (4, 1));
    fake.stop().await;
}

/// Nothing listening, or an answer slower than the request timeout: `503 wechat_unavailable`
/// with `Retry-After`.
async fn unreachable_upstream_is_503(b: Backend) {
    let nobody = format!("http://127.0.0.1:{}", baton_testkit::free_port());
    let a = call_route(Some(wechat(&b, config(&nobody))), &jssdk_uri(PAGE)).await;
    assert_problem(&a, 503, "wechat_unavailable");
    assert!(a.retry_after.is_some());

    let fake = FakeWeChat::start().await;
    fake.set_delay(Duration::from_secs(2));
    let mut c = config(&fake.base);
    c.request_timeout = Duration::from_millis(200);
    let other = Backend::embedded().await;
    let w = wechat(&other, c);
    let e = w.jssdk_config(&page(PAGE), 1).await.unwrap_err();
    assert!(matches!(e, WeChatError::Unreachable { .. }), "{e:?}");
    until_expired(&other, &[names::failure(APP_ID)]).await;
    assert_problem(&call_route(Some(w), &jssdk_uri(PAGE)).await, 503, "wechat_unavailable");
    fake.stop().await;
}

/// Log lines written while a test runs (this thread's default subscriber).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// The secret never shows: not in answers (success or failure, even when WeChat echoes it in
/// `errmsg` or an error page), not in `Debug` or `Display` of the service, its config or its
/// errors, not in the log.
async fn the_secret_never_shows(b: Backend) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_max_level(tracing::Level::TRACE).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeWeChat::start().await;
    fake.echo_secret(true);
    let w = wechat(&b, config(&fake.base));
    let mut seen = vec![format!("{w:?}"), format!("{:?}", config(&fake.base))];

    for fail in [Fail::Errcode(40125), Fail::Http(502), Fail::Malformed] {
        fake.fail_token(Some(fail));
        until_expired(&b, &[names::failure(APP_ID)]).await;
        let e = w.jssdk_config(&page(PAGE), 1).await.unwrap_err();
        seen.extend([format!("{e:?}"), e.to_string()]);
        until_expired(&b, &[names::failure(APP_ID)]).await;
        let a = call_route(Some(w.clone()), &jssdk_uri(PAGE)).await;
        assert_eq!(a.status.as_u16(), 502);
        seen.push(a.text);
    }
    fake.fail_token(None);
    until_expired(&b, &[names::failure(APP_ID)]).await;
    let ok = call_route(Some(w.clone()), &jssdk_uri(PAGE)).await;
    assert_eq!(ok.status, StatusCode::OK);
    seen.push(ok.text);

    fake.fail_oauth(Some(Fail::Errcode(40125)));
    let e = w.openid_for_code("CODE").await.unwrap_err();
    seen.extend([format!("{e:?}"), e.to_string()]);
    e.to_problem();

    let nobody = wechat(&b, config(&format!("http://127.0.0.1:{}", baton_testkit::free_port())));
    let e = nobody.openid_for_code("CODE").await.unwrap_err();
    assert!(matches!(e, WeChatError::Unreachable { .. }), "{e:?}");
    seen.extend([format!("{e:?}"), e.to_string()]);
    e.to_problem();

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("WeChat answered with an error"), "the failures were logged:\n{logged}");
    seen.push(logged);
    for s in &seen {
        assert!(!s.contains(SECRET), "the secret leaked into: {s}");
    }
    fake.stop().await;
}

/// The code exchange returns the openid; an invalid (40029), used (40163) or expired (42003)
/// code is `BadCode`; a malformed one never reaches WeChat; other errors stay upstream errors.
async fn oauth_code_exchange(b: Backend) {
    let fake = FakeWeChat::start().await;
    let w = wechat(&b, config(&fake.base));
    fake.add_code("061AbCdE", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M");
    fake.add_expired_code("071Old");
    assert_eq!(w.openid_for_code("061AbCdE").await.unwrap(), "o6_bmjrPTlm6_2sgVt7hMZOPfL2M");
    for code in ["061AbCdE", "unknown-code", "071Old"] {
        let e = w.openid_for_code(code).await.unwrap_err();
        assert!(matches!(e, WeChatError::BadCode), "{code}: {e:?}");
        let p = e.to_problem();
        assert_eq!((p.status.as_u16(), p.code), (400, "wechat_code_invalid"));
    }
    assert_eq!(fake.oauth_calls(), 4);
    for bad in ["", "a b", "код", &"c".repeat(129)] {
        assert!(matches!(w.openid_for_code(bad).await, Err(WeChatError::BadCode)), "{bad:?}");
    }
    assert_eq!(fake.oauth_calls(), 4, "malformed codes are refused without asking WeChat");

    fake.fail_oauth(Some(Fail::Errcode(40164)));
    let e = w.openid_for_code("061Other").await.unwrap_err();
    assert_eq!(e.to_problem().code, "wechat_upstream", "{e:?}");

    let u = w.oauth_url("https://baton.example/c/demo?from=r1", "st8");
    assert_eq!(
        u,
        format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid={APP_ID}\
             &redirect_uri=https%3A%2F%2Fbaton.example%2Fc%2Fdemo%3Ffrom%3Dr1\
             &response_type=code&scope=snsapi_base&state=st8#wechat_redirect"
        )
    );
    fake.stop().await;
}

/// The route: `200` signed for the page without its fragment, timestamp from the app's clock,
/// not cacheable; `404 wechat_not_configured` without WeChat; `400` without a `url` or with a
/// URL that is not http(s).
async fn route_answers(b: Backend) {
    let fake = FakeWeChat::start().await;
    let w = wechat(&b, config(&fake.base));

    let a = call_route(Some(w.clone()), &jssdk_uri(&format!("{PAGE}#/q/1"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.content_type, "application/json");
    assert_eq!(a.cache_control.as_deref(), Some("no-store"));
    let c = &a.json;
    assert_eq!(c["app_id"], APP_ID);
    assert_eq!(c["timestamp"], serde_json::json!(NOW_MS / 1000), "integer seconds from the app clock");
    let nonce = c["nonce_str"].as_str().unwrap();
    assert_eq!(c["signature"], sign(&fake.current_ticket(), nonce, NOW_MS / 1000, PAGE));
    let mut keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["app_id", "nonce_str", "signature", "timestamp"]);

    assert_problem(&call_route(None, &jssdk_uri(PAGE)).await, 404, "wechat_not_configured");
    assert_problem(&call_route(Some(w.clone()), "/api/v1/wechat/jssdk-config").await, 400, "missing_url");
    for bad in ["/c/demo", "javascript:alert(1)", "ftp://baton.example/"] {
        assert_problem(&call_route(Some(w.clone()), &jssdk_uri(bad)).await, 400, "invalid_url");
    }
    assert_eq!(fake.calls(), (1, 1));
    fake.stop().await;
}

macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[actix_web::test]
                async fn $case() {
                    super::$case(super::common::Backend::embedded().await).await
                }
            )*
        }
        mod redis {
            $(
                #[actix_web::test]
                async fn $case() {
                    super::$case(super::common::Backend::redis().await).await
                }
            )*
        }
    };
}

on_both_stores!(
    signature_uses_the_shared_ticket,
    crowd_on_a_cold_cache_refreshes_once,
    rejected_token_is_replaced_once,
    upstream_errors_are_502,
    unreachable_upstream_is_503,
    the_secret_never_shows,
    oauth_code_exchange,
    route_answers,
);

/// The OpenAPI document lists the route with its problem answers.
#[test]
fn openapi_documents_the_route() {
    let (_, doc) = App::new().into_utoipa_app().configure(baton_wechat::routes::configure).split_for_parts();
    let json = serde_json::to_value(&doc).unwrap();
    let op = &json["paths"]["/api/v1/wechat/jssdk-config"]["get"];
    for status in ["200", "400", "404", "502", "503"] {
        assert!(op["responses"][status].is_object(), "{status} documented: {op}");
    }
    assert!(op["responses"]["404"]["content"]["application/problem+json"].is_object());
    assert_eq!(op["parameters"][0]["name"], "url");
}
