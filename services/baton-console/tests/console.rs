//! The console through HTTP (`actix_web::test::init_service`) on a real SQLite database and the
//! embedded hot store, with a clock the tests move: accounts made as `baton organizer add`
//! makes them, login (tokens, scopes, the audit log), wrong credentials that all look alike,
//! failed logins slowed per username and, more loosely, per address, organizer tokens on
//! `/me`, scope enforced through the extractor and `authorize`, and the OpenAPI entries.

use actix_web::http::StatusCode;
use actix_web::test::{self as web_test, TestRequest};
use actix_web::{App, HttpResponse, web};
use baton_console::throttle::{lease_name, username_key};
use baton_console::tokens::ORGANIZER_TTL_SECS;
use baton_console::{
    Console, ConsoleError, Limit, LoginLimits, Organizer, OrganizerTokens, Role, authorize, create_organizer,
};
use baton_core::campaign::{Campaign, CampaignDoc};
use baton_core::ids::{CampaignId, ParticipantId, PlaceId};
use baton_db::{Db, PutOutcome};
use baton_hot::HotStore;
use baton_hot::embedded::EmbeddedStore;
use baton_http::Problem;
use baton_http::auth::{SigningKey, Tokens};
use baton_http::campaigns::Campaigns;
use baton_http::clock::ManualClock;
use baton_testkit::TestSqlite;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa_actix_web::AppExt;

/// 2027-01-15T08:00:00Z: a multiple of 15 minutes, so the start of a login-limit window.
const NOW_MS: i64 = 1_800_000_000_000;
const SECRET: [u8; 32] = [7u8; 32];
const PASSWORD: &str = "correct horse battery";

/// city → (north → north-1, north-2), (south → south-1).
fn campaign(id: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "接力", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区", "level": "county", "children": [
                {"id": "north-1", "name": "一街道", "level": "township"},
                {"id": "north-2", "name": "二街道", "level": "township"}]},
            {"id": "south", "name": "南县", "level": "county", "children": [
                {"id": "south-1", "name": "三街道", "level": "township"}]}]}],
        "units": [],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草"], "answer": [0], "explanation": "刑法。", "source": "刑法"}]
    }))
    .expect("the campaign parses")
}

/// A console on its own SQLite file and embedded store, with campaigns `demo` and `other` and
/// the accounts `root` (admin), `office` (organizer of demo), `north` (viewer of demo's north)
/// and `all` (viewer of the whole of demo), all with [`PASSWORD`].
struct Harness {
    db: Db,
    store: Arc<dyn HotStore>,
    clock: ManualClock,
    console: Console,
    _sqlite: TestSqlite,
}

async fn harness(limits: LoginLimits) -> Harness {
    assert_eq!(NOW_MS % 900_000, 0);
    let sqlite = TestSqlite::new();
    let db = Db::connect(sqlite.url()).await.unwrap();
    db.migrate().await.unwrap();
    let campaigns = Campaigns::default();
    for id in ["demo", "other"] {
        db.put_campaign(&campaign(id)).await.unwrap();
        campaigns.put(Campaign::from_doc(campaign(id)).unwrap());
    }
    for (user, role, c, r) in [
        ("root", Role::Admin, None, None),
        ("office", Role::Organizer, Some("demo"), None),
        ("north", Role::Viewer, Some("demo"), Some("north")),
        ("all", Role::Viewer, Some("demo"), None),
    ] {
        create_organizer(&db, user, role, c, r, PASSWORD).await.unwrap();
    }
    let store: Arc<dyn HotStore> = Arc::new(EmbeddedStore::new());
    let clock = ManualClock::new(NOW_MS);
    let tokens = OrganizerTokens::new(&[("k1", &SECRET)]).unwrap();
    let console =
        Console::new(db.clone(), store.clone(), campaigns, Arc::new(clock.clone()), tokens).with_limits(limits);
    Harness { db, store, clock, console, _sqlite: sqlite }
}

#[derive(serde::Deserialize)]
struct RegionQuery {
    region_id: Option<String>,
}

/// What a future console handler does: the caller, then `authorize`, then the answer in scope.
async fn scope_probe(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<RegionQuery>,
) -> Result<HttpResponse, Problem> {
    let campaign = CampaignId::parse(&cid)?;
    let tree =
        c.campaigns.get(&campaign).ok_or_else(|| Problem::not_found("campaign_not_found", "No such campaign."))?;
    let region = q.region_id.as_deref().map(PlaceId::parse).transpose()?;
    let s = authorize(&who, &campaign, region.as_ref(), &tree)?;
    Ok(HttpResponse::Ok().json(json!({"campaign_id": s.campaign, "region_id": s.region})))
}

async fn app(
    c: &Console,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    let (app, _) = App::new().into_utoipa_app().configure(baton_console::routes::configure).split_for_parts();
    web_test::init_service(
        app.app_data(web::Data::new(c.clone()))
            .app_data(baton_http::extract::query_config())
            .app_data(baton_http::extract::path_config())
            .route("/probe/campaigns/{cid}", web::get().to(scope_probe)),
    )
    .await
}

/// An answer: status, `Retry-After`, `WWW-Authenticate`, content type, body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    www_authenticate: Option<String>,
    content_type: String,
    text: String,
    json: Value,
}

async fn call<S, B>(app: &S, req: TestRequest) -> Answer
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let res = web_test::call_service(app, req.to_request()).await;
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (status, retry_after, www_authenticate) = (res.status(), header("retry-after"), header("www-authenticate"));
    let content_type = header("content-type").unwrap_or_default();
    let text = String::from_utf8(web_test::read_body(res).await.to_vec()).unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, retry_after, www_authenticate, content_type, text, json }
}

fn login_req(username: &str, password: &str, from: &str) -> TestRequest {
    TestRequest::post()
        .uri("/api/v1/console/login")
        .peer_addr(format!("{from}:50000").parse().unwrap())
        .set_json(json!({"username": username, "password": password}))
}

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header(("Authorization", format!("Bearer {token}")))
}

fn assert_problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.text);
    assert_eq!(a.json["code"], code, "{}", a.text);
    assert_eq!(a.json["status"], status);
}

const SCHOOL: &str = "203.0.113.7";

#[actix_web::test]
async fn accounts_are_made_as_the_cli_makes_them() {
    let h = harness(LoginLimits::default()).await;
    let e = create_organizer(&h.db, "spring", Role::Organizer, Some("spring"), None, PASSWORD).await.unwrap_err();
    assert!(matches!(e, ConsoleError::UnknownCampaign(_)));
    assert_eq!(e.to_string(), "no campaign spring; import it first with baton campaign import");
    let e = create_organizer(&h.db, "east", Role::Viewer, Some("demo"), Some("east"), PASSWORD).await.unwrap_err();
    assert_eq!(e.to_string(), "region east is not a place of campaign demo");
    let e = create_organizer(&h.db, "x", Role::Admin, Some("demo"), None, PASSWORD).await.unwrap_err();
    assert!(matches!(e, ConsoleError::ScopeMismatch(_)), "{e}");
    let e = create_organizer(&h.db, "x", Role::Organizer, None, None, PASSWORD).await.unwrap_err();
    assert!(e.to_string().contains("--campaign"), "{e}");
    let e = create_organizer(&h.db, "x", Role::Organizer, Some("demo"), Some("north"), PASSWORD).await.unwrap_err();
    assert!(e.to_string().contains("viewer"), "{e}");
    let e = create_organizer(&h.db, "x", Role::Viewer, Some("demo"), None, "too short").await.unwrap_err();
    assert!(matches!(e, ConsoleError::WeakPassword), "{e}");
    let e = create_organizer(&h.db, "no spaces", Role::Admin, None, None, PASSWORD).await.unwrap_err();
    assert!(matches!(e, ConsoleError::InvalidUsername(_)), "{e}");
    let e = create_organizer(&h.db, "x", Role::Viewer, Some("Demo!"), None, PASSWORD).await.unwrap_err();
    assert!(matches!(e, ConsoleError::InvalidId(_)), "{e}");
    assert_eq!(h.db.organizer("x").await.unwrap(), None, "nothing stored by a refusal");

    // A township-level viewer; then the same username again replaces role, scope and password.
    let made = create_organizer(&h.db, "Zhang.Wei", Role::Viewer, Some("demo"), Some("north-1"), PASSWORD).await;
    assert_eq!(made.unwrap(), PutOutcome::Created);
    let row = h.db.organizer("zhang.wei").await.unwrap().expect("stored under the lowercase name");
    assert!(row.password_hash.starts_with("$argon2id$"));
    assert!(baton_console::verify_password(PASSWORD, &row.password_hash));
    let again = create_organizer(&h.db, "zhang.wei", Role::Organizer, Some("other"), None, "another password").await;
    assert_eq!(again.unwrap(), PutOutcome::Updated);
    let row = h.db.organizer("zhang.wei").await.unwrap().unwrap();
    assert_eq!((row.role.as_str(), row.campaign_id.unwrap().as_str(), row.region_id), ("organizer", "other", None));
    assert!(baton_console::verify_password("another password", &row.password_hash));

    let log = h.db.audit_entries(None, 2).await.unwrap();
    assert_eq!(
        log.iter().map(|r| (r.entry.username.as_str(), r.entry.action.as_str())).collect::<Vec<_>>(),
        [("zhang.wei", "account_updated"), ("zhang.wei", "account_created")]
    );
    assert_eq!(log[1].entry.campaign_id.as_ref().map(CampaignId::as_str), Some("demo"));
    assert!(log[1].entry.detail.contains("region north-1"), "{:?}", log[1]);
}

#[actix_web::test]
async fn login_gives_a_token_with_role_and_scope() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    for (user, role, campaign, region) in [
        ("root", "admin", Value::Null, Value::Null),
        ("office", "organizer", json!("demo"), Value::Null),
        ("north", "viewer", json!("demo"), json!("north")),
        ("all", "viewer", json!("demo"), Value::Null),
    ] {
        // Usernames are case-insensitive.
        let a = call(&app, login_req(&user.to_uppercase(), PASSWORD, SCHOOL)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.json["role"], role);
        assert_eq!(a.json["scope"], json!({"campaign_id": campaign, "region_id": region}), "{}", a.text);
        assert_eq!(a.json["expires_at"], "2027-01-15T10:00:00Z");
        let token = a.json["token"].as_str().unwrap();

        let me = call(&app, bearer(TestRequest::get().uri("/api/v1/console/me"), token)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(
            me.json,
            json!({"username": user, "role": role, "scope": {"campaign_id": campaign, "region_id": region},
                   "expires_at": "2027-01-15T10:00:00Z"})
        );
    }
    let log = h.db.audit_entries(None, 10).await.unwrap();
    assert_eq!(log.len(), 4 + 4, "four accounts made, four logins");
    let north = log.iter().find(|r| r.entry.username == "north" && r.entry.action == "login").unwrap();
    assert_eq!(north.entry.campaign_id.as_ref().map(CampaignId::as_str), Some("demo"));
    assert_eq!(north.entry.at_ms, NOW_MS);
    assert!(north.entry.detail.contains(SCHOOL), "{:?}", north.entry);
}

#[actix_web::test]
async fn wrong_credentials_all_look_the_same() {
    let h = harness(LoginLimits::default()).await;
    h.db.set_organizer_disabled("all", true).await.unwrap();
    let app = app(&h.console).await;
    let answers = [
        call(&app, login_req("office", "wrong password!", SCHOOL)).await,
        call(&app, login_req("nobody", PASSWORD, SCHOOL)).await,
        call(&app, login_req("not a valid name\n", PASSWORD, SCHOOL)).await,
        // A disabled account with its right password.
        call(&app, login_req("all", PASSWORD, SCHOOL)).await,
    ];
    for a in &answers {
        assert_problem(a, 401, "invalid_credentials");
        assert_eq!(a.text, answers[0].text, "the same bytes");
        assert_eq!(a.www_authenticate.as_deref(), Some("Bearer"));
        assert_eq!(a.retry_after, None);
    }
    assert_eq!(answers[0].json["detail"], "The username or password is wrong.");

    // The audit log knows why, and keeps names as typed but tame.
    let log = h.db.audit_entries(None, 4).await.unwrap();
    let failed = log.iter().rev().map(|r| (r.entry.username.as_str(), r.entry.action.as_str())).collect::<Vec<_>>();
    assert_eq!(
        failed,
        [
            ("office", "login_failed"),
            ("nobody", "login_failed"),
            ("not a valid name\u{fffd}", "login_failed"),
            ("all", "login_failed")
        ]
    );
    let details = log.iter().rev().map(|r| r.entry.detail.clone()).collect::<Vec<_>>();
    for (d, why) in details.iter().zip(["wrong password", "unknown username", "unknown username", "account disabled"]) {
        assert!(d.starts_with(why), "{d}");
    }
    assert_eq!(log[3].entry.campaign_id.as_ref().map(CampaignId::as_str), Some("demo"), "office's campaign");
}

#[actix_web::test]
async fn failures_lock_a_username_not_its_neighbours() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    for _ in 0..5 {
        assert_problem(&call(&app, login_req("office", "guess guess guess", SCHOOL)).await, 401, "invalid_credentials");
    }
    h.clock.advance(60_000);
    // Locked: even the right password is not checked now, and the answer says until when.
    let locked = call(&app, login_req("office", PASSWORD, SCHOOL)).await;
    assert_problem(&locked, 429, "too_many_logins");
    assert_eq!(locked.retry_after.as_deref(), Some("840"), "the window's remaining seconds");
    // The same for an unknown username: the lock does not tell who exists.
    for _ in 0..5 {
        call(&app, login_req("nobody", "guess guess guess", SCHOOL)).await;
    }
    assert_problem(&call(&app, login_req("nobody", PASSWORD, SCHOOL)).await, 429, "too_many_logins");

    // A colleague behind the same school NAT is not locked out.
    assert_eq!(call(&app, login_req("north", PASSWORD, SCHOOL)).await.status, StatusCode::OK);
    // The failure that reached the limit says so in the audit log; refused ones add nothing.
    let log = h.db.audit_entries(None, 20).await.unwrap();
    let office: Vec<_> = log.iter().filter(|r| r.entry.username == "office").collect();
    assert_eq!(office.iter().filter(|r| r.entry.action == "login_failed").count(), 5);
    assert!(office[0].entry.detail.contains("now locked"), "{:?}", office[0]);

    // The next window accepts the right password again.
    h.clock.advance(840_000);
    assert_eq!(call(&app, login_req("office", PASSWORD, SCHOOL)).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_success_clears_the_username_count() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    for _ in 0..4 {
        call(&app, login_req("office", "typo typo typo", SCHOOL)).await;
    }
    assert_eq!(call(&app, login_req("office", PASSWORD, SCHOOL)).await.status, StatusCode::OK);
    for _ in 0..4 {
        call(&app, login_req("office", "typo typo typo", SCHOOL)).await;
    }
    assert_eq!(call(&app, login_req("office", PASSWORD, SCHOOL)).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn an_address_is_limited_loosely_and_alone() {
    let limits = LoginLimits {
        per_username: Limit { failures: 5, window_ms: 900_000 },
        per_address: Limit { failures: 3, window_ms: 900_000 },
    };
    let h = harness(limits).await;
    let app = app(&h.console).await;
    // Three different usernames fail once each from one address: no username is near its limit,
    // but the address is at its own.
    for user in ["office", "north", "nobody"] {
        assert_problem(&call(&app, login_req(user, "guess guess guess", SCHOOL)).await, 401, "invalid_credentials");
    }
    let locked = call(&app, login_req("root", PASSWORD, SCHOOL)).await;
    assert_problem(&locked, 429, "too_many_logins");
    assert_eq!(locked.retry_after.as_deref(), Some("900"));
    // Another address is not affected, nor are the usernames themselves.
    assert_eq!(call(&app, login_req("root", PASSWORD, "198.51.100.1")).await.status, StatusCode::OK);
    assert_eq!(call(&app, login_req("office", PASSWORD, "198.51.100.1")).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn one_login_per_username_at_a_time() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    // Another pod is checking a password for this username right now.
    assert!(h.store.shared_lease(&lease_name(&username_key("Office")), "another-pod", 10_000).await.unwrap());
    let busy = call(&app, login_req("office", PASSWORD, SCHOOL)).await;
    assert_problem(&busy, 429, "too_many_logins");
    assert_eq!(busy.retry_after.as_deref(), Some("1"));
    // Other usernames go on; and once the lease is given back, so does this one.
    assert_eq!(call(&app, login_req("north", PASSWORD, SCHOOL)).await.status, StatusCode::OK);
    h.store.shared_release(&lease_name(&username_key("office")), "another-pod").await.unwrap();
    assert_eq!(call(&app, login_req("office", PASSWORD, SCHOOL)).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn bad_login_bodies_are_problems() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    let post = || TestRequest::post().uri("/api/v1/console/login");
    let extra = post().set_json(json!({"username": "root", "password": PASSWORD, "remember": true}));
    assert_problem(&call(&app, extra).await, 400, "unknown_field");
    assert_problem(&call(&app, post().set_json(json!({"username": "root"}))).await, 400, "missing_field");
    assert_problem(&call(&app, post().set_json(json!({"username": 1, "password": "x"}))).await, 400, "invalid_type");
    assert_problem(&call(&app, post().set_json(json!(["root", PASSWORD]))).await, 400, "invalid_type");
    let not_json = post().insert_header(("Content-Type", "application/json")).set_payload("{username");
    assert_problem(&call(&app, not_json).await, 400, "malformed_json");
    let form = post().set_form([("username", "root"), ("password", PASSWORD)]);
    assert_problem(&call(&app, form).await, 415, "unsupported_media_type");
    // None of it reached the audit log (beyond the accounts made).
    assert_eq!(h.db.audit_entries(None, 10).await.unwrap().len(), 4);
}

#[actix_web::test]
async fn me_needs_a_valid_organizer_token() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    let me = || TestRequest::get().uri("/api/v1/console/me");

    let none = call(&app, me()).await;
    assert_problem(&none, 401, "unauthorized");
    assert_eq!(none.www_authenticate.as_deref(), Some("Bearer"));
    assert_problem(&call(&app, bearer(me(), "garbage")).await, 401, "unauthorized");

    // A participant token signed with the very same key is not an organizer token.
    let participants = Tokens::new(&[SigningKey::new("k1", SECRET.to_vec()).unwrap()]).unwrap();
    let p = participants.issue_participant(
        &CampaignId::parse("demo").unwrap(),
        &ParticipantId::parse("p1").unwrap(),
        NOW_MS / 1000,
    );
    assert_problem(&call(&app, bearer(me(), &p)).await, 401, "unauthorized");

    // An organizer token works until it expires.
    let token = call(&app, login_req("office", PASSWORD, SCHOOL)).await.json["token"].as_str().unwrap().to_owned();
    assert_eq!(call(&app, bearer(me(), &token)).await.status, StatusCode::OK);
    h.clock.advance((ORGANIZER_TTL_SECS + 61) * 1000);
    assert_problem(&call(&app, bearer(me(), &token)).await, 401, "unauthorized");
}

/// The extractor and `authorize` end to end, as every console handler will use them.
#[actix_web::test]
async fn scope_is_enforced_through_authorize() {
    let h = harness(LoginLimits::default()).await;
    let app = app(&h.console).await;
    let mut tokens = std::collections::HashMap::new();
    for user in ["root", "office", "north", "all"] {
        let a = call(&app, login_req(user, PASSWORD, SCHOOL)).await;
        tokens.insert(user, a.json["token"].as_str().unwrap().to_owned());
    }
    let probe = |user: &str, path: &str| bearer(TestRequest::get().uri(path), &tokens[user]);
    let ok = |a: Answer, region: Value| {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.json["region_id"], region, "{}", a.text);
    };

    ok(call(&app, probe("root", "/probe/campaigns/other")).await, Value::Null);
    ok(call(&app, probe("root", "/probe/campaigns/other?region_id=south-1")).await, json!("south-1"));
    ok(call(&app, probe("office", "/probe/campaigns/demo?region_id=south")).await, json!("south"));
    assert_problem(&call(&app, probe("office", "/probe/campaigns/other")).await, 403, "forbidden");
    ok(call(&app, probe("all", "/probe/campaigns/demo")).await, Value::Null);
    assert_problem(&call(&app, probe("all", "/probe/campaigns/other")).await, 403, "forbidden");
    ok(call(&app, probe("north", "/probe/campaigns/demo")).await, json!("north"));
    ok(call(&app, probe("north", "/probe/campaigns/demo?region_id=north-2")).await, json!("north-2"));
    assert_problem(&call(&app, probe("north", "/probe/campaigns/demo?region_id=south")).await, 403, "forbidden");
    assert_problem(&call(&app, probe("north", "/probe/campaigns/demo?region_id=city")).await, 403, "forbidden");
    assert_problem(&call(&app, probe("north", "/probe/campaigns/other")).await, 403, "forbidden");
    assert_problem(&call(&app, probe("north", "/probe/campaigns/demo?region_id=mars")).await, 400, "invalid_region");
    // No token, no answer.
    assert_problem(&call(&app, TestRequest::get().uri("/probe/campaigns/demo")).await, 401, "unauthorized");
}

#[test]
fn the_openapi_document_lists_the_console_routes() {
    let (_, doc) = App::new().into_utoipa_app().configure(baton_console::routes::configure).split_for_parts();
    let doc = serde_json::to_value(&doc).unwrap();
    let login = &doc["paths"]["/api/v1/console/login"]["post"];
    assert_eq!(login["tags"], json!(["console"]));
    for status in ["400", "401", "413", "415", "429", "503"] {
        assert!(
            login["responses"][status]["content"]["application/problem+json"].is_object(),
            "{status}: {}",
            login["responses"][status]
        );
    }
    assert!(login["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert!(login["responses"]["200"]["content"]["application/json"].is_object());
    let me = &doc["paths"]["/api/v1/console/me"]["get"];
    assert_eq!(me["security"], json!([{"organizer": []}]));
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["LoginRequest"].is_object() && schemas["LoginResponse"].is_object(), "{schemas}");
}
