//! Tokens over real HTTP, for both kinds: participant tokens (from a join) and organizer tokens
//! (from the console login). Each way a token can be wrong has its own test — expired, not yet
//! valid, another audience, another issuer, an unknown `kid`, `alg: none`, one kind used where
//! the other belongs, another campaign's token — and every one ends in `401` (or, for an
//! organizer of another campaign, `403`) that reveals nothing. Keys rotate without logging
//! anyone out. Token checks touch no store, so these run on the embedded store with SQLite.

use baton_core::campaign::Campaign;
use baton_core::ids::CampaignId;
use baton_e2e::{Hot, Joined, NOON, Resp, Sql, TestApp};
use baton_http::auth::{ISSUER, LEEWAY_SECS, PARTICIPANT_AUDIENCE, SigningKey, Tokens};
use serde_json::{Value, json};

const SECRET: [u8; 32] = [7; 32];
const NOW: i64 = NOON / 1000;
const LEEWAY: i64 = LEEWAY_SECS as i64;
const CONSOLE_AUDIENCE: &str = baton_console::tokens::CONSOLE_AUDIENCE;

fn key(kid: &str, secret: &[u8]) -> SigningKey {
    SigningKey::new(kid, secret.to_vec()).unwrap()
}

/// The app with the signing key `k1` configured, so tests can sign what they like with it.
async fn app() -> TestApp {
    TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| c.jwt_keys = vec![key("k1", &SECRET)]).await
}

/// Claims of a good participant token for `who` at [`NOW`].
fn participant_claims(who: &Joined) -> Value {
    json!({"iss": ISSUER, "aud": PARTICIPANT_AUDIENCE, "sub": who.id, "cid": "demo", "iat": NOW, "exp": NOW + 3600})
}

/// Claims of a good admin token at [`NOW`] (the account need not exist: tokens carry the role).
fn admin_claims() -> Value {
    json!({"iss": ISSUER, "aud": CONSOLE_AUDIENCE, "sub": "tokens-admin", "role": "admin", "cid": null,
        "rid": null, "iat": NOW, "exp": NOW + 600})
}

/// `claims` signed with `kid`'s key (HS256, `kid` in the header).
fn sign(kid: &str, secret: &[u8], claims: &Value) -> String {
    Tokens::new(&[key(kid, secret)]).unwrap().sign(claims)
}

/// `claims` signed with the app's key.
fn good(claims: &Value) -> String {
    sign("k1", &SECRET, claims)
}

fn with(claims: &Value, field: &str, value: impl Into<Value>) -> Value {
    let mut c = claims.clone();
    c[field] = value.into();
    c
}

/// A participant call and a console call, each with `token`.
async fn me(app: &TestApp, token: &str) -> Resp {
    app.get("/api/v1/me", Some(token)).await
}

async fn overview(app: &TestApp, token: &str) -> Resp {
    app.get("/api/v1/console/campaigns/demo/overview", Some(token)).await
}

/// `401 unauthorized` with `WWW-Authenticate: Bearer`, saying nothing about why.
#[track_caller]
fn refused(r: &Resp) {
    let v = r.problem(401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{}", r.text());
    let detail = v["detail"].as_str().unwrap().to_lowercase();
    for leak in ["kid", "audience", "issuer", "signature", "alg", "expired at", "jsonwebtoken"] {
        assert!(!detail.contains(leak), "the detail says why ({leak}): {v}");
    }
}

/// Both forged kinds verify as they are: the cases below change one thing each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_signed_with_the_configured_key_verify() {
    let app = app().await;
    let who = app.join("dev-tokens-0001", "令牌").await;
    assert_eq!(me(&app, &good(&participant_claims(&who))).await.status, 200);
    assert_eq!(overview(&app, &good(&admin_claims())).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_401() {
    let app = app().await;
    let who = app.join("dev-tokens-0002", "过期").await;
    let organizer = app.organizer("tokens-expiry", "admin", None, None).await;
    // Forged: expired beyond the leeway, and within it.
    let expired = with(&participant_claims(&who), "exp", NOW - LEEWAY);
    refused(&me(&app, &good(&expired)).await);
    assert_eq!(me(&app, &good(&with(&expired, "exp", NOW - LEEWAY + 5))).await.status, 200, "within the leeway");
    refused(&overview(&app, &good(&with(&admin_claims(), "exp", NOW - LEEWAY))).await);
    // Real ones, by the clock: an organizer token lasts two hours, a participant's 45 days.
    assert_eq!(overview(&app, &organizer).await.status, 200);
    app.clock.advance((2 * 3600 + LEEWAY + 1) * 1000);
    refused(&overview(&app, &organizer).await);
    assert_eq!(me(&app, &who.token).await.status, 200);
    app.clock.advance(45 * 24 * 3600 * 1000);
    refused(&me(&app, &who.token).await);
}

/// `iat` or `nbf` later than now plus the leeway: not valid yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_yet_valid_tokens_are_401() {
    let app = app().await;
    let who = app.join("dev-tokens-0003", "未来").await;
    for claim in ["iat", "nbf"] {
        let p = with(&participant_claims(&who), claim, NOW + LEEWAY + 1);
        refused(&me(&app, &good(&p)).await);
        let o = with(&admin_claims(), claim, NOW + LEEWAY + 1);
        refused(&overview(&app, &good(&o)).await);
        // A clock a little behind is tolerated.
        assert_eq!(me(&app, &good(&with(&p, claim, NOW + LEEWAY))).await.status, 200, "{claim}");
        assert_eq!(overview(&app, &good(&with(&o, claim, NOW + LEEWAY))).await.status, 200, "{claim}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_wrong_audience_are_401() {
    let app = app().await;
    let who = app.join("dev-tokens-0004", "受众").await;
    for aud in [json!("baton"), json!("baton:admin"), json!(["someone-else"]), json!(null)] {
        refused(&me(&app, &good(&with(&participant_claims(&who), "aud", aud.clone()))).await);
        refused(&overview(&app, &good(&with(&admin_claims(), "aud", aud))).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_wrong_issuer_are_401() {
    let app = app().await;
    let who = app.join("dev-tokens-0005", "签发").await;
    for iss in [json!("someone"), json!("Baton"), json!(""), json!(null)] {
        refused(&me(&app, &good(&with(&participant_claims(&who), "iss", iss.clone()))).await);
        refused(&overview(&app, &good(&with(&admin_claims(), "iss", iss))).await);
    }
    let mut no_iss = participant_claims(&who);
    no_iss.as_object_mut().unwrap().remove("iss");
    refused(&me(&app, &good(&no_iss)).await);
}

/// A `kid` the key set does not have — even with the right secret behind it — or none at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_an_unknown_kid_are_401() {
    let app = app().await;
    let who = app.join("dev-tokens-0006", "钥匙").await;
    for kid in ["k2", "K1", "k1 ", "../k1"] {
        refused(&me(&app, &sign(kid, &SECRET, &participant_claims(&who))).await);
        refused(&overview(&app, &sign(kid, &SECRET, &admin_claims())).await);
    }
    // The right kid with another secret is a bad signature.
    refused(&me(&app, &sign("k1", &[8; 32], &participant_claims(&who))).await);
    refused(&overview(&app, &sign("k1", &[8; 32], &admin_claims())).await);
}

/// Unpadded base64url, as JWTs are written.
fn b64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A hand-built token with header `{"alg":"none"}` and an empty signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_tokens_are_401() {
    assert_eq!(b64(r#"{"alg":"HS256"}"#), "eyJhbGciOiJIUzI1NiJ9");
    let app = app().await;
    let who = app.join("dev-tokens-0007", "无签名").await;
    for header in [r#"{"alg":"none"}"#, r#"{"alg":"none","typ":"JWT","kid":"k1"}"#, r#"{"alg":"NONE","kid":"k1"}"#] {
        let p = format!("{}.{}.", b64(header), b64(&participant_claims(&who).to_string()));
        refused(&me(&app, &p).await);
        let o = format!("{}.{}.", b64(header), b64(&admin_claims().to_string()));
        refused(&overview(&app, &o).await);
    }
}

/// A participant's token opens no console route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_token_on_a_console_route_is_401() {
    let app = app().await;
    let who = app.join("dev-tokens-0008", "参与者").await;
    for path in [
        "/api/v1/console/me",
        "/api/v1/console/campaigns/demo/overview",
        "/api/v1/console/campaigns/demo/timeseries?metric=joins",
        "/api/v1/console/campaigns/demo/breakdown?by=region",
        "/api/v1/console/campaigns/demo/questions",
        "/api/v1/console/campaigns/demo/relay",
        "/api/v1/console/campaigns/demo/exports/participants.csv",
    ] {
        refused(&app.get(path, Some(&who.token)).await);
    }
    let doc =
        serde_json::to_vec(app.services.campaigns.get(&CampaignId::parse("demo").unwrap()).unwrap().doc()).unwrap();
    refused(&app.send("PUT", "/api/v1/console/campaigns/demo", "application/json", &doc, Some(&who.token)).await);
    refused(
        &app.send("POST", "/api/v1/console/campaigns/demo/questions", "application/json", b"[]", Some(&who.token))
            .await,
    );
    // Not even a participant token made to look like an admin's (the audience still says
    // participant).
    let lookalike = with(&with(&participant_claims(&who), "role", "admin"), "cid", Value::Null);
    refused(&overview(&app, &good(&lookalike)).await);
}

/// An organizer's token opens no participant route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_token_on_a_participant_route_is_401() {
    let app = app().await;
    let organizer = app.organizer("tokens-organizer", "organizer", Some("demo"), None).await;
    let before = app.get("/api/v1/campaigns/demo", None).await.json()["stats"].clone();
    refused(&me(&app, &organizer).await);
    refused(&app.get("/api/v1/me/relay", Some(&organizer)).await);
    refused(&app.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {organizer}"))], b"").await);
    refused(&app.get("/api/v1/campaigns/demo/leaderboards/score?around=me", Some(&organizer)).await);
    refused(&app.post("/api/v1/shares", &json!({"channel": "link"}), Some(&organizer)).await);
    // An organizer token whose subject looks like a participant's id is still a console token.
    let who = app.join("dev-tokens-0009", "目标").await;
    let lookalike = with(&with(&admin_claims(), "sub", who.id.as_str()), "cid", "demo");
    refused(&me(&app, &good(&lookalike)).await);
    let after = app.get("/api/v1/campaigns/demo", None).await.json()["stats"].clone();
    assert_eq!(after["participants"], before["participants"].as_u64().unwrap() + 1, "only the one join counted");
}

/// A participant of campaign `other` on demo's calls, and an organizer of `other` on demo's
/// console: refused, and nothing about demo's participants or attempts is revealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_campaign_is_refused_without_revealing_anything() {
    let app = app().await;
    let mut other = app.services.campaigns.get(&CampaignId::parse("demo").unwrap()).unwrap().doc().clone();
    other.id = CampaignId::parse("other").unwrap();
    app.services.db.put_campaign(&other).await.unwrap();
    app.services.campaigns.put(Campaign::from_doc(other).unwrap());

    let player = app.join("dev-tokens-0010", "本地").await;
    let a = app.start(&player).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    let q = &a["questions"][0];
    let r = app
        .post(
            "/api/v1/campaigns/other/participants",
            &json!({"device_id": "dev-tokens-0011", "region_id": "hetang-yuetang", "nickname": "外来"}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let stranger = Joined {
        id: r.json()["participant_id"].as_str().unwrap().into(),
        token: r.json()["token"].as_str().unwrap().into(),
    };

    // Demo's attempt is not found for the stranger, exactly as an attempt that does not exist.
    let missing = "0000000000000000";
    for id in [aid.as_str(), missing] {
        let r = app.get(&format!("/api/v1/attempts/{id}"), Some(&stranger.token)).await;
        r.problem(404, "attempt_not_found");
        let answer = json!({"question_id": q["id"], "choice": app.right_choice(q)});
        let r = app.post(&format!("/api/v1/attempts/{id}/answers"), &answer, Some(&stranger.token)).await;
        r.problem(404, "attempt_not_found");
        let r = app
            .raw(
                "POST",
                &format!("/api/v1/attempts/{id}/finish"),
                &[("Authorization", &format!("Bearer {}", stranger.token))],
                b"",
            )
            .await;
        r.problem(404, "attempt_not_found");
    }
    // Demo's board around "me" with another campaign's token.
    refused(&app.get("/api/v1/campaigns/demo/leaderboards/score?around=me", Some(&stranger.token)).await);
    // A forged token naming demo's participant but campaign `other` is another participant.
    let crossed = good(&with(&participant_claims(&player), "cid", "other"));
    refused(&me(&app, &crossed).await);
    // Demo's attempt is untouched; the stranger's own profile is of its own campaign.
    let v = app.get(&format!("/api/v1/attempts/{aid}"), Some(&player.token)).await.json();
    assert!(v["questions"].as_array().unwrap().iter().all(|q| q["answer"].is_null()), "{v}");
    assert_eq!(v["status"], "open");
    assert_eq!(me(&app, &stranger.token).await.json()["participant_id"], stranger.id.as_str());

    // Organizers of `other` get 403 on every demo console route, before anything is read.
    let outsider = app.organizer("tokens-other-org", "organizer", Some("other"), None).await;
    for path in [
        "/api/v1/console/campaigns/demo/overview",
        "/api/v1/console/campaigns/demo/questions",
        "/api/v1/console/campaigns/demo/exports/results.csv",
    ] {
        app.get(path, Some(&outsider)).await.problem(403, "forbidden");
    }
    let forged = good(&with(&with(&admin_claims(), "role", "organizer"), "cid", "other"));
    app.get("/api/v1/console/campaigns/demo/overview", Some(&forged)).await.problem(403, "forbidden");
}

/// Keys rotate without logging anyone out: with a new current key and the old one still
/// configured, old tokens of both kinds work and new ones are signed with the new key; once
/// the old key is dropped, its tokens are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_logging_anyone_out() {
    let mut app = app().await;
    let who = app.join("dev-tokens-0012", "轮换").await;
    let organizer = app.organizer("tokens-rotation", "admin", None, None).await;

    let new = key("k2", &[9; 32]);
    app.services.config.jwt_keys = vec![new.clone(), key("k1", &SECRET)];
    let mut app = app.restart().await;
    assert_eq!(me(&app, &who.token).await.status, 200, "an old participant token still works");
    assert_eq!(overview(&app, &organizer).await.status, 200, "an old organizer token still works");
    let fresh = app.join("dev-tokens-0012", "轮换").await;
    let header = fresh.token.split('.').next().unwrap().to_owned();
    assert_eq!(header, b64(r#"{"typ":"JWT","alg":"HS256","kid":"k2"}"#), "new tokens name the new key");
    let r = app
        .post(
            "/api/v1/console/login",
            &json!({"username": "tokens-rotation", "password": baton_e2e::ORGANIZER_PASSWORD}),
            None,
        )
        .await;
    let new_organizer = r.json()["token"].as_str().unwrap().to_owned();
    assert!(new_organizer.starts_with(&header), "organizer tokens too");

    app.services.config.jwt_keys = vec![new];
    let app = app.restart().await;
    refused(&me(&app, &who.token).await);
    refused(&overview(&app, &organizer).await);
    assert_eq!(me(&app, &fresh.token).await.status, 200);
    assert_eq!(overview(&app, &new_organizer).await.status, 200);
}
