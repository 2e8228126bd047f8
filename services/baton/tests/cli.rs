//! The `baton` binary as an operator runs it: each test drives the real executable in a
//! temporary directory of its own, against a SQLite file there (and one against a fresh
//! PostgreSQL database).

mod common;

use baton_core::campaign::CampaignDoc;
use common::{Server, baton, http_get};
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("the baton binary runs")
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Asserts a failure; returns stderr.
#[track_caller]
fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

/// A small valid campaign: a city with two counties and a township, a unit, six questions in
/// two categories.
fn small_campaign() -> Value {
    json!({
        "format": 1, "id": "cli-test", "title": "命令行测试", "description": "一个小活动。",
        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-11T00:00:00Z",
        "rules": {"questions_per_attempt": 4, "seconds_per_question": 20, "attempts_per_day": 2,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {"a": 1, "b": 2}},
        "categories": [{"id": "a", "name": "甲"}, {"id": "b", "name": "乙"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "c1", "name": "一区", "level": "county", "target": 100, "children": [
                {"id": "t1", "name": "一街道", "level": "township", "target": 50}]},
            {"id": "c2", "name": "二区", "level": "county"}]}],
        "units": [{"id": "u1", "name": "一中", "region_id": "t1", "kind": "school", "target": 30}],
        "questions": [
            {"id": "a1", "kind": "single", "category": "a", "difficulty": 1, "stem": "甲一", "options": ["x", "y", "z"], "answer": [1], "explanation": "因为。", "source": "法"},
            {"id": "a2", "kind": "judge", "category": "a", "difficulty": 1, "stem": "甲二", "options": ["正确", "错误"], "answer": [0], "explanation": "因为。", "source": "法"},
            {"id": "a3", "kind": "multi", "category": "a", "difficulty": 2, "stem": "甲三", "options": ["p", "q", "r", "s"], "answer": [0, 2], "explanation": "因为。", "source": "法"},
            {"id": "b1", "kind": "single", "category": "b", "difficulty": 1, "stem": "乙一", "options": ["x", "y", "z", "w"], "answer": [3], "explanation": "因为。", "source": "法"},
            {"id": "b2", "kind": "judge", "category": "b", "difficulty": 3, "stem": "乙二", "options": ["正确", "错误"], "answer": [1], "explanation": "因为。", "source": "法"},
            {"id": "b3", "kind": "multi", "category": "b", "difficulty": 2, "stem": "乙三", "options": ["p", "q", "r"], "answer": [0, 1], "explanation": "因为。", "source": "法"}
        ]
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn doc_of(text: &str) -> CampaignDoc {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("the export is a campaign document ({e}):\n{text}"))
}

#[test]
fn migrate_creates_the_sqlite_file_named_by_the_flag_or_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    // A file in a directory that does not exist yet.
    let db = dir.path().join("data").join("flag.db");
    let url = format!("sqlite://{}", db.display());
    let out = ok(&run(baton(dir.path()).args(["migrate", "--database-url", &url])));
    assert!(db.is_file(), "{} was created", db.display());
    assert!(out.contains("up to date"), "{out}");
    // Again: nothing to do, still fine; the flag also goes before the subcommand.
    ok(&run(baton(dir.path()).args(["--database-url", &url, "migrate"])));

    let env_db = dir.path().join("env.db");
    ok(&run(baton(dir.path()).arg("migrate").env("BATON_DATABASE_URL", sqlite_url(dir.path(), "env.db"))));
    assert!(env_db.is_file());
    // The flag wins over the variable.
    ok(&run(baton(dir.path())
        .args(["migrate", "--database-url", &sqlite_url(dir.path(), "both-flag.db")])
        .env("BATON_DATABASE_URL", sqlite_url(dir.path(), "both-env.db"))));
    assert!(dir.path().join("both-flag.db").is_file());
    assert!(!dir.path().join("both-env.db").exists());
    // Neither: baton.db in the working directory.
    ok(&run(baton(dir.path()).arg("migrate")));
    assert!(dir.path().join("baton.db").is_file());
}

#[test]
fn an_unsupported_database_url_fails_without_leaking_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&run(baton(dir.path()).args(["migrate", "--database-url", "mysql://root:hunter2@db/baton"])));
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("mysql://root:***@db/baton") && err.contains("not supported"), "{err}");
}

/// Import prints a summary; export prints a document that imports again to the same campaign,
/// and export → import → export is byte for byte the same.
#[test]
fn import_and_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "c.db");
    let original = small_campaign();
    let file = write(dir.path(), "campaign.json", &serde_json::to_string_pretty(&original).unwrap());
    let out = ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["created campaign cli-test: 4 places, 1 units, 6 questions in 2 categories", "version 1, in effect now"]
    );

    let first = ok(&run(baton(dir.path()).args(["campaign", "export", "cli-test", "--database-url", &url])));
    assert_eq!(
        doc_of(&first),
        serde_json::from_value::<CampaignDoc>(original).unwrap(),
        "the export is what was imported"
    );

    let again = write(dir.path(), "exported.json", &first);
    let out = ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&again).env("BATON_DATABASE_URL", &url)));
    assert!(out.starts_with("updated campaign cli-test:"), "{out}");
    // Every import is a new version; running attempts keep the one they started with.
    assert!(out.contains("\nversion 2, in effect for attempts started from "), "{out}");
    let second = ok(&run(baton(dir.path()).args(["campaign", "export", "cli-test"]).env("BATON_DATABASE_URL", &url)));
    assert_eq!(first, second, "export → import → export is identical");

    // An edit is an update that export shows.
    let mut edited = small_campaign();
    edited["title"] = json!("改过的标题");
    edited["questions"][0]["explanation"] = json!("改过的解析。");
    let file = write(dir.path(), "edited.json", &edited.to_string());
    let out = ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    assert!(out.contains("\nversion 3, in effect for attempts started from "), "{out}");
    let third = doc_of(&ok(&run(baton(dir.path()).args(["campaign", "export", "cli-test", "--database-url", &url]))));
    assert_eq!(third.title, "改过的标题");
    assert_eq!(third.questions[0].explanation, "改过的解析。");
    assert_eq!(third, serde_json::from_value::<CampaignDoc>(edited).unwrap());
}

/// The demo campaign (hundreds of questions, a full place tree) survives the round trip too.
#[test]
fn the_demo_campaign_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "demo.db");
    let demo = baton::demo::doc();
    let file = write(dir.path(), "demo.json", &serde_json::to_string_pretty(&demo).unwrap());
    let out = ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    assert!(out.starts_with("created campaign demo:"), "{out}");
    assert!(out.contains(&format!("{} questions", demo.questions.len())), "{out}");
    let first = ok(&run(baton(dir.path()).args(["campaign", "export", "demo", "--database-url", &url])));
    assert_eq!(doc_of(&first), demo);
    let again = write(dir.path(), "again.json", &first);
    ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&again).args(["--database-url", &url])));
    let second = ok(&run(baton(dir.path()).args(["campaign", "export", "demo", "--database-url", &url])));
    assert_eq!(first, second);
}

#[test]
fn a_json_syntax_error_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "c.db");
    let text = "{\n  \"format\": 1,\n  \"id\": \"cli-test\",\n  \"title\": oops\n}\n";
    let file = write(dir.path(), "broken.json", text);
    let err = fails(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    let prefix = format!("{}:4:", file.display());
    let at = err.find(&prefix).unwrap_or_else(|| panic!("stderr names {prefix}: {err}"));
    // FILE:LINE:COL: — a column number and a colon follow the line.
    let rest = &err[at + prefix.len()..];
    let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(!col.is_empty() && rest[col.len()..].starts_with(':'), "FILE:LINE:COL: in {err}");
    assert!(col.parse::<u32>().unwrap() >= 12, "the column points into line 4: {err}");

    // An unknown field is reported the same way, and a missing file says so.
    let mut v = small_campaign();
    v["questions"][2]["answers"] = json!([0]);
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    let file = write(dir.path(), "unknown.json", &pretty);
    let err = fails(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    assert!(err.contains(&format!("{}:", file.display())) && err.contains("unknown field `answers`"), "{err}");
    let err = fails(&run(baton(dir.path()).args(["campaign", "import", "nowhere.json", "--database-url", &url])));
    assert!(err.contains("nowhere.json") && err.contains("cannot read"), "{err}");

    // Nothing was imported.
    let err = fails(&run(baton(dir.path()).args(["campaign", "export", "cli-test", "--database-url", &url])));
    assert!(err.contains("cli-test"), "{err}");
}

/// Every validation problem is listed by its field path, and a refused import changes nothing.
#[test]
fn validation_problems_are_listed_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "c.db");
    let file = write(dir.path(), "good.json", &small_campaign().to_string());
    ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    let before = ok(&run(baton(dir.path()).args(["campaign", "export", "cli-test", "--database-url", &url])));

    let mut bad = small_campaign();
    bad["title"] = json!("不该生效的标题");
    bad["questions"][0]["answer"] = json!([7]);
    bad["questions"][3]["options"][0] = json!("以上都对");
    bad["units"][0]["region_id"] = json!("nowhere");
    bad["rules"]["time_zone"] = json!("Mars/Olympus");
    let file = write(dir.path(), "bad.json", &serde_json::to_string_pretty(&bad).unwrap());
    let err = fails(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &url])));
    assert!(err.contains(&file.display().to_string()), "names the file: {err}");
    for path in
        ["questions[0] (a1).answer", "questions[3] (b1).options[0]", "units[0] (u1).region_id", "rules.time_zone"]
    {
        assert!(err.contains(path), "lists {path}: {err}");
    }
    assert!(err.contains("4 problem(s)"), "{err}");

    let after = ok(&run(baton(dir.path()).args(["campaign", "export", "cli-test", "--database-url", &url])));
    assert_eq!(before, after, "the refused import changed nothing");
    assert_eq!(doc_of(&after).title, "命令行测试");
}

#[test]
fn exporting_an_unknown_campaign_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "c.db");
    ok(&run(baton(dir.path()).args(["migrate", "--database-url", &url])));
    let out = run(baton(dir.path()).args(["campaign", "export", "nope", "--database-url", &url]));
    let err = fails(&out);
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("no campaign \"nope\""), "{err}");
    let err = fails(&run(baton(dir.path()).args(["campaign", "export", "Not An Id", "--database-url", &url])));
    assert!(err.contains("Not An Id") && err.contains("lowercase"), "{err}");
}

#[test]
fn a_bad_role_is_refused_naming_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&run(baton(dir.path()).args(["serve", "--role", "nope", "--listen", "127.0.0.1:0"])));
    assert!(err.contains("unknown role \"nope\""), "{err}");
    assert!(err.contains("quiz") && err.contains("all"), "names the roles: {err}");
    let err =
        fails(&run(baton(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]).env("BATON_ROLE", "quiz,relayy")));
    assert!(err.contains("unknown role \"relayy\""), "{err}");
    let err = fails(&run(baton(dir.path()).args(["serve", "--role", "", "--listen", "127.0.0.1:0"])));
    assert!(err.contains("role"), "{err}");
    assert!(!dir.path().join("baton.db").exists(), "a refused command touched no database");
}

/// `baton serve --demo` in an empty directory: ready within a bounded poll, demo loaded, its
/// SQLite file in the working directory.
#[test]
fn serve_demo_in_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for _ in 0..3 {
        let port = baton_testkit::free_port();
        let child = baton(dir.path())
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("baton serve starts");
        let mut server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = None;
        let mut ready = false;
        while Instant::now() < deadline {
            if let Some(status) = server.0.try_wait().unwrap() {
                let mut err = String::new();
                server.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                exited = Some(format!("exited with {status} on port {port}: {err}"));
                break;
            }
            if http_get(port, "/readyz").is_some_and(|(s, _)| s == 200) {
                ready = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        match exited {
            // Someone took the port between free_port() and the bind: try another one.
            Some(e) if e.contains("cannot listen") => {
                failures.push(e);
                continue;
            }
            Some(e) => panic!("baton serve failed: {e}"),
            None => assert!(ready, "baton serve was not ready within 60 s"),
        }
        let (status, body) = http_get(port, "/api/v1/campaigns/demo").expect("the server answers");
        assert_eq!(status, 200, "{body}");
        let info: Value = serde_json::from_str(&body).expect("campaign info is JSON");
        assert_eq!(info["id"], "demo");
        assert_eq!(http_get(port, "/healthz").map(|(s, _)| s), Some(200));
        drop(server);
        assert!(dir.path().join("baton.db").is_file(), "baton.db in the working directory");
        return;
    }
    panic!("could not find a free port: {failures:?}");
}

/// The same commands against a fresh PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrate_import_export() {
    let pg = baton_testkit::TestPg::create().await;
    let url = pg.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "campaign.json", &small_campaign().to_string());
    let d = dir.path().to_owned();
    let (migrated, imported, first, second, missing) = tokio::task::spawn_blocking(move || {
        let migrated = ok(&run(baton(&d).args(["migrate", "--database-url", &url])));
        let imported = ok(&run(baton(&d).args(["campaign", "import"]).arg(&file).env("BATON_DATABASE_URL", &url)));
        let first = ok(&run(baton(&d).args(["campaign", "export", "cli-test", "--database-url", &url])));
        let again = write(&d, "again.json", &first);
        ok(&run(baton(&d).args(["campaign", "import"]).arg(&again).args(["--database-url", &url])));
        let second = ok(&run(baton(&d).args(["campaign", "export", "cli-test", "--database-url", &url])));
        let missing = fails(&run(baton(&d).args(["campaign", "export", "nope", "--database-url", &url])));
        (migrated, imported, first, second, missing)
    })
    .await
    .unwrap();
    assert!(migrated.contains("up to date"), "{migrated}");
    assert!(!migrated.contains("password"), "{migrated}");
    assert_eq!(
        imported.lines().collect::<Vec<_>>(),
        ["created campaign cli-test: 4 places, 1 units, 6 questions in 2 categories", "version 1, in effect now"]
    );
    assert_eq!(doc_of(&first), serde_json::from_value::<CampaignDoc>(small_campaign()).unwrap());
    assert_eq!(first, second);
    assert!(missing.contains("no campaign \"nope\""), "{missing}");
    assert!(!dir.path().join("baton.db").exists(), "no SQLite file when PostgreSQL is named");
}

/// A participant who played through a served instance: id, token, nickname, and the score of
/// the finished attempt (None if they did not finish one).
struct Player {
    id: String,
    token: String,
    nickname: String,
    score: Option<u64>,
}

/// `n` participants join the demo through the server on `port` (devices named after `device`,
/// nicknames after `tag`); the first `finishers` answer a few questions (choice 0) and finish
/// their attempt.
fn play(port: u16, device: &str, tag: &str, n: usize, finishers: usize) -> Vec<Player> {
    (0..n)
        .map(|i| {
            let nickname = format!("{tag}{i}");
            let joined = common::join(port, &format!("cli-{device}-device-{i:04}"), &nickname);
            let (id, token) = (common::s(&joined, "participant_id").to_owned(), common::s(&joined, "token").to_owned());
            let mut score = None;
            if i < finishers {
                let a = common::start_attempt(port, &token);
                let aid = common::s(&a, "attempt_id").to_owned();
                for q in a["questions"].as_array().unwrap().iter().take(3 + i) {
                    let r = common::answer(port, &token, &aid, common::s(q, "id"), &[0]).unwrap();
                    assert_eq!(r.status, 200, "{}", r.text());
                }
                score = common::finish(port, &token, &aid)["score"].as_u64();
                assert!(score.is_some());
            }
            Player { id, token, nickname, score }
        })
        .collect()
}

/// CSV text after the byte-order mark, as rows of fields (no field here needs quoting).
#[track_caller]
fn csv_rows(stdout: &[u8]) -> Vec<Vec<String>> {
    assert!(stdout.starts_with(b"\xEF\xBB\xBF"), "starts with a UTF-8 BOM: {:?}", &stdout[..stdout.len().min(16)]);
    let text = std::str::from_utf8(&stdout[3..]).expect("UTF-8");
    assert!(text.ends_with("\r\n"), "CRLF line ends: {text:?}");
    text.trim_end_matches("\r\n").split("\r\n").map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// `baton export results` while a server is using the database: a BOM, the header, and one
/// row per participant with a finished attempt, in the published order; `participants` has
/// everyone.
#[test]
fn export_writes_bom_header_and_rows_of_a_served_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "served.db");
    let served = common::serve(dir.path(), &["--demo", "--database-url", &url]);
    let players = play(served.port, "export", "导出", 4, 3);

    let out = run(baton(dir.path()).args(["export", "results", "--campaign", "demo", "--database-url", &url]));
    ok(&out);
    let rows = csv_rows(&out.stdout);
    assert_eq!(
        rows[0].join(","),
        "rank,participant_id,nickname,county,unit,best_score,best_seconds,reached_at,attempts",
        "the header"
    );
    let rows = &rows[1..];
    assert_eq!(rows.len(), 3, "one row per participant with a result: {rows:?}");
    let mut previous = u64::MAX;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(row[0], (i + 1).to_string(), "rank: {row:?}");
        let p = players.iter().find(|p| p.id == row[1]).unwrap_or_else(|| panic!("a known participant: {row:?}"));
        assert_eq!(row[2], p.nickname);
        assert_eq!(row[3], "荷塘区", "the county of hetang-yuetang");
        assert_eq!(row[4], "", "no unit");
        let score: u64 = row[5].parse().unwrap();
        assert_eq!(Some(score), p.score, "the finished attempt's score: {row:?}");
        assert!(score <= previous, "ranked by score: {rows:?}");
        previous = score;
        assert!(row[6].parse::<f64>().is_ok_and(|s| s > 0.0), "best_seconds: {row:?}");
        assert!(chrono::DateTime::parse_from_rfc3339(&row[7]).is_ok(), "reached_at: {row:?}");
        assert_eq!(row[8], "1", "one attempt: {row:?}");
    }
    assert!(!rows.iter().any(|r| r[1] == players[3].id), "who did not finish has no result");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported 3 rows of campaign demo"));

    let out = run(baton(dir.path()).args(["export", "participants", "--campaign", "demo", "--database-url", &url]));
    ok(&out);
    let rows = csv_rows(&out.stdout);
    assert_eq!(rows[0].join(","), "participant_id,nickname,county,region,unit,joined_at");
    let mut ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    let mut expected: Vec<&str> = players.iter().map(|p| p.id.as_str()).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected, "everyone who joined");
    drop(served);
}

/// An unknown export names the valid ones; an unknown campaign says so; neither writes CSV.
#[test]
fn export_refuses_unknown_kinds_and_campaigns() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "c.db");
    ok(&run(baton(dir.path()).args(["migrate", "--database-url", &url])));

    let out = run(baton(dir.path()).args(["export", "nonsense", "--campaign", "demo", "--database-url", &url]));
    let err = fails(&out);
    assert!(out.stdout.is_empty(), "no CSV: {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("nonsense"), "names what was asked: {err}");
    for kind in ["participants", "results", "units"] {
        assert!(err.contains(kind), "names {kind}: {err}");
    }

    let out = run(baton(dir.path()).args(["export", "participants", "--campaign", "nope", "--database-url", &url]));
    let err = fails(&out);
    assert!(out.stdout.is_empty(), "no CSV, not even a header: {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("no campaign \"nope\""), "{err}");
}

/// Without Redis there is nothing to rebuild: the embedded store rebuilds itself at every start.
#[test]
fn rebuild_without_redis_explains_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "c.db");
    let out = run(baton(dir.path()).args(["rebuild", "--campaign", "demo", "--database-url", &url]));
    let err = fails(&out);
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("--redis-url"), "says what to give: {err}");
    assert!(err.contains("embedded") && err.contains("rebuilds itself"), "explains the embedded store: {err}");
}

/// The console's tallies counted again from the event log (any store) are the ones the
/// archiving counted as it went; counting again changes nothing.
#[test]
fn rebuild_tallies_recounts_the_console_figures() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "tallies.db");
    let served = common::serve(dir.path(), &["--demo", "--database-url", &url]);
    play(served.port, "tally", "计数", 3, 2);
    drop(served);
    let demo = baton_core::ids::CampaignId::parse("demo").unwrap();
    let totals = || {
        rt.block_on(async {
            let db = baton_db::Db::connect(&url).await.unwrap();
            let t = db.tally_totals(&demo, None).await.unwrap();
            db.close().await;
            t
        })
    };
    let before = totals();
    assert_eq!((before.joins, before.finishes), (3, 2), "{before:?}");
    for _ in 0..2 {
        let out =
            ok(&run(baton(dir.path()).args(["rebuild", "--campaign", "demo", "--tallies", "--database-url", &url])));
        assert!(out.starts_with("recounted the tallies of campaign demo from "), "{out}");
        assert_eq!(totals(), before);
    }
    let out = run(baton(dir.path()).args(["rebuild", "--campaign", "nope", "--tallies", "--database-url", &url]));
    assert!(fails(&out).contains("nope"));
}

/// Participants who joined through a server on one Redis are rebuilt from the database into
/// another, empty Redis: the summary counts them, and a server on that Redis knows them and
/// ranks the finishers. Running it again gives the same.
#[test]
fn rebuild_puts_the_database_into_an_empty_redis() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (first, second) =
        rt.block_on(async { (baton_testkit::TestRedis::start().await, baton_testkit::TestRedis::start().await) });
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "redis.db");
    let served = common::serve(
        dir.path(),
        &["--demo", "--redis-url", first.url(), "--redis-prefix", first.key_prefix(), "--database-url", &url],
    );
    let players = play(served.port, "rebuild", "重建", 3, 2);

    // The archiver moves the events into SQL (bounded wait).
    let demo = baton_core::ids::CampaignId::parse("demo").unwrap();
    let db = rt.block_on(baton_db::Db::connect(&url)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = rt.block_on(db.events(&demo, None, 10_000)).unwrap();
        let joins = events.iter().filter(|e| e.id.starts_with("j:")).count();
        let finishes = events.iter().filter(|e| e.id.starts_with("f:")).count();
        if (joins, finishes) == (3, 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "archived within 60 s: {joins} joins, {finishes} finishes\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    rt.block_on(db.close());
    drop(served);

    let rebuild = |redis: &baton_testkit::TestRedis| {
        ok(&run(baton(dir.path()).args([
            "rebuild",
            "--campaign",
            "demo",
            "--redis-url",
            redis.url(),
            "--redis-prefix",
            redis.key_prefix(),
            "--database-url",
            &url,
        ])))
    };
    let out = rebuild(&second);
    assert!(out.starts_with("rebuilt campaign demo: 3 participants (2 with a best result"), "{out}");
    let again = rebuild(&second);
    assert!(again.starts_with("rebuilt campaign demo: 3 participants (2 with a best result"), "{again}");

    let served = common::serve(
        dir.path(),
        &["--redis-url", second.url(), "--redis-prefix", second.key_prefix(), "--database-url", &url],
    );
    let port = served.port;
    let board = common::request(port, "GET", "/api/v1/campaigns/demo/leaderboards/score", None, None).unwrap();
    assert_eq!(board.status, 200, "{}", board.text());
    let board = board.json();
    assert_eq!(board["total"], 2, "{board}");
    let mut ranked: Vec<(String, u64)> = board["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (common::s(e, "id").to_owned(), e["value"].as_u64().unwrap()))
        .collect();
    let mut finishers: Vec<(String, u64)> = players.iter().filter_map(|p| Some((p.id.clone(), p.score?))).collect();
    ranked.sort();
    finishers.sort();
    assert_eq!(ranked, finishers, "the finishers with their scores");
    let info = common::request(port, "GET", "/api/v1/campaigns/demo", None, None).unwrap().json();
    assert_eq!(info["stats"]["participants"], 3, "{}", info["stats"]);
    for p in &players {
        let me = common::request(port, "GET", "/api/v1/me", Some(&p.token), None).unwrap();
        assert_eq!(me.status, 200, "{} is known on the rebuilt Redis: {}", p.id, me.text());
        assert_eq!(me.json()["best_score"], serde_json::to_value(p.score).unwrap(), "{}", me.text());
    }
    drop(served);
}

/// `baton organizer add` takes the password from the environment (never a flag), refuses a
/// campaign that does not exist, and the account can log in to the console.
#[test]
fn organizer_add_creates_an_account_that_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path(), "baton.db");
    let file = write(dir.path(), "small.json", &small_campaign().to_string());
    ok(&run(baton(dir.path()).args(["campaign", "import"]).arg(&file).args(["--database-url", &db])));
    let err = fails(&run(baton(dir.path())
        .args(["organizer", "add", "alice", "--role", "organizer", "--campaign", "nope", "--database-url", &db])
        .env("BATON_ORGANIZER_PASSWORD", "correct horse battery")));
    assert!(err.contains("no campaign nope"), "{err}");
    let out = ok(&run(baton(dir.path())
        .args([
            "organizer",
            "add",
            "Alice",
            "--role",
            "viewer",
            "--campaign",
            "cli-test",
            "--region",
            "c1",
            "--database-url",
            &db,
        ])
        .env("BATON_ORGANIZER_PASSWORD", "correct horse battery")));
    assert!(out.contains("created organizer account alice (viewer)"), "{out}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let row = rt.block_on(async {
        let db = baton_db::Db::connect(&db).await.unwrap();
        db.organizer("alice").await.unwrap()
    });
    let row = row.expect("stored");
    assert!(row.password_hash.starts_with("$argon2id$"), "hashed with argon2id");
    assert!(!row.password_hash.contains("correct horse"));
}
