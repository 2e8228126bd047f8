//! The console's CSV exports, end to end on both stacks: the file `baton export` writes, streamed
//! over HTTP; limited to the caller's scope (a viewer of 荷塘区 gets only its subtree in all
//! three files, and `403` for a region outside it); nicknames with phone numbers masked; no
//! openid anywhere; every export audited; and only organizers of the campaign may download.

use actix_web::{App, HttpResponse, HttpServer, web};
use baton::app::WeChatSettings;
use baton_archiver::redis::ArchiverConfig;
use baton_core::campaign::Campaign;
use baton_core::ids::{CampaignId, ParticipantId, PlaceId};
use baton_db::export::{ExportFilter, ExportKind};
use baton_e2e::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BOM: &str = "\u{feff}";

on_both_stacks!(
    exports_are_the_cli_files_streamed,
    a_region_viewer_sees_only_its_subtree,
    phone_numbers_in_nicknames_are_masked,
    openids_never_appear,
    exports_are_audited,
    only_the_campaigns_organizers_may_export,
    a_large_export_streams_in_many_chunks,
);

fn demo() -> CampaignId {
    CampaignId::parse("demo").unwrap()
}

/// Brings SQL up to date: with Redis, an archiver drains the streams (the embedded store
/// commits every change to SQL before answering).
async fn settle(app: &TestApp) {
    if let Some(url) = app.services.config.redis_url.clone() {
        let mut c = ArchiverConfig::new("exports");
        c.block = Duration::from_millis(20);
        c.claim_idle = Duration::ZERO;
        let mut a = baton::app::start_archiver(&app.services, &url, c).await.unwrap();
        loop {
            let r = a.run_once().await.unwrap();
            if r.read == 0 && r.claimed == 0 {
                break;
            }
        }
    }
}

/// A CSV file as rows of fields (RFC 4180), checking BOM and CRLF line ends on the way.
#[derive(Debug)]
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    #[track_caller]
    fn parse(text: &str) -> Csv {
        let text = text.strip_prefix(BOM).unwrap_or_else(|| panic!("no byte-order mark: {text:?}"));
        let (mut rows, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "lines end with CRLF");
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, '\n') => panic!("a bare LF in {text:?}"),
                (false, c) => field.push(c),
            }
        }
        assert!(field.is_empty() && row.is_empty() && !quoted, "the last line ends with CRLF: {text:?}");
        let header = rows.remove(0);
        for r in &rows {
            assert_eq!(r.len(), header.len(), "{r:?}");
        }
        Csv { header, rows }
    }

    /// The values of one column.
    fn column(&self, name: &str) -> Vec<&str> {
        let i = self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }

    /// The row whose first field is `id`.
    fn row(&self, id: &str) -> Option<HashMap<&str, &str>> {
        let i = if self.header[0] == "rank" { 1 } else { 0 };
        let r = self.rows.iter().find(|r| r[i] == id)?;
        Some(self.header.iter().map(String::as_str).zip(r.iter().map(String::as_str)).collect())
    }
}

fn path(file: &str, query: &str) -> String {
    format!("/api/v1/console/campaigns/demo/exports/{file}{query}")
}

/// Downloads an export, checks what every download has, and parses it.
#[track_caller]
fn checked(r: &Resp, file: &str) -> Csv {
    assert_eq!(r.status, 200, "{file}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let disposition = r.header("content-disposition").unwrap_or_default();
    let kind = file.trim_end_matches(".csv");
    // The clock is at NOON (04:00 UTC) plus at most a minute of play.
    assert_eq!(disposition, format!("attachment; filename=\"demo-{kind}-20260610-0400.csv\""));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    Csv::parse(&String::from_utf8(r.body.clone()).expect("UTF-8"))
}

async fn download(app: &TestApp, file: &str, query: &str, token: &str) -> Csv {
    let r = app.get(&path(file, query), Some(token)).await;
    checked(&r, file)
}

/// What `baton export KIND --campaign demo` writes (the CLI calls exactly this).
async fn cli_export(app: &TestApp, kind: ExportKind) -> Vec<u8> {
    let mut out = Vec::new();
    app.services.db.export(kind, &campaign(app), &mut out, |_| {}).await.unwrap();
    out
}

fn campaign(app: &TestApp) -> Arc<Campaign> {
    app.services.campaigns.get(&demo()).unwrap()
}

async fn exports_are_the_cli_files_streamed(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let a = app.join_at("dev-exp-a", "荷塘甲", "hetang-yuetang", Some("u-hetang-yuanjiawan-community")).await;
    app.clock.advance(1_000);
    let b = app.join_at("dev-exp-b", "芦淞乙", "lusong-jianshe", Some("u-lusong-gongyuan-community")).await;
    app.clock.advance(1_000);
    let c = app.join_at("dev-exp-c", "=SUM(A1)", "hetang", None).await;
    app.play(&a, 7, 1_000).await;
    app.play(&b, 10, 1_000).await;
    app.play(&c, 3, 1_000).await;
    settle(&app).await;
    let admin = app.organizer("exp-admin", "admin", None, None).await;

    for (file, kind, rows) in [
        ("participants.csv", ExportKind::Participants, 3),
        ("results.csv", ExportKind::Results, 3),
        ("units.csv", ExportKind::Units, campaign(&app).doc().units.len()),
    ] {
        let r = app.get(&path(file, ""), Some(&admin)).await;
        let csv = checked(&r, file);
        // Streamed: chunked, no length known in advance.
        assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{file}: {:?}", r.headers);
        assert_eq!(r.header("content-length"), None);
        // Byte for byte what the CLI writes for the whole campaign.
        assert_eq!(r.body, cli_export(&app, kind).await, "{file}");
        let columns: Vec<&str> = kind.columns().to_vec();
        assert_eq!(csv.header, columns, "{file}");
        assert_eq!(csv.rows.len(), rows, "{file}: {csv:?}");
        assert!(r.text().starts_with(&format!("{BOM}{}\r\n", columns.join(","))), "{file}");
    }
    let people = download(&app, "participants.csv", "", &admin).await;
    assert_eq!(people.column("participant_id"), [a.id.as_str(), b.id.as_str(), c.id.as_str()]);
    assert_eq!(people.column("nickname"), ["荷塘甲", "芦淞乙", "'=SUM(A1)"], "formulas are neutralised");
    assert_eq!(people.column("county"), ["荷塘区", "芦淞区", "荷塘区"]);
    let results = download(&app, "results.csv", "", &admin).await;
    assert_eq!(results.column("rank"), ["1", "2", "3"]);
    assert_eq!(results.column("participant_id"), [b.id.as_str(), a.id.as_str(), c.id.as_str()]);
    assert_eq!(results.column("best_score"), ["100", "70", "30"]);
    let units = download(&app, "units.csv", "", &admin).await;
    let yuanjiawan = units.row("u-hetang-yuanjiawan-community").unwrap();
    assert_eq!((yuanjiawan["participants"], yuanjiawan["finished"]), ("1", "1"));
}

async fn a_region_viewer_sees_only_its_subtree(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let h1 = app.join_at("dev-sub-h1", "月塘人", "hetang-yuetang", Some("u-hetang-yuanjiawan-community")).await;
    app.clock.advance(1_000);
    let h2 = app.join_at("dev-sub-h2", "茨菇塘人", "hetang-cigutang", None).await;
    app.clock.advance(1_000);
    let h3 = app.join_at("dev-sub-h3", "荷塘人", "hetang", None).await;
    let l1 = app.join_at("dev-sub-l1", "建设人", "lusong-jianshe", Some("u-lusong-gongyuan-community")).await;
    // At the city, in a unit of 月塘街道: the unit's figures count it, the subtree's people not.
    let z1 = app.join_at("dev-sub-z1", "市里人", "zhuzhou", Some("u-hetang-shizitou-community")).await;
    app.play(&l1, 10, 1_000).await;
    app.play(&z1, 9, 1_000).await;
    app.play(&h1, 8, 1_000).await;
    app.play(&h2, 5, 1_000).await;
    settle(&app).await;
    let viewer = app.organizer("north-viewer", "viewer", Some("demo"), Some("hetang")).await;
    let admin = app.organizer("sub-admin", "admin", None, None).await;

    // The viewer's own region: 荷塘区 and everything under it.
    let people = download(&app, "participants.csv", "", &viewer).await;
    assert_eq!(people.column("participant_id"), [h1.id.as_str(), h2.id.as_str(), h3.id.as_str()]);
    assert!(people.column("county").iter().all(|c| *c == "荷塘区"));
    let results = download(&app, "results.csv", "", &viewer).await;
    assert_eq!(results.header.last().map(String::as_str), Some("rank_in_region"));
    assert_eq!(results.column("participant_id"), [h1.id.as_str(), h2.id.as_str()]);
    // The campaign-wide rank (as on the public boards), and the rank within the region.
    assert_eq!(results.column("rank"), ["3", "4"]);
    assert_eq!(results.column("rank_in_region"), ["1", "2"]);
    let units = download(&app, "units.csv", "", &viewer).await;
    let ids = units.column("unit_id");
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(ids.iter().all(|u| u.starts_with("u-hetang-")), "{ids:?}");
    assert_eq!(units.row("u-hetang-yuanjiawan-community").unwrap()["participants"], "1");
    assert_eq!(units.row("u-hetang-shizitou-community").unwrap()["participants"], "1");
    for text in [&people, &results, &units].map(|c| format!("{c:?}")) {
        assert!(!text.contains(&l1.id) && !text.contains("建设人") && !text.contains("lusong"), "{text}");
    }

    // Drilling down within the region.
    let q = "?region_id=hetang-yuetang";
    let people = download(&app, "participants.csv", q, &viewer).await;
    assert_eq!(people.column("participant_id"), [h1.id.as_str()]);
    let results = download(&app, "results.csv", q, &viewer).await;
    assert_eq!((results.column("rank"), results.column("rank_in_region")), (vec!["3"], vec!["1"]));
    assert_eq!(download(&app, "units.csv", q, &viewer).await.rows.len(), 4);

    // Outside the region, in every file: 403.
    for file in ["participants.csv", "results.csv", "units.csv"] {
        for q in ["?region_id=lusong", "?region_id=lusong-jianshe", "?region_id=zhuzhou"] {
            app.get(&path(file, q), Some(&viewer)).await.problem(403, "forbidden");
        }
        app.get(&path(file, "?region_id=atlantis"), Some(&viewer)).await.problem(400, "invalid_region");
    }

    // An admin drilling down to 芦淞区 gets that subtree instead.
    let people = download(&app, "participants.csv", "?region_id=lusong", &admin).await;
    assert_eq!(people.column("participant_id"), [l1.id.as_str()]);
    let results = download(&app, "results.csv", "?region_id=lusong", &admin).await;
    assert_eq!((results.column("rank"), results.column("rank_in_region")), (vec!["1"], vec!["1"]));
    let units = download(&app, "units.csv", "?region_id=lusong", &admin).await;
    assert!(units.column("unit_id").iter().all(|u| u.starts_with("u-lusong-")));
    assert_eq!(units.rows.len(), 4);
}

async fn phone_numbers_in_nicknames_are_masked(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let names = [
        ("张三13812345678", "张三138****5678"),
        ("李四138-1234-5678", "李四138-****-5678"),
        ("王五１３９１２３４５６７８", "王五１３９****５６７８"),
        ("座机0731-22881234", "座机****-******34"),
        ("选手2026", "选手2026"),
    ];
    for (i, (nick, _)) in names.iter().enumerate() {
        let who = app.join(&format!("dev-phone-{i}"), nick).await;
        app.play(&who, i + 1, 1_000).await;
    }
    settle(&app).await;
    let admin = app.organizer("phone-admin", "admin", None, None).await;
    let viewer = app.organizer("phone-viewer", "viewer", Some("demo"), Some("hetang")).await;
    for token in [&admin, &viewer] {
        for file in ["participants.csv", "results.csv"] {
            let csv = download(&app, file, "", token).await;
            let mut shown = csv.column("nickname");
            shown.sort();
            let mut want: Vec<&str> = names.iter().map(|(_, masked)| *masked).collect();
            want.sort();
            assert_eq!(shown, want, "{file}");
            let text = format!("{csv:?}");
            for raw in ["13812345678", "1234-5678", "１２３４５６７８", "22881234"] {
                assert!(!text.contains(raw), "{file}: {raw} in {text}");
            }
        }
    }
}

// A fake of WeChat's API (as in wechat.rs): codes `code-<person>-<n>` sign in `openid-<person>`.
async fn oauth(q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let person = q.get("code").and_then(|c| c.strip_prefix("code-")).and_then(|c| c.rsplit_once('-')).map(|(p, _)| p);
    match person {
        Some(p) => HttpResponse::Ok().json(
            json!({"access_token": "user-token", "expires_in": 7200, "openid": format!("openid-{p}"), "scope": "snsapi_base"}),
        ),
        None => HttpResponse::Ok().json(json!({"errcode": 40029, "errmsg": "invalid code"})),
    }
}

fn fake_wechat() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token = || HttpResponse::Ok().json(json!({"access_token": "app-token", "expires_in": 7200}));
    let ticket = || HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "ticket": "t", "expires_in": 7200}));
    let server = HttpServer::new(move || {
        App::new()
            .route("/sns/oauth2/access_token", web::get().to(oauth))
            .route("/cgi-bin/token", web::get().to(move || async move { token() }))
            .route("/cgi-bin/ticket/getticket", web::get().to(move || async move { ticket() }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

async fn openids_never_appear(hot: Hot, sql: Sql) {
    let base = fake_wechat();
    let app = TestApp::spawn_with(hot, sql, |c| {
        c.wechat =
            Some(WeChatSettings { app_id: "wx-exports".into(), app_secret: "never-shown".into(), api_base: base });
    })
    .await;
    let body = json!({"device_id": "dev-wx-carol", "region_id": "hetang-yuetang", "nickname": "微信用户",
                      "wechat_code": "code-carol-1"});
    let r = app.post("/api/v1/campaigns/demo/participants", &body, None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let joined = Joined {
        id: r.json()["participant_id"].as_str().unwrap().into(),
        token: r.json()["token"].as_str().unwrap().into(),
    };
    // The participant id is derived from the openid; the openid itself is not kept.
    assert_eq!(joined.id, ParticipantId::for_wechat(&demo(), "openid-carol").as_str());
    app.play(&joined, 6, 1_000).await;
    settle(&app).await;
    let admin = app.organizer("wx-admin", "admin", None, None).await;
    let viewer = app.organizer("wx-viewer", "viewer", Some("demo"), Some("hetang")).await;
    for token in [&admin, &viewer] {
        for file in ["participants.csv", "results.csv", "units.csv"] {
            let r = app.get(&path(file, ""), Some(token)).await;
            checked(&r, file);
            let text = r.text();
            assert!(!text.contains("openid") && !text.contains("carol"), "{file}: {text}");
            if file != "units.csv" {
                assert!(text.contains(&joined.id), "{file} shows the participant: {text}");
            }
        }
    }
}

async fn exports_are_audited(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let h = app.join("dev-audit-h", "审计").await;
    app.play(&h, 4, 1_000).await;
    app.join_at("dev-audit-l", "芦淞", "lusong-jianshe", None).await;
    settle(&app).await;
    let viewer = app.organizer("audit-viewer", "viewer", Some("demo"), Some("hetang")).await;
    let admin = app.organizer("audit-admin", "admin", None, None).await;
    download(&app, "participants.csv", "", &viewer).await;
    download(&app, "results.csv", "?region_id=hetang-yuetang", &viewer).await;
    download(&app, "units.csv", "", &admin).await;
    // Refused downloads export nothing and record nothing.
    app.get(&path("participants.csv", "?region_id=lusong"), Some(&viewer)).await.problem(403, "forbidden");
    app.get(&path("people.csv", ""), Some(&admin)).await.problem(404, "export_not_found");

    let log = app.services.db.audit_entries(Some(&demo()), 100).await.unwrap();
    let mut exports: Vec<(String, String, String)> = log
        .iter()
        .filter(|r| r.entry.action.starts_with("export"))
        .map(|r| (r.entry.username.clone(), r.entry.action.clone(), r.entry.detail.clone()))
        .collect();
    exports.reverse(); // oldest first
    let units = campaign(&app).doc().units.len();
    let e = |who: &str, action: &str, detail: &str| (who.to_owned(), action.to_owned(), detail.to_owned());
    assert_eq!(
        exports,
        [
            e("audit-viewer", "export", "participants.csv, region hetang"),
            e("audit-viewer", "export_finished", "participants.csv, region hetang; rows: 1"),
            e("audit-viewer", "export", "results.csv, region hetang-yuetang"),
            e("audit-viewer", "export_finished", "results.csv, region hetang-yuetang; rows: 1"),
            e("audit-admin", "export", "units.csv, whole campaign"),
            e("audit-admin", "export_finished", &format!("units.csv, whole campaign; rows: {units}")),
        ]
    );
    assert!(log.iter().filter(|r| r.entry.action.starts_with("export")).all(|r| r.entry.campaign_id == Some(demo())));
}

async fn only_the_campaigns_organizers_may_export(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let who = app.join("dev-auth-p", "参与者").await;
    let mut other = baton::demo::doc();
    other.id = CampaignId::parse("other").unwrap();
    app.services.db.put_campaign(&other).await.unwrap();
    let outsider = app.organizer("other-organizer", "organizer", Some("other"), None).await;
    let outside_viewer = app.organizer("other-viewer", "viewer", Some("other"), Some("hetang")).await;
    let organizer = app.organizer("demo-organizer", "organizer", Some("demo"), None).await;
    let viewer = app.organizer("demo-viewer", "viewer", Some("demo"), None).await;
    let admin = app.organizer("auth-admin", "admin", None, None).await;

    for file in ["participants.csv", "results.csv", "units.csv"] {
        // No token, a participant's token, a forged one: 401.
        app.get(&path(file, ""), None).await.problem(401, "unauthorized");
        app.get(&path(file, ""), Some(&who.token)).await.problem(401, "unauthorized");
        app.get(&path(file, ""), Some("not-a-token")).await.problem(401, "unauthorized");
        // Another campaign's organizers: 403, with or without a region.
        app.get(&path(file, ""), Some(&outsider)).await.problem(403, "forbidden");
        app.get(&path(file, "?region_id=hetang"), Some(&outside_viewer)).await.problem(403, "forbidden");
        // The campaign's organizer and viewer, and an admin: the file.
        for token in [&organizer, &viewer, &admin] {
            download(&app, file, "", token).await;
        }
    }
    // Unknown files, unknown campaigns, unknown query parameters.
    for file in ["people.csv", "participants.json", "participants", "participants.csv.gz", "PARTICIPANTS.csv"] {
        app.get(&path(file, ""), Some(&admin)).await.problem(404, "export_not_found");
    }
    app.get("/api/v1/console/campaigns/nope/exports/participants.csv", Some(&admin))
        .await
        .problem(404, "campaign_not_found");
    app.get(&path("participants.csv", "?region=hetang"), Some(&admin)).await.problem(400, "invalid_query");
}

/// 25,000 participants (stored straight into SQL) come out as one long chunked answer that
/// arrives in many pieces, not as one buffered body.
async fn a_large_export_streams_in_many_chunks(hot: Hot, sql: Sql) {
    use baton_core::events::{Event, EventBody};
    let app = TestApp::spawn(hot, sql).await;
    let c = campaign(&app);
    let place = PlaceId::parse("hetang-yuetang").unwrap();
    let n = 25_000;
    let joins: Vec<Event> = (0..n)
        .map(|i| {
            let body = EventBody::Joined {
                participant: ParticipantId::for_device(&demo(), &format!("dev-big-{i}")),
                region: place.clone(),
                unit: None,
                nickname: format!("选手{i}"),
                places: c.ancestors(&place),
                relay_code: None,
                inviter: None,
                depth: 0,
                client: None,
            };
            Event::new(demo(), NOON + i, body)
        })
        .collect();
    for batch in joins.chunks(5_000) {
        app.services.db.apply_events(batch).await.unwrap();
    }
    let admin = app.organizer("big-admin", "admin", None, None).await;

    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {admin}\r\nConnection: close\r\n\r\n",
        path("participants.csv", "?region_id=hetang"),
        app.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200") && head.contains("transfer-encoding: chunked"), "{head}");
    // Walk the chunks: many of them, and the final one.
    let (mut rest, mut chunks, mut body) = (&raw[split + 4..], 0, Vec::new());
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk header");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
        chunks += 1;
    }
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.matches("\r\n").count(), n as usize + 1);
    assert!(chunks >= 20, "{chunks} chunks for {} bytes", text.len());
    let mut whole = Vec::new();
    let filter = ExportFilter { places: Some(&[PlaceId::parse("hetang").unwrap(), place.clone()]) };
    app.services.db.export_filtered(ExportKind::Participants, &c, filter, &mut whole, |_| {}).await.unwrap();
    assert_eq!(text.as_bytes(), whole, "the streamed file is the whole file");
}
