//! WeChat inside the product: silent sign-in makes one person one participant on any device,
//! and pages get a JS-SDK config — against a local fake of WeChat's API. Nothing WeChat-specific
//! is needed without it (the other journeys run with WeChat unconfigured).

use actix_web::{App, HttpResponse, HttpServer, web};
use baton::app::WeChatSettings;
use baton_e2e::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

const APP_ID: &str = "wx-test-app";
const SECRET: &str = "test-secret-never-shown";
const TICKET: &str = "ticket-from-the-fake";

#[derive(Default)]
struct Fake {
    used: Mutex<HashSet<String>>,
}

async fn oauth(fake: web::Data<Fake>, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    if q.get("appid").map(String::as_str) != Some(APP_ID) || q.get("secret").map(String::as_str) != Some(SECRET) {
        return HttpResponse::Ok().json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
    }
    let code = q.get("code").cloned().unwrap_or_default();
    // Codes look like code-<person>-<n>; each works once.
    let Some(person) = code.strip_prefix("code-").and_then(|c| c.rsplit_once('-')).map(|(p, _)| p.to_owned()) else {
        return HttpResponse::Ok().json(json!({"errcode": 40029, "errmsg": "invalid code"}));
    };
    if !fake.used.lock().unwrap().insert(code) {
        return HttpResponse::Ok().json(json!({"errcode": 40163, "errmsg": "code been used"}));
    }
    HttpResponse::Ok().json(json!({"access_token": "user-token", "expires_in": 7200, "openid": format!("openid-{person}"), "scope": "snsapi_base"}))
}

async fn token() -> HttpResponse {
    HttpResponse::Ok().json(json!({"access_token": "app-token", "expires_in": 7200}))
}

async fn ticket() -> HttpResponse {
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "ticket": TICKET, "expires_in": 7200}))
}

/// Starts the fake on a free loopback port; returns its base URL.
fn fake_wechat() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = web::Data::new(Fake::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(fake.clone())
            .route("/sns/oauth2/access_token", web::get().to(oauth))
            .route("/cgi-bin/token", web::get().to(token))
            .route("/cgi-bin/ticket/getticket", web::get().to(ticket))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

async fn with_wechat(hot: Hot, sql: Sql) -> TestApp {
    let base = fake_wechat();
    TestApp::spawn_with(hot, sql, |c| {
        c.wechat = Some(WeChatSettings { app_id: APP_ID.into(), app_secret: SECRET.into(), api_base: base });
    })
    .await
}

async fn join(app: &TestApp, device: &str, code: Option<&str>) -> (u16, Value) {
    let mut body = json!({"device_id": device, "region_id": "hetang-yuetang", "nickname": "微信用户"});
    if let Some(c) = code {
        body["wechat_code"] = c.into();
    }
    let r = app.post("/api/v1/campaigns/demo/participants", &body, None).await;
    (r.status, r.json())
}

async fn one_person_on_any_device(hot: Hot, sql: Sql) {
    let app = with_wechat(hot, sql).await;
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["wechat_app_id"], APP_ID);
    let (s, phone) = join(&app, "device-wx-phone", Some("code-alice-1")).await;
    assert_eq!(s, 201, "{phone}");
    // Another device, another sign-in of the same person: the same participant.
    let (s, tablet) = join(&app, "device-wx-tablet", Some("code-alice-2")).await;
    assert_eq!((s, &tablet["participant_id"]), (200, &phone["participant_id"]));
    // A used or made-up code is refused and changes nothing.
    let before = app.get("/api/v1/campaigns/demo", None).await.json()["stats"]["participants"].clone();
    let (s, used) = join(&app, "device-wx-other", Some("code-alice-1")).await;
    assert_eq!((s, used["code"].as_str()), (400, Some("wechat_code_invalid")));
    let (s, bad) = join(&app, "device-wx-other", Some("nonsense")).await;
    assert_eq!((s, bad["code"].as_str()), (400, Some("wechat_code_invalid")));
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["stats"]["participants"], before);
    // Without a code, the device stands.
    let (s, plain) = join(&app, "device-wx-phone", None).await;
    assert_eq!(s, 201);
    assert_ne!(plain["participant_id"], phone["participant_id"]);

    // The JS-SDK config for a page, signed with the shared ticket; the secret never shows.
    let page = "https://baton.test/c/demo?invite=0123456789#share";
    let r = app.get(&format!("/api/v1/wechat/jssdk-config?url={}", urlencode(page)), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cfg = r.json();
    let signature =
        baton_wechat::sign(TICKET, cfg["nonce_str"].as_str().unwrap(), cfg["timestamp"].as_i64().unwrap(), page);
    assert_eq!((cfg["app_id"].as_str(), cfg["signature"].as_str()), (Some(APP_ID), Some(signature.as_str())));
    assert_eq!(cfg["timestamp"], NOON / 1000);
    assert!(!r.text().contains(SECRET));
    app.get("/api/v1/wechat/jssdk-config", None).await.problem(400, "missing_url");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

on_both_stacks!(one_person_on_any_device);

/// Without WeChat configured, nothing WeChat-specific is needed, and asking for it is a clear
/// error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wechat() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["wechat_app_id"], Value::Null);
    let (s, r) = join(&app, "device-no-wx", Some("code-bob-1")).await;
    assert_eq!((s, r["code"].as_str()), (400, Some("wechat_not_configured")));
    app.get("/api/v1/wechat/jssdk-config?url=https%3A%2F%2Fbaton.test%2F", None)
        .await
        .problem(404, "wechat_not_configured");
}
