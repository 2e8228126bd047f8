//! The web apps as `baton serve` serves them: the front page, the citizen app's page at
//! `/c/{campaign}` and its screens (history mode) carrying the share card's metadata, the apps'
//! files with their caching and gzip, the console under `/console/`, gzip on large JSON answers
//! and never on the live event stream, and the participant counter landing pages poll.
//!
//! The apps must have been built (the `baton-web` build script runs npm; `./tests/run` makes
//! sure Node.js is there): a test fails, not skips, when they were not.

use baton_e2e::*;
use std::io::Read as _;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("a valid gzip body");
    out
}

/// Every `src="…"` / `href="…"` under `prefix` in an HTML page.
fn referenced(html: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            if url.starts_with(prefix) {
                found.push(url.to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn citizen_pages_carry_the_card_and_the_app() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;

    // The front page is the page of the campaign that is live, named for the app.
    let front = app.get("/", None).await;
    assert_eq!(front.status, 200);
    let front = front.text();
    assert!(front.contains("<meta name=\"baton:campaign\" content=\"demo\" />"), "{front}");
    assert!(front.contains("<link rel=\"canonical\" href=\"https://baton.test/c/demo\" />"), "{front}");

    let page = app.get("/c/demo?invite=7K3MZ9QX2P", None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-cache"), "the page is revalidated at every visit");
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let html = page.text();
    let scripts = referenced(&html, "/assets/");
    assert!(
        scripts.iter().any(|s| s.ends_with(".js")) && scripts.iter().any(|s| s.ends_with(".css")),
        "the citizen app is built and its page names its script and styles (run npm in web/citizen, or build with Node.js installed): {html}"
    );
    // The share card's metadata, once, in the head, and the campaign's title instead of the app's own.
    let head = &html[..html.find("</head>").expect("a head")];
    assert_eq!(head.matches("<title>").count(), 1, "{head}");
    assert!(head.contains("<title>株洲市全民禁毒网络接力大赛（演示）</title>"), "{head}");
    for tag in ["\"og:title\"", "\"og:image\"", "\"og:url\"", "itemprop=\"image\"", "\"twitter:card\""] {
        assert_eq!(head.matches(tag).count(), 1, "{tag} in {head}");
    }
    assert!(head.contains("content=\"https://baton.test/c/demo/card.svg\""), "{head}");
    assert!(head.contains("<meta name=\"baton:invite-code\" content=\"7k3mz9qx2p\" />"), "{head}");
    let elsewhere: Vec<_> = referenced(&html, "")
        .into_iter()
        .filter(|u| u.contains("//") && !u.starts_with("https://baton.test/"))
        .collect();
    assert!(elsewhere.is_empty(), "nothing from another host: {elsewhere:?}");

    // Every screen of the app is the same page (history mode); the card image keeps its route.
    for screen in ["join", "quiz", "share", "boards", "result/0123456789abcdef"] {
        let r = app.get(&format!("/c/demo/{screen}"), None).await;
        assert_eq!(r.status, 200, "{screen}");
        assert_eq!(referenced(&r.text(), "/assets/"), scripts, "{screen}");
    }
    let card = app.get("/c/demo/card.svg", None).await;
    assert_eq!((card.status, card.header("content-type")), (200, Some("image/svg+xml")));
    app.get("/c/demo/nothing-here", None).await.problem(404, "page_not_found");
    app.get("/c/no-such-campaign/join", None).await.problem(404, "campaign_not_found");
    // A browser following a dead link gets the app (which tells the person), with the 404.
    let browser = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let dead = app.raw("GET", "/c/no-such-campaign", &browser, b"").await;
    assert_eq!(dead.status, 404);
    assert_eq!(referenced(&dead.text(), "/assets/"), scripts);
    assert!(!dead.text().contains("og:title"), "no card for a campaign that is not there");

    // The app's files: cached for a year, gzipped for clients that take it, revalidated by ETag.
    for file in &scripts {
        let plain = app.get(file, None).await;
        assert_eq!(plain.status, 200, "{file}");
        assert_eq!(plain.header("cache-control"), Some("public, max-age=31536000, immutable"), "{file}");
        let kind = plain.header("content-type").unwrap();
        assert!(kind.contains(if file.ends_with(".js") { "javascript" } else { "css" }), "{file}: {kind}");
        let zipped = app.raw("GET", file, &[("Accept-Encoding", "gzip, deflate, br")], b"").await;
        if plain.body.len() >= 1024 {
            assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{file}");
            assert!(zipped.body.len() < plain.body.len(), "{file}");
            assert_eq!(gunzip(&zipped.body), plain.body, "{file}");
            assert_eq!(zipped.header("vary"), Some("accept-encoding"));
        }
        let etag = plain.header("etag").expect("an ETag");
        let again = app.raw("GET", file, &[("If-None-Match", etag)], b"").await;
        assert_eq!((again.status, again.body.len()), (304, 0), "{file}");
    }
    app.get("/assets/no-such-file.js", None).await.problem(404, "file_not_found");
    app.get("/assets/../Cargo.toml", None).await.problem(404, "file_not_found");
}

#[tokio::test]
async fn the_console_is_served_under_its_own_path() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let r = app.get("/console", None).await;
    assert_eq!((r.status, r.header("location")), (301, Some("/console/")));
    let index = app.get("/console/", None).await;
    assert_eq!(index.status, 200, "the console is built: {}", index.text());
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let html = index.text();
    let files = referenced(&html, "/console/assets/");
    assert!(files.iter().any(|f| f.ends_with(".js")), "{html}");
    for f in &files {
        let r = app.get(f, None).await;
        assert_eq!((r.status, r.header("cache-control")), (200, Some("public, max-age=31536000, immutable")), "{f}");
    }
    // Citizens never load it: the citizen page names none of its files.
    let citizen = app.get("/c/demo", None).await.text();
    assert!(referenced(&citizen, "/console/").is_empty());
    app.get("/console/assets/nope.js", None).await.problem(404, "file_not_found");
}

#[tokio::test]
async fn large_answers_are_gzipped_and_streams_are_not() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let plain = app.get("/api/v1/campaigns/demo", None).await;
    assert!(plain.body.len() > 4096, "the campaign page lists its places and units");
    assert_eq!(plain.header("content-encoding"), None, "not asked for");
    let zipped = app.raw("GET", "/api/v1/campaigns/demo", &[("Accept-Encoding", "gzip")], b"").await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(zipped.body.len() * 3 < plain.body.len(), "{} vs {}", zipped.body.len(), plain.body.len());
    assert_eq!(gunzip(&zipped.body), plain.body);
    let refused = app.raw("GET", "/api/v1/campaigns/demo", &[("Accept-Encoding", "gzip;q=0")], b"").await;
    assert_eq!(refused.header("content-encoding"), None);

    // Small answers are sent as they are.
    let small = app.raw("GET", "/api/v1/campaigns/demo/stats", &[("Accept-Encoding", "gzip")], b"").await;
    assert_eq!((small.status, small.header("content-encoding")), (200, None));

    // The live stream is never compressed (a listener must get each event when it is sent).
    let token = app.organizer("web-admin", "admin", None, None).await;
    let mut live =
        app.sse_with("/api/v1/console/campaigns/demo/live", &token, None, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(live.status, 200);
    assert!(!live.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-encoding")), "{:?}", live.headers);
    let first = live.next().await.expect("an event");
    assert_eq!(first.event, "overview");
}

#[tokio::test]
async fn the_participant_counter_is_cheap_and_cacheable() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let r = app.get("/api/v1/campaigns/demo/stats", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    assert_eq!(r.json(), serde_json::json!({"participants": 0, "relayed": 0}));
    app.join("web-counter-1", "计数一").await;
    // One reading serves every poller for two seconds (the campaign page, read once per visit,
    // counts exactly) …
    assert_eq!(app.get("/api/v1/campaigns/demo/stats", None).await.json()["participants"], 0);
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["stats"]["participants"], 1);
    // … then the counter moves.
    app.clock.advance(2_000);
    assert_eq!(app.get("/api/v1/campaigns/demo/stats", None).await.json()["participants"], 1);
    app.get("/api/v1/campaigns/nope/stats", None).await.problem(404, "campaign_not_found");
}

#[tokio::test]
async fn the_collective_boards_share_one_reading_of_the_counters() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let hetang = |board: &serde_json::Value| {
        board["entries"].as_array().unwrap().iter().find(|e| e["id"] == "hetang").expect("hetang is ranked")["value"]
            .as_u64()
            .unwrap()
    };
    let regions = "/api/v1/campaigns/demo/leaderboards/regions?limit=100";
    assert_eq!(hetang(&app.get(regions, None).await.json()), 0);
    app.join("web-boards-1", "榜单一").await;
    // Every viewer of the counties' and units' boards is served from one reading for two
    // seconds (the counters of every place and unit are the costliest read of the hot store) …
    assert_eq!(hetang(&app.get(regions, None).await.json()), 0);
    // … then the board moves.
    app.clock.advance(2_000);
    assert_eq!(hetang(&app.get(regions, None).await.json()), 1);
}
