//! Operating `baton serve` as a process: SIGTERM drains requests in flight and exits 0,
//! `--metrics-listen` moves `/metrics` off the API's port, and `--log-format json` writes one
//! JSON object a line, a request's lines carrying its id, and no personal data anywhere.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("baton.db").display())
}

fn sigterm(served: &Served) {
    let pid = served.server.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(status.success(), "kill -TERM {pid}");
}

/// Waits (bounded) for the process to exit.
fn exit_status(served: &mut Served, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = served.server.0.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "baton serve did not exit within {within:?}: {}", served.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a whole `Connection: close` response; its status and body.
fn read_response(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("reads the response");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a response: {text}"));
    (status, text)
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let mut served = serve(dir.path(), &["--demo", "--database-url", &url]);
    let port = served.port;
    // A join whose body is still on its way when SIGTERM arrives.
    let body =
        json!({"device_id": "device-sigterm-0001", "region_id": "hetang-yuetang", "nickname": "晚到的"}).to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /api/v1/campaigns/demo/participants HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(first).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&served);
    std::thread::sleep(Duration::from_millis(500));
    assert!(served.server.0.try_wait().unwrap().is_none(), "it waits for the request in flight");
    assert!(http_get(port, "/healthz").is_none(), "no new connections are taken while draining");
    s.write_all(rest).unwrap();
    let (status, text) = read_response(&mut s);
    assert_eq!(status, 201, "{text}");
    let exit = exit_status(&mut served, Duration::from_secs(30));
    assert!(exit.success(), "{exit}: {}", served.log());
}

#[test]
fn metrics_listen_serves_metrics_apart_from_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let metrics_port = baton_testkit::free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut served = serve(dir.path(), &["--demo", "--database-url", &url, "--metrics-listen", &metrics_addr]);
    let joined = join(served.port, "device-metrics-apart-0001", "分开");
    assert!(joined["token"].is_string());
    let (status, body) = http_get(metrics_port, "/metrics").expect("the metrics port answers");
    assert_eq!(status, 200);
    assert!(body.contains("baton_build_info{"), "{body}");
    assert!(body.contains(r#"route="/api/v1/campaigns/{cid}/participants""#), "{body}");
    assert!(body.contains(r#"baton_hot_store_seconds_count{op="join"}"#), "{body}");
    let (status, _) = http_get(served.port, "/metrics").unwrap();
    assert_eq!(status, 404, "not on the API's port");
    let (_, doc) = http_get(served.port, "/api/v1/openapi.json").unwrap();
    assert!(!doc.contains("\"/metrics\""), "nor in its OpenAPI document");
    sigterm(&served);
    assert!(exit_status(&mut served, Duration::from_secs(30)).success(), "{}", served.log());
}

/// A request with headers of our own; status and body.
fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut s)
}

#[test]
fn json_logs_carry_request_ids_and_no_personal_data() {
    const PASSWORD: &str = "ops-password-do-not-log";
    const DEVICE: &str = "device-pii-3f2b6c1e-8a1d";
    const PHONE: &str = "13912345678";
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let out = baton(dir.path())
        .args(["organizer", "add", "ops-admin", "--role", "admin", "--database-url", &url])
        .env("BATON_ORGANIZER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut served = serve_with_env(
        dir.path(),
        &["--demo", "--database-url", &url, "--log-format", "json"],
        &[("RUST_LOG", "info")],
    );
    let port = served.port;

    // A whole journey: join, play, finish, share, relay, a relay link, the console, an export.
    let joined = join(port, DEVICE, &format!("小明{PHONE}"));
    let token = s(&joined, "token").to_owned();
    let code = s(&joined, "relay_code").to_owned();
    let attempt = start_attempt(port, &token);
    let aid = s(&attempt, "attempt_id").to_owned();
    for q in attempt["questions"].as_array().unwrap() {
        let r = answer(port, &token, &aid, s(q, "id"), &[0]).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    finish(port, &token, &aid);
    let r = request(port, "POST", "/api/v1/shares", Some(&token), Some(&json!({"channel": "link"}))).unwrap();
    assert!(r.status < 300, "{}", r.text());
    assert_eq!(request(port, "GET", "/api/v1/me/relay", Some(&token), None).unwrap().status, 200);
    assert_eq!(request(port, "GET", &format!("/r/{code}"), None, None).unwrap().status, 302);
    let login = json!({"username": "ops-admin", "password": PASSWORD});
    let r = request(port, "POST", "/api/v1/console/login", None, Some(&login)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let admin = r.json()["token"].as_str().unwrap().to_owned();
    let bad = json!({"username": "ops-admin", "password": "wrong-password-do-not-log"});
    assert_eq!(request(port, "POST", "/api/v1/console/login", None, Some(&bad)).unwrap().status, 401);
    let r = request(port, "GET", "/api/v1/console/campaigns/demo/exports/participants.csv", Some(&admin), None);
    assert_eq!(r.unwrap().status, 200);
    assert_eq!(request(port, "GET", "/api/v1/me", Some("forged.token.value"), None).unwrap().status, 401);
    let (status, head) = send(port, "GET", "/api/v1/campaigns/demo", &[("X-Request-Id", "ops-trace-42")], "");
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("x-request-id: ops-trace-42"), "{head}");

    sigterm(&served);
    assert!(exit_status(&mut served, Duration::from_secs(30)).success(), "{}", served.log());
    // The export finishes in a task of its own; SIGTERM drained it.
    let log = served.log();

    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let request_id = |l: &Value| -> Option<String> {
        l["spans"].as_array()?.iter().find_map(|s| s["request_id"].as_str().map(str::to_owned))
    };
    let answered: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "answered").collect();
    assert!(answered.len() >= 20, "one line per request: {log}");
    for l in &answered {
        assert!(request_id(l).is_some_and(|id| !id.is_empty()), "no request id: {l}");
        assert!(l["fields"]["http.route"].as_str().is_some_and(|r| r.starts_with('/') || r == "unmatched"), "{l}");
    }
    // Lines logged by handlers inside a request carry its id as well.
    for message in ["organizer logged in", "console login failed", "export finished"] {
        let l = lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in {log}"));
        assert!(request_id(l).is_some(), "{message}: {l}");
    }
    assert!(
        answered.iter().any(|l| request_id(l).as_deref() == Some("ops-trace-42")),
        "the ingress's request id is kept"
    );
    // Every line a request wrote has the same id as that request's "answered" line.
    let ids: std::collections::HashSet<String> = answered.iter().filter_map(|l| request_id(l)).collect();
    for l in lines.iter().filter(|l| l["spans"].as_array().is_some_and(|s| !s.is_empty())) {
        if let Some(id) = request_id(l) {
            assert!(ids.contains(&id), "a request id with no request: {l}");
        }
    }
    // No personal data: tokens, the phone number in the nickname, the nickname, the device id,
    // passwords, the relay code.
    for secret in [
        token.as_str(),
        admin.as_str(),
        PHONE,
        "小明",
        DEVICE,
        PASSWORD,
        "wrong-password-do-not-log",
        "forged.token.value",
        code.as_str(),
        "Bearer",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}
