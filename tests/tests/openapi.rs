//! The OpenAPI document is generated from the route registrations themselves: it names exactly
//! this version's routes, each of them answers on a live app, errors are documented as problem
//! documents, and the participant security scheme is declared.

use baton_e2e::{Hot, Joined, Resp, Sql, TestApp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Every route of v1 and its methods. Adding, removing or renaming a route must update this
/// list (and /work/shared/API.md): that is the point of the test.
const EXPECTED: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/api/v1/openapi.json", &["get"]),
    ("/api/v1/campaigns/{cid}", &["get"]),
    ("/api/v1/campaigns/{cid}/stats", &["get"]),
    ("/api/v1/campaigns/{cid}/participants", &["post"]),
    ("/api/v1/me", &["get"]),
    ("/api/v1/attempts", &["post"]),
    ("/api/v1/attempts/{aid}", &["get"]),
    ("/api/v1/attempts/{aid}/answers", &["post"]),
    ("/api/v1/attempts/{aid}/finish", &["post"]),
    ("/api/v1/campaigns/{cid}/leaderboards/{board}", &["get"]),
    ("/", &["get"]),
    ("/r/{code}", &["get"]),
    ("/c/{cid}", &["get"]),
    ("/c/{cid}/card.svg", &["get"]),
    ("/c/{cid}/{screen}", &["get"]),
    ("/c/{cid}/result/{aid}", &["get"]),
    ("/api/v1/me/relay", &["get"]),
    ("/api/v1/me/poster.svg", &["get"]),
    ("/api/v1/shares", &["post"]),
    ("/api/v1/wechat/jssdk-config", &["get"]),
    ("/api/v1/console/login", &["post"]),
    ("/api/v1/console/me", &["get"]),
    ("/api/v1/console/campaigns/{cid}/overview", &["get"]),
    ("/api/v1/console/campaigns/{cid}/live", &["get"]),
    ("/api/v1/console/campaigns/{cid}/timeseries", &["get"]),
    ("/api/v1/console/campaigns/{cid}/breakdown", &["get"]),
    ("/api/v1/console/campaigns/{cid}", &["put"]),
    ("/api/v1/console/campaigns/{cid}/questions", &["get", "post"]),
    ("/api/v1/console/campaigns/{cid}/relay", &["get"]),
    ("/api/v1/console/campaigns/{cid}/exports/{file}", &["get"]),
    ("/api/v1/console/campaigns/{cid}/flags", &["get"]),
    ("/api/v1/console/campaigns/{cid}/participants/{pid}/hide", &["post"]),
    ("/api/v1/console/campaigns/{cid}/participants/{pid}/unhide", &["post"]),
];

const ORGANIZER: &str = "openapi-admin";
const ORGANIZER_PASSWORD: &str = "a-long-enough-password";

/// An admin account and its token.
async fn organizer_token(app: &TestApp) -> String {
    baton_console::create_organizer(
        &app.services.db,
        ORGANIZER,
        baton_console::Role::Admin,
        None,
        None,
        ORGANIZER_PASSWORD,
    )
    .await
    .expect("creates the account");
    let r =
        app.post("/api/v1/console/login", &json!({"username": ORGANIZER, "password": ORGANIZER_PASSWORD}), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["token"].as_str().unwrap().to_owned()
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{:?}", r.headers);
    r.json()
}

/// `(path, method) -> operation` for every operation of the document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for (method, op) in item.as_object().expect("a path item is an object") {
            if METHODS.contains(&method.as_str()) {
                ops.insert((path.clone(), method.clone()), op.clone());
            }
        }
    }
    ops
}

/// The `{placeholders}` of a path template.
fn placeholders(path: &str) -> BTreeSet<String> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).map(str::to_owned).collect()
}

/// Follows a local `$ref` (`#/components/schemas/X`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("not a local reference: {reference}"));
    doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} does not resolve"))
}

/// Every `$ref` anywhere under `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_json() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()), "{}", doc["info"]);
    assert!(doc["info"]["version"].as_str().is_some_and(|t| !t.is_empty()), "{}", doc["info"]);
    // It is the document the code generates for these roles, not a copy kept on the side.
    let generated = serde_json::to_value(baton::app::openapi(&baton::roles::Roles::all())).unwrap();
    assert_eq!(doc, generated);
    // And every reference in it resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        resolve(&doc, r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_exactly_this_versions_routes() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&doc).into_keys().collect();
    let expected: BTreeSet<(String, String)> =
        EXPECTED.iter().flat_map(|(p, ms)| ms.iter().map(|m| (p.to_string(), m.to_string()))).collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not documented: {missing:?}\nnot expected (update EXPECTED and API.md): {extra:?}"
    );

    // Path parameters are documented exactly as the template names them, and required.
    for ((path, method), op) in operations(&doc) {
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let in_path: BTreeSet<String> =
            params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(in_path, placeholders(&path), "{method} {path}");
        for p in params.iter().filter(|p| p["in"] == "path") {
            assert_eq!(p["required"], true, "{method} {path}: {p}");
        }
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} documents no response");
    }
}

/// What a test sends to one documented operation.
struct Call {
    path: String,
    body: Option<Value>,
    token: bool,
}

/// A concrete request for a documented operation: real ids substituted, a valid body.
fn call_for(template: &str, method: &str, aid: &str, code: &str, question: &Value, choice: &[usize]) -> Call {
    let mut path = template.to_owned();
    // The participant every_documented_operation_is_served joins with.
    let demo = baton_core::ids::CampaignId::parse("demo").unwrap();
    let pid = baton_core::ids::ParticipantId::for_device(&demo, "dev-openapi-0001");
    for name in placeholders(template) {
        let value = match name.as_str() {
            "cid" => "demo",
            "aid" => aid,
            "board" => "score",
            "code" => code,
            "file" => "participants.csv",
            "pid" => pid.as_str(),
            "screen" => "quiz",
            other => panic!("{method} {template}: the test does not know a value for {{{other}}}; teach call_for"),
        };
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let body = match (method, template) {
        ("post", "/api/v1/campaigns/{cid}/participants") => {
            Some(json!({"device_id": "dev-openapi-0002", "region_id": "hetang-yuetang", "nickname": "文档"}))
        }
        ("post", "/api/v1/attempts/{aid}/answers") => Some(json!({"question_id": question["id"], "choice": choice})),
        ("post", "/api/v1/shares") => Some(json!({"channel": "qr"})),
        ("post", "/api/v1/console/login") => Some(json!({"username": ORGANIZER, "password": ORGANIZER_PASSWORD})),
        ("put", "/api/v1/console/campaigns/{cid}") => Some(serde_json::to_value(baton::demo::doc()).unwrap()),
        ("post", "/api/v1/console/campaigns/{cid}/questions") => Some(json!([{
            "id": "openapi-1", "kind": "judge", "category": "law", "difficulty": 1,
            "stem": "接口文档测试：吸食毒品是违法行为。", "options": ["正确", "错误"], "answer": [0],
            "explanation": "禁毒法规定吸毒是违法行为。", "source": "《中华人民共和国禁毒法》"
        }])),
        ("post", _) => Some(json!({})),
        _ => None,
    };
    Call { path, body, token: true }
}

/// The query an operation needs to be valid.
fn required_query(template: &str) -> &'static str {
    if template.ends_with("/timeseries") {
        "?metric=joins"
    } else if template.ends_with("/breakdown") {
        "?by=region"
    } else {
        ""
    }
}

async fn send(app: &TestApp, method: &str, call: &Call, who: &Joined) -> Resp {
    let auth = format!("Bearer {}", who.token);
    let mut h = vec![("Content-Type", "application/json")];
    if call.token {
        h.push(("Authorization", auth.as_str()));
    }
    let body = call.body.as_ref().map(Value::to_string).unwrap_or_default();
    app.raw(&method.to_ascii_uppercase(), &call.path, &h, body.as_bytes()).await
}

/// Every documented operation exists on the live app: called with real ids and a valid body it
/// answers one of its documented statuses, never `404 route_not_found`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let who = app.join("dev-openapi-0001", "文档").await;
    let attempt = app.start(&who).await;
    let aid = attempt["attempt_id"].as_str().unwrap().to_owned();
    let question = attempt["questions"][0].clone();
    let choice = app.right_choice(&question);
    let code = app.get("/api/v1/me", Some(&who.token)).await.json()["relay_code"].as_str().unwrap().to_owned();
    let organizer = Joined { id: ORGANIZER.into(), token: organizer_token(&app).await };

    let mut ops: Vec<((String, String), Value)> = operations(&doc).into_iter().collect();
    // Finishing closes the attempt the other calls use: last.
    ops.sort_by_key(|((path, _), _)| path.ends_with("/finish"));
    for ((path, method), op) in ops {
        let mut call = call_for(&path, &method, &aid, &code, &question, &choice);
        if path == "/api/v1/wechat/jssdk-config" {
            call.path.push_str("?url=https%3A%2F%2Fbaton.test%2Fc%2Fdemo");
        }
        call.path.push_str(required_query(&path));
        // Console calls carry an organizer's token, the others a participant's.
        let caller = if path.starts_with("/api/v1/console/") { &organizer } else { &who };
        if path.ends_with("/live") {
            // An event stream does not end: its status and first event are enough.
            let mut feed = app.sse(&call.path, &caller.token, None).await;
            assert_eq!(feed.status, 200, "{method} {}", call.path);
            assert!(op["responses"].get("200").is_some());
            assert_eq!(feed.next().await.map(|e| e.event), Some("overview".to_owned()));
            continue;
        }
        let r = send(&app, &method, &call, caller).await;
        let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert!(
            !(r.status == 404 && r.json().get("code").is_some_and(|c| c == "route_not_found")),
            "{method} {path} is documented but not routed ({})",
            call.path
        );
        assert!(
            documented.iter().any(|s| **s == r.status.to_string()),
            "{method} {} answered {}, not one of the documented {documented:?}: {}",
            call.path,
            r.status,
            r.text()
        );
        // Valid input succeeds (a short link redirects); WeChat is not configured in this app.
        let unconfigured =
            path.starts_with("/api/v1/wechat/") && r.status == 404 && r.json()["code"] == "wechat_not_configured";
        assert!(r.status < 400 || unconfigured, "{method} {} with valid input: {} {}", call.path, r.status, r.text());
    }
    // The calls really happened: the answer was recorded and the attempt finished.
    let a = app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await.json();
    assert_eq!(a["status"], "finished", "{a}");
    assert!(!a["questions"][0]["answer"].is_null(), "{a}");
}

/// Every documented error response carries the `ProblemDoc` schema, and that schema is the
/// RFC 9457 shape with `code`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_errors_are_problem_documents() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let schema = &doc["components"]["schemas"]["ProblemDoc"];
    assert_eq!(schema["type"], "object", "{schema}");
    let required: BTreeSet<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for field in ["type", "title", "status", "detail", "code"] {
        assert!(schema["properties"][field].is_object(), "ProblemDoc.{field}: {schema}");
        assert!(required.contains(field), "ProblemDoc.{field} is required: {schema}");
    }
    let mut errors = 0;
    for ((path, method), op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap_or_else(|_| panic!("{method} {path}: status {status:?}"));
            if code < 400 {
                continue;
            }
            errors += 1;
            let content =
                response["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {status}: no content"));
            assert!(!content.is_empty(), "{method} {path} {status}: no content");
            for (media, c) in content {
                assert_eq!(
                    c["schema"]["$ref"], "#/components/schemas/ProblemDoc",
                    "{method} {path} {status} ({media}) is not a ProblemDoc"
                );
            }
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}");
        }
    }
    assert!(errors >= 10, "only {errors} documented error responses");
}

/// The media type of documented problem documents is the one the service sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problem_documents_are_documented_as_problem_json() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let served = app.get("/api/v1/campaigns/nope", None).await;
    let media = served.header("content-type").unwrap().to_owned();
    assert_eq!(media, baton_http::problem::CONTENT_TYPE);
    let mut wrong = Vec::new();
    for ((path, method), op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.parse::<u16>().is_ok_and(|s| s >= 400)
                && let Some(content) = response["content"].as_object()
            {
                let types: Vec<&String> = content.keys().collect();
                if types != [&media] {
                    wrong.push(format!("{method} {path} {status}: {types:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "documented with another media type than {media}:\n{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_participant_security_scheme_is_declared() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["participant"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"].as_str().map(str::to_ascii_lowercase).as_deref(), Some("bearer"), "{scheme}");
    let schemes: BTreeSet<&String> = doc["components"]["securitySchemes"].as_object().unwrap().keys().collect();
    let ops = operations(&doc);
    for ((path, method), op) in &ops {
        for requirement in op["security"].as_array().into_iter().flatten() {
            for name in requirement.as_object().unwrap().keys() {
                assert!(schemes.contains(name), "{method} {path} uses undeclared scheme {name}");
            }
        }
    }
    let secured = |path: &str, method: &str| {
        ops[&(path.to_owned(), method.to_owned())]["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("participant").is_some()))
    };
    for (path, method) in [
        ("/api/v1/me", "get"),
        ("/api/v1/attempts", "post"),
        ("/api/v1/attempts/{aid}", "get"),
        ("/api/v1/attempts/{aid}/answers", "post"),
        ("/api/v1/attempts/{aid}/finish", "post"),
    ] {
        assert!(secured(path, method), "{method} {path} does not declare the participant scheme");
    }
    for (path, method) in
        [("/api/v1/campaigns/{cid}", "get"), ("/api/v1/campaigns/{cid}/participants", "post"), ("/healthz", "get")]
    {
        assert!(!secured(path, method), "{method} {path} is public");
    }
}

/// What the live app does agrees with the document: an operation that answers `401` without a
/// token declares the participant scheme and documents `401`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_that_need_a_token_document_401() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let doc = document(&app).await;
    let who = app.join("dev-openapi-0003", "无证").await;
    let attempt = app.start(&who).await;
    let aid = attempt["attempt_id"].as_str().unwrap().to_owned();
    let question = attempt["questions"][0].clone();
    let choice = app.right_choice(&question);
    let mut undocumented = Vec::new();
    let mut needing = 0;
    for ((path, method), op) in operations(&doc) {
        if path == "/api/v1/console/login" {
            continue; // takes credentials, not a token (its 401 is invalid_credentials)
        }
        let mut call = call_for(&path, &method, &aid, "0000000000", &question, &choice);
        call.token = false;
        let r = send(&app, &method, &call, &who).await;
        if r.status != 401 {
            continue;
        }
        needing += 1;
        r.problem(401, "unauthorized");
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("participant").is_some() || r.get("organizer").is_some()));
        let has_401 = op["responses"].get("401").is_some();
        if !secured || !has_401 {
            undocumented.push(format!("{method} {path}: security declared {secured}, 401 documented {has_401}"));
        }
    }
    assert_eq!(
        needing, 21,
        "me, start, get attempt, answer, finish, my relay, my poster, shares, console/me, the seven console figures and exports, putting a campaign, importing questions, flags, hiding and unhiding need a token"
    );
    assert!(undocumented.is_empty(), "{}", undocumented.join("\n"));
}
