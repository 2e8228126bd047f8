//! Campaign administration through the console, over HTTP on both stacks: who may create and
//! update a campaign, documents refused with every field named, questions imported from JSON
//! and from spreadsheet CSV (byte-order mark, quoted commas and line breaks, Chinese text),
//! bad rows all reported by line with the bank left as it was, the audit log, and the frozen
//! bank: an attempt started before an edit is shown, judged and explained by the version it
//! was drawn from, while attempts started after the edit takes effect get the new text.

use baton_core::campaign::{CampaignDoc, Question, QuestionKind};
use baton_core::ids::{CampaignId, QuestionId};
use baton_db::campaigns::SWITCH_DELAY_MS;
use baton_e2e::{Hot, NOON, Resp, Sql, TestApp, on_both_stacks};
use baton_http::clock::Clock;
use serde_json::{Value, json};

on_both_stacks!(
    writing_a_campaign_takes_an_admin_or_its_organizer,
    invalid_documents_are_refused_with_every_field_named,
    questions_import_from_json_and_csv,
    bad_rows_are_all_reported_by_line_and_nothing_is_imported,
    a_started_attempt_keeps_the_bank_it_was_drawn_from,
);

const HEADER: &str = "id,kind,category,difficulty,stem,option_a,option_b,option_c,option_d,answer,explanation,source";

fn cid(s: &str) -> CampaignId {
    CampaignId::parse(s).unwrap()
}

/// A small valid campaign `id`, live at [`NOON`].
fn small(id: &str, title: &str) -> Value {
    json!({
        "format": 1, "id": id, "title": title, "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-30T00:00:00Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区", "level": "county"}]}],
        "questions": [
            {"id": "q1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草"], "answer": [0], "explanation": "刑法。", "source": "刑法"},
            {"id": "q2", "kind": "judge", "category": "law", "difficulty": 1, "stem": "吸毒违法。",
             "options": ["正确", "错误"], "answer": [0], "explanation": "禁毒法。", "source": "禁毒法"}]
    })
}

fn demo() -> Value {
    serde_json::to_value(baton::demo::doc()).unwrap()
}

async fn put(app: &TestApp, campaign: &str, body: &Value, token: Option<&str>) -> Resp {
    let path = format!("/api/v1/console/campaigns/{campaign}");
    app.send("PUT", &path, "application/json", body.to_string().as_bytes(), token).await
}

async fn import(app: &TestApp, query: &str, content_type: &str, body: &[u8], token: &str) -> Resp {
    let path = format!("/api/v1/console/campaigns/demo/questions{query}");
    app.send("POST", &path, content_type, body, Some(token)).await
}

async fn stored(app: &TestApp, campaign: &str) -> Option<CampaignDoc> {
    app.services.db.campaign(&cid(campaign)).await.unwrap()
}

async fn versions(app: &TestApp, campaign: &str) -> Vec<(i64, i64)> {
    let all = app.services.db.campaign_versions(&cid(campaign)).await.unwrap();
    all.iter().map(|v| (v.version, v.valid_from_ms)).collect()
}

/// The campaign writes in the audit log of `campaign`, oldest first: `(username, action, detail)`.
async fn writes(app: &TestApp, campaign: &str) -> Vec<(String, String, String)> {
    let mut rows = app.services.db.audit_entries(Some(&cid(campaign)), 100).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .filter(|r| ["campaign_created", "campaign_updated", "questions_imported"].contains(&r.entry.action.as_str()))
        .map(|r| (r.entry.username, r.entry.action, r.entry.detail))
        .collect()
}

fn actions(log: &[(String, String, String)]) -> Vec<(&str, &str)> {
    log.iter().map(|(u, a, _)| (u.as_str(), a.as_str())).collect()
}

/// The `(line, field)` of every problem of an `invalid_questions` answer.
fn problems(r: &Resp) -> Vec<(Option<u64>, String)> {
    let v = r.problem(400, "invalid_questions");
    v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {v}"))
        .iter()
        .map(|e| (e["line"].as_u64(), e["field"].as_str().unwrap().to_owned()))
        .collect()
}

/// A time of the first hour after [`NOON`] (2026-06-10T04:00:00Z) as the API writes it.
fn rfc3339(ms: i64) -> String {
    let secs = (ms - NOON) / 1000;
    assert!((0..3600).contains(&secs) && (ms - NOON) % 1000 == 0, "{ms}");
    format!("2026-06-10T04:{:02}:{:02}.000Z", secs / 60, secs % 60)
}

async fn writing_a_campaign_takes_an_admin_or_its_organizer(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let root = app.organizer("root", "admin", None, None).await;
    let office = app.organizer("office", "organizer", Some("demo"), None).await;
    let watcher = app.organizer("watcher", "viewer", Some("demo"), None).await;

    // An admin creates a campaign: in effect at once, served at once.
    let r = put(&app, "river", &small("river", "河边的接力"), Some(&root)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], "river");
    assert_eq!(v["created"], true);
    assert_eq!(v["bank_version"], 1);
    assert_eq!(v["effective_at"], rfc3339(NOON));
    assert_eq!((v["questions"].as_u64(), v["places"].as_u64(), v["units"].as_u64()), (Some(2), Some(2), Some(0)));
    let info = app.get("/api/v1/campaigns/river", None).await;
    assert_eq!((info.status, info.json()["title"].clone()), (200, json!("河边的接力")), "{}", info.text());

    // And updates it: a new version, in effect after the delay.
    let r = put(&app, "river", &small("river", "河边的接力（第二版）"), Some(&root)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["created"].clone(), r.json()["bank_version"].clone()), (json!(false), json!(2)));
    assert_eq!(r.json()["effective_at"], rfc3339(NOON + SWITCH_DELAY_MS));
    assert_eq!(app.get("/api/v1/campaigns/river", None).await.json()["title"], "河边的接力（第二版）");
    assert_eq!(versions(&app, "river").await, [(1, 0), (2, NOON + SWITCH_DELAY_MS)]);

    // The organizer of demo updates demo (a document far over the default 16 KiB body limit).
    let mut d = demo();
    d["title"] = json!("株洲市禁毒接力（改）");
    assert!(d.to_string().len() > 16 * 1024);
    let r = put(&app, "demo", &d, Some(&office)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["title"], "株洲市禁毒接力（改）");

    // Everybody else is refused, before anything is read or written.
    let river_office = app.organizer("river-office", "organizer", Some("river"), None).await;
    for (token, campaign, body) in [
        (&office, "river", small("river", "不该改")),
        (&office, "lake", small("lake", "不该建")),
        (&river_office, "demo", demo()),
        (&watcher, "demo", demo()),
        (&watcher, "river", small("river", "不该改")),
    ] {
        put(&app, campaign, &body, Some(token)).await.problem(403, "forbidden");
    }
    for token in [&river_office, &watcher] {
        let csv = format!("{HEADER}\nq-9,judge,law,1,新题。,,,,,对,因为。,法\n");
        import(&app, "", "text/csv", csv.as_bytes(), token).await.problem(403, "forbidden");
    }
    put(&app, "demo", &demo(), None).await.problem(401, "unauthorized");
    assert!(stored(&app, "lake").await.is_none());
    assert_eq!(stored(&app, "river").await.unwrap().title, "河边的接力（第二版）");

    // What the path cannot be, what the body must be.
    put(&app, "Not_An_Id", &small("river", "x"), Some(&root)).await.problem(400, "invalid_id");
    let path = "/api/v1/console/campaigns/river";
    let plain = app.send("PUT", path, "text/plain", small("river", "x").to_string().as_bytes(), Some(&root)).await;
    plain.problem(415, "unsupported_media_type");
    let huge = vec![b' '; baton_console::admin::BODY_LIMIT + 1];
    app.send("PUT", path, "application/json", &huge, Some(&root)).await.problem(413, "body_too_large");

    // Every write is in the audit log, with who and which version; refusals are not.
    let river = writes(&app, "river").await;
    assert_eq!(actions(&river), [("root", "campaign_created"), ("root", "campaign_updated")]);
    assert!(river[1].2.starts_with("version 2 in effect from "), "{river:?}");
    assert!(river[1].2.ends_with("2 places, 0 units, 2 questions"), "{river:?}");
    assert_eq!(actions(&writes(&app, "demo").await), [("office", "campaign_updated")]);
    assert!(writes(&app, "lake").await.is_empty());
}

async fn invalid_documents_are_refused_with_every_field_named(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let root = app.organizer("root", "admin", None, None).await;
    let before = stored(&app, "demo").await;

    let r = put(&app, "demo", &small("river", "别的"), Some(&root)).await;
    let v = r.problem(400, "campaign_id_mismatch");
    assert!(v["detail"].as_str().unwrap().contains("river"), "{v}");

    let mut d = demo();
    d["title"] = json!(" ");
    d["rules"]["time_zone"] = json!("Mars/Olympus");
    d["questions"][2]["answer"] = json!([9]);
    let third = d["questions"][2]["id"].as_str().unwrap().to_owned();
    let v = put(&app, "demo", &d, Some(&root)).await.problem(400, "invalid_campaign");
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    let answer = format!("questions[2] ({third}).answer");
    assert_eq!(fields, ["title", "rules.time_zone", answer.as_str()], "{v}");
    assert!(v["errors"][2]["message"].as_str().unwrap().contains("index 9 is out of range"), "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("3 problem(s)") && detail.contains("rules.time_zone") && detail.contains(&answer),
        "{v}"
    );

    let mut d = demo();
    d["questions"][0]["answers"] = json!([1]);
    let v = put(&app, "demo", &d, Some(&root)).await.problem(400, "unknown_field");
    assert!(v["detail"].as_str().unwrap().contains("`answers`") && v["detail"].as_str().unwrap().contains("line 1"));
    put(&app, "demo", &json!([demo()]), Some(&root)).await.problem(400, "invalid_type");
    let broken = app.send("PUT", "/api/v1/console/campaigns/demo", "application/json", b"{\"id\": ", Some(&root)).await;
    broken.problem(400, "malformed_json");

    // Nothing changed, nothing was recorded.
    assert_eq!(stored(&app, "demo").await, before);
    assert_eq!(versions(&app, "demo").await, [(1, 0)]);
    assert!(writes(&app, "demo").await.is_empty());
}

async fn questions_import_from_json_and_csv(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let office = app.organizer("office", "organizer", Some("demo"), None).await;
    let before = stored(&app, "demo").await.unwrap();
    let n = before.questions.len();
    let first = before.questions[0].clone();

    // JSON, as {"questions": [...]}: one new question, one replacing a question in place.
    let mut changed = serde_json::to_value(&first).unwrap();
    changed["explanation"] = json!("改过的解析：禁毒法自2008年6月1日起施行。");
    let new = json!({"id": "law-901", "kind": "judge", "category": "law", "difficulty": 1,
        "stem": "国家禁毒委员会负责组织、协调、指导全国的禁毒工作。", "options": ["正确", "错误"], "answer": [0],
        "explanation": "禁毒法第五条。", "source": "《中华人民共和国禁毒法》第五条"});
    let r = import(&app, "", "application/json", json!({"questions": [new, changed]}).to_string().as_bytes(), &office)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (&v["mode"], &v["added"], &v["replaced"], &v["removed"], &v["total"], &v["bank_version"]),
        (&json!("merge"), &json!(1), &json!(1), &json!(0), &json!(n + 1), &json!(2))
    );
    assert_eq!(v["effective_at"], rfc3339(NOON + SWITCH_DELAY_MS));
    let doc = stored(&app, "demo").await.unwrap();
    assert_eq!(doc.questions[0].id, first.id, "replaced where it stood");
    assert_eq!(doc.questions[0].explanation, "改过的解析：禁毒法自2008年6月1日起施行。");
    assert_eq!(doc.questions[n].id.as_str(), "law-901");
    // This process serves the new version at once (it takes effect for attempts later).
    let newest = app.services.campaigns.get(&cid("demo")).unwrap();
    assert!(newest.question(&QuestionId::parse("law-901").unwrap()).is_some());

    // CSV from a spreadsheet: byte-order mark, CRLF, quoted commas, quotes and line breaks,
    // Chinese text, true/false answers in words, the English columns.
    let csv = format!(
        "\u{feff}{HEADER},stem_en,options_en,explanation_en\r\n\
         law-101,single,law,2,《中华人民共和国禁毒法》由哪一届全国人大常委会通过？,第十届,第九届,第十一届,第十二届,A,\
         禁毒法于2007年12月29日由第十届全国人大常委会第三十一次会议通过，自2008年6月1日起施行。,《中华人民共和国禁毒法》,,,\r\n\
         drugs-101,multi,drugs,2,\"下列哪些属于合成毒品，哪些不是？\",冰毒,摇头丸,鸦片,K粉,ABD,\
         \"冰毒、摇头丸和K粉是人工合成的毒品，鸦片是从罂粟中提取的传统毒品。\",国家禁毒委员会办公室,\
         \"Which are synthetic drugs?\",\"Meth|Ecstasy|Opium|Ketamine\",\"Opium comes from the poppy, the others are made.\"\r\n\
         refuse-101,judge,refuse,1,\"朋友递来的\"\"提神饮料\"\"来历不明，\r\n可以放心喝吗？\",,,,,错误,\
         来历不明的饮料可能掺有毒品，应当拒绝。,国家禁毒委员会办公室,,,\r\n\
         ,,,,,,,,,,,,,,\r\n"
    );
    let r = import(&app, "", "text/csv; charset=utf-8", csv.as_bytes(), &office).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (&v["added"], &v["replaced"], &v["total"], &v["bank_version"]),
        (&json!(3), &json!(0), &json!(n + 4), &json!(3))
    );
    let doc = stored(&app, "demo").await.unwrap();
    let by_id = |id: &str| doc.questions.iter().find(|q| q.id.as_str() == id).unwrap_or_else(|| panic!("{id}")).clone();
    let law = by_id("law-101");
    assert_eq!((law.kind, law.options.len(), law.answer.clone()), (QuestionKind::Single, 4, vec![0]));
    let drugs = by_id("drugs-101");
    assert_eq!(drugs.stem, "下列哪些属于合成毒品，哪些不是？");
    assert_eq!(drugs.answer, [0, 1, 3]);
    assert_eq!(drugs.en.as_ref().unwrap().options, ["Meth", "Ecstasy", "Opium", "Ketamine"]);
    let refuse = by_id("refuse-101");
    assert_eq!(refuse.stem, "朋友递来的\"提神饮料\"来历不明，\n可以放心喝吗？");
    assert_eq!((refuse.options.clone(), refuse.answer.clone()), (vec!["正确".to_owned(), "错误".to_owned()], vec![1]));

    // Chinese headers, all options in one cell, option numbers as the answer.
    let csv = "题号,题型,分类,难度,题干,选项,答案,解析,出处\n\
               youth-101,单选,youth,1,青少年应当如何对待陌生人给的香烟？,接受|拒绝并告诉家长|转送同学,2,陌生人给的香烟可能掺有毒品。,国家禁毒委员会办公室\n";
    let r = import(&app, "", "text/csv", csv.as_bytes(), &office).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(by_id_in(&stored(&app, "demo").await.unwrap(), "youth-101").answer, [1]);

    // The bare list form; and mode=replace makes the bank exactly what is sent.
    let r = import(
        &app,
        "?mode=replace",
        "application/json",
        serde_json::to_string(&before.questions).unwrap().as_bytes(),
        &office,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (&v["mode"], &v["added"], &v["replaced"], &v["removed"], &v["total"]),
        (&json!("replace"), &json!(0), &json!(n), &json!(5), &json!(n))
    );
    assert_eq!(stored(&app, "demo").await.unwrap().questions, before.questions);

    // Four imports, four versions after the first, four audit entries with their counts.
    assert_eq!(versions(&app, "demo").await.len(), 5);
    let log = writes(&app, "demo").await;
    assert_eq!(actions(&log), vec![("office", "questions_imported"); 4]);
    assert!(log[1].2.starts_with("CSV questions (merge): 3 added, 0 replaced, 0 removed"), "{log:?}");
    assert!(log[1].2.contains("version 3 in effect from"), "{log:?}");
}

fn by_id_in(doc: &CampaignDoc, id: &str) -> Question {
    doc.questions.iter().find(|q| q.id.as_str() == id).unwrap_or_else(|| panic!("{id}")).clone()
}

async fn bad_rows_are_all_reported_by_line_and_nothing_is_imported(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let office = app.organizer("office", "organizer", Some("demo"), None).await;
    let before = stored(&app, "demo").await.unwrap();
    let taken = before.questions[0].stem.clone();
    let unchanged = async || {
        assert_eq!(stored(&app, "demo").await.unwrap(), before, "the bank is as it was");
        assert_eq!(versions(&app, "demo").await, [(1, 0)]);
        assert!(writes(&app, "demo").await.is_empty(), "a refused import is not a write");
    };

    // Each line of the file (the quoted stem on line 4 runs onto line 5) with what is wrong.
    let csv = format!(
        "{HEADER}\r\n\
         ok-1,single,law,1,一道好题？,甲,乙,,,A,因为。,法\r\n\
         bad-2,single,law,1,答案不对？,甲,乙,,,E,因为。,法\r\n\
         bad-3,essay,law,1,\"两行\r\n的题干\",甲,乙,,,A,因为。,法\r\n\
         bad-4,single,nope,1,分类不对？,甲,乙,,,A,因为。,法\r\n\
         ok-1,single,law,1,重复的题号？,甲,乙,,,A,因为。,法\r\n\
         bad-5,single,law,1,\"{taken}\",甲,乙,,,A,因为。,法\r\n\
         bad-6,multi,drugs,2,多选只有一个对？,甲,乙,丙,,B,因为。,法\r\n\
         bad-7,single,law,1,第七题？,甲,以上都对,,,A,因为。,\r\n"
    );
    let r = import(&app, "", "text/csv", csv.as_bytes(), &office).await;
    let got = problems(&r);
    let want: Vec<(Option<u64>, String)> =
        [(3, "answer"), (4, "kind"), (6, "category"), (7, "id"), (8, "stem"), (9, "answer"), (10, "source")]
            .into_iter()
            .map(|(l, f)| (Some(l), f.to_owned()))
            .collect();
    assert_eq!(got, want, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errors"][3]["question_id"], "ok-1");
    assert!(v["errors"][3]["message"].as_str().unwrap().contains("first at line 2"), "{v}");
    assert!(v["errors"][4]["message"].as_str().unwrap().contains(before.questions[0].id.as_str()), "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("7 problem(s) in the questions; nothing was imported. line 3, answer"),
        "{v}"
    );
    unchanged().await;

    // A row that reads but breaks a rule of the bank names its column.
    let csv = format!("{HEADER}\nbad-8,single,law,1,第八题？,甲,A和B,,,A,因为。,法\n");
    let got = problems(&import(&app, "", "text/csv", csv.as_bytes(), &office).await);
    assert_eq!(got, [(Some(2), "option_b".to_owned())]);

    // JSON: problems by index in the list, every field that does not read.
    let body = json!([
        {"id": "j-0", "kind": "judge", "category": "law", "difficulty": 1, "stem": "好的判断题。",
         "options": ["正确", "错误"], "answer": [0], "explanation": "因为。", "source": "法"},
        {"id": "j-1", "kind": "essay", "category": "law", "difficulty": "hard", "stem": "坏的。",
         "options": ["正确", "错误"], "answer": [0], "explanation": "因为。", "source": "法"},
        7
    ]);
    let got = problems(&import(&app, "", "application/json", body.to_string().as_bytes(), &office).await);
    assert_eq!(got, [(Some(1), "kind".into()), (Some(1), "difficulty".into()), (Some(2), String::new())]);

    // Replacing the bank with too few questions breaks the quotas: problems of the whole bank.
    let one = json!({"questions": [before.questions[0]]});
    let got = problems(&import(&app, "?mode=replace", "application/json", one.to_string().as_bytes(), &office).await);
    assert!(got.contains(&(None, "rules.quotas.drugs".into())) && got.contains(&(None, "questions".into())), "{got:?}");

    // Files that cannot be read at all.
    let header_only = format!("\u{feff}{HEADER}\r\n");
    let v = import(&app, "", "text/csv", header_only.as_bytes(), &office).await.problem(400, "invalid_questions");
    assert!(v["detail"].as_str().unwrap().contains("no questions"), "{v}");
    let gbk = b"id,kind,category\n\xd6\xd0\xce\xc4,single,law\n";
    let v = import(&app, "", "text/csv", gbk, &office).await.problem(400, "invalid_questions");
    assert_eq!(v["errors"][0]["line"], 2);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("CSV UTF-8"), "{v}");
    let v = import(&app, "", "text/csv", b"id,kind,colour\n", &office).await.problem(400, "invalid_questions");
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"colour") && fields.contains(&"answer"), "{v}");
    import(&app, "", "text/plain", b"x", &office).await.problem(415, "unsupported_media_type");
    import(&app, "?mode=sideways", "application/json", b"[]", &office).await.problem(400, "invalid_query");
    import(&app, "", "application/json", b"{\"qs\": []}", &office).await.problem(400, "unknown_field");
    unchanged().await;
}

/// The choice that answers `q` (a question of the bank) right, as `shown` shows its options.
fn right(q: &Question, shown: &Value) -> Vec<usize> {
    let shown: Vec<&str> = shown["options"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    let mut choice: Vec<usize> = q
        .answer
        .iter()
        .map(|&i| shown.iter().position(|s| *s == q.options[usize::from(i)]).expect("a shown option"))
        .collect();
    choice.sort();
    choice
}

fn shown<'a>(attempt: &'a Value, id: &str) -> &'a Value {
    attempt["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {attempt}"))
}

fn sorted_options(view: &Value) -> Vec<String> {
    let mut o: Vec<String> =
        view["options"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_owned()).collect();
    o.sort();
    o
}

fn sorted(options: &[String]) -> Vec<String> {
    let mut o = options.to_vec();
    o.sort();
    o
}

async fn a_started_attempt_keeps_the_bank_it_was_drawn_from(hot: Hot, sql: Sql) {
    let mut app = TestApp::spawn(hot, sql).await;
    let office = app.organizer("office", "organizer", Some("demo"), None).await;
    let v1 = baton::demo::doc();
    let q = |id: &str| v1.questions.iter().find(|q| q.id.as_str() == id).unwrap().clone();

    // A participant whose attempt has two questions of one category, the first not true/false:
    // the edit changes the first's text and options and removes the second.
    let (who, attempt, q1, q2) = 'found: {
        for i in 0..20 {
            let who = app.join(&format!("dev-frozen-{i:04}"), &format!("答题人{i}")).await;
            let a = app.start(&who).await;
            let ids: Vec<String> =
                a["questions"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().into()).collect();
            for x in &ids {
                let qx = q(x);
                if qx.kind == QuestionKind::Judge {
                    continue;
                }
                if let Some(y) = ids.iter().find(|y| *y != x && q(y).category == qx.category) {
                    break 'found (who, a, qx, q(y));
                }
            }
        }
        panic!("no attempt with two questions of one category");
    };
    let aid = attempt["attempt_id"].as_str().unwrap().to_owned();
    let in_attempt: Vec<&str> =
        attempt["questions"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();

    // Version 2: q1 reworded with another number of options and another answer; q1's category
    // keeps exactly its quota (so every new attempt asks q1), which removes q2.
    let n2 = if q1.options.len() == 3 { 4 } else { 3 };
    let mut q1_new = q1.clone();
    q1_new.stem = format!("【新版】{}", q1.stem);
    q1_new.options = (0..n2).map(|i| format!("新选项{i}")).collect();
    q1_new.answer = if q1.kind == QuestionKind::Multi { vec![0, 2] } else { vec![1] };
    q1_new.explanation = "新版的解析。".into();
    q1_new.en = None;
    let quota = usize::from(v1.rules.quotas[&q1.category]);
    let keep: Vec<QuestionId> = v1
        .questions
        .iter()
        .filter(|x| x.category == q1.category && !in_attempt.contains(&x.id.as_str()))
        .take(quota - 1)
        .map(|x| x.id.clone())
        .collect();
    let mut v2 = v1.clone();
    v2.questions.retain(|x| x.category != q1.category || keep.contains(&x.id));
    v2.questions.push(q1_new.clone());
    assert!(!v2.questions.iter().any(|x| x.id == q2.id));

    app.clock.advance(5_000);
    let r = put(&app, "demo", &serde_json::to_value(&v2).unwrap(), Some(&office)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let effective = NOON + 5_000 + SWITCH_DELAY_MS;
    assert_eq!(
        (r.json()["bank_version"].clone(), r.json()["effective_at"].clone()),
        (json!(2), json!(rfc3339(effective)))
    );

    // Until the new version is in effect, new attempts still draw from version 1 (version 2
    // would ask the reworded q1 in every attempt).
    let early = app.join("dev-frozen-early", "早到者").await;
    let e = app.start(&early).await;
    assert!(
        e["questions"].as_array().unwrap().iter().all(|x| !x["stem"].as_str().unwrap().starts_with("【新版】")),
        "{e}"
    );

    // The participant keeps answering other questions until the new version is in effect.
    let fillers: Vec<&Value> = attempt["questions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"] != q1.id.as_str() && x["id"] != q2.id.as_str())
        .collect();
    for f in &fillers {
        if app.clock.now_ms() > effective {
            break;
        }
        app.clock.advance(15_000);
        let r = app.answer(&who, &aid, f["id"].as_str().unwrap(), &[0]).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert!(app.clock.now_ms() > effective);

    // A new attempt now draws from version 2: q1 reworded, q2 gone.
    let late = app.join("dev-frozen-late", "后来者").await;
    let b = app.start(&late).await;
    let b_q1 = shown(&b, q1.id.as_str());
    assert_eq!(b_q1["stem"], q1_new.stem);
    assert_eq!(sorted_options(b_q1), sorted(&q1_new.options));
    assert!(b["questions"].as_array().unwrap().iter().all(|x| x["id"] != q2.id.as_str()), "{b}");
    let r = app.answer(&late, b["attempt_id"].as_str().unwrap(), q1.id.as_str(), &right(&q1_new, b_q1)).await;
    assert_eq!(
        (r.status, r.json()["correct"].clone(), r.json()["explanation"].clone()),
        (200, json!(true), json!("新版的解析。"))
    );

    // The first attempt is still shown by version 1 ...
    app.clock.advance(3_000);
    let a = app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await.json();
    let a_q1 = shown(&a, q1.id.as_str()).clone();
    assert_eq!(a_q1["stem"], q1.stem);
    assert_eq!(sorted_options(&a_q1), sorted(&q1.options));
    assert_eq!(shown(&a, q2.id.as_str())["stem"], q2.stem);

    // ... judged and explained by it: q1 with its old options, q2 that version 2 no longer has.
    app.clock.advance(3_000);
    let r = app.answer(&who, &aid, q1.id.as_str(), &right(&q1, &a_q1)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["correct"].clone(), v["explanation"].clone(), v["points"].clone()),
        (json!(true), json!(q1.explanation), json!(10))
    );
    app.clock.advance(3_000);
    let a_q2 = shown(&a, q2.id.as_str()).clone();
    let r = app.answer(&who, &aid, q2.id.as_str(), &right(&q2, &a_q2)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["correct"].clone(), r.json()["explanation"].clone()), (json!(true), json!(q2.explanation)));
    // The same answer again is the same answer.
    let again = app.answer(&who, &aid, q2.id.as_str(), &right(&q2, &a_q2)).await;
    assert_eq!(again.body, r.body);

    // After a restart (as on another pod), the versions come back from the database.
    app = app.restart().await;
    let a = app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await.json();
    let a_q1 = shown(&a, q1.id.as_str());
    assert_eq!((a_q1["stem"].clone(), a_q1["answer"]["explanation"].clone()), (json!(q1.stem), json!(q1.explanation)));
    assert_eq!(sorted_options(a_q1), sorted(&q1.options));
    assert_eq!(shown(&a, q2.id.as_str())["answer"]["correct"], true);
    let finished = app.finish(&who, &aid).await;
    assert_eq!(finished["correct_count"].as_u64().map(|c| c >= 2), Some(true), "{finished}");
    let c = app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await.json();
    assert_eq!(c["status"], "finished");

    assert_eq!(versions(&app, "demo").await, [(1, 0), (2, effective)]);
    assert_eq!(actions(&writes(&app, "demo").await), [("office", "campaign_updated")]);
}
