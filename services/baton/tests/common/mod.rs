//! Helpers the binary's integration tests share: running `baton` with a clean environment,
//! child processes that are killed when dropped, `baton serve` started on a free port and
//! waited for, and a few lines of HTTP/1.1 over `TcpStream`.

// Each test file uses some of these.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary, run in `dir` with no `BATON_*` variable inherited from the test's environment.
pub fn baton(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.current_dir(dir).env("RUST_LOG", "warn");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BATON_") {
            c.env_remove(k);
        }
    }
    c
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing assertion leaves
/// none behind.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `GET path` to 127.0.0.1:port; the status, or None if nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// An HTTP response: status and body (de-chunked).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request to 127.0.0.1:port (`Connection: close`), with an optional bearer token and
/// JSON body. An error when the connection fails or the answer is not HTTP.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Reply> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse(&buf)
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {:?}", String::from_utf8_lossy(&buf))))
}

fn parse(buf: &[u8]) -> Option<Reply> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let mut body = buf[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Reply { status, body })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(eol + 2..eol + 2 + size)?);
        b = b.get(eol + 2 + size + 2..)?;
    }
}

/// `baton serve` on a free port, ready.
pub struct Served {
    pub server: Server,
    pub port: u16,
    /// Where its standard error goes.
    pub log: PathBuf,
}

impl Served {
    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts `baton serve --listen 127.0.0.1:<free port> ARGS…` in `dir` and waits (bounded, 60 s)
/// until `/readyz` answers 200. Standard error goes to a file in `dir` (a pipe nobody reads
/// would fill up and stall the server). Another port is tried when the chosen one was taken
/// meanwhile; any other early exit is a panic showing the log.
pub fn serve(dir: &Path, args: &[&str]) -> Served {
    serve_with_env(dir, args, &[])
}

/// [`serve`] with environment variables set (e.g. `RUST_LOG`).
pub fn serve_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut failures = Vec::new();
    for attempt in 0..5 {
        let port = baton_testkit::free_port();
        let log = dir.join(format!("serve-{port}-{attempt}.log"));
        let child = baton(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file for baton serve"))
            .spawn()
            .expect("baton serve starts");
        let mut served = Served { server: Server(child), port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = served.server.0.try_wait().unwrap() {
                let err = served.log();
                if err.contains("cannot listen") {
                    failures.push(format!("port {port}: {err}"));
                    break;
                }
                panic!("baton serve {args:?} exited with {status}: {err}");
            }
            if http_get(port, "/readyz").is_some_and(|(s, _)| s == 200) {
                return served;
            }
            assert!(Instant::now() < deadline, "baton serve {args:?} was not ready within 60 s: {}", served.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("could not find a free port for baton serve: {failures:?}");
}

/// Joins the demo campaign at a township of 荷塘区; returns the join answer (201 or 200).
#[track_caller]
pub fn join(port: u16, device: &str, nickname: &str) -> Value {
    let body = serde_json::json!({"device_id": device, "region_id": "hetang-yuetang", "nickname": nickname});
    let r = request(port, "POST", "/api/v1/campaigns/demo/participants", None, Some(&body)).expect("join answers");
    assert!(r.status == 201 || r.status == 200, "join: {} {}", r.status, r.text());
    r.json()
}

/// Starts (or resumes) an attempt; returns the attempt.
#[track_caller]
pub fn start_attempt(port: u16, token: &str) -> Value {
    let r = request(port, "POST", "/api/v1/attempts", Some(token), None).expect("start answers");
    assert!(r.status == 201 || r.status == 200, "start: {} {}", r.status, r.text());
    r.json()
}

/// `POST /api/v1/attempts/{aid}/answers` with `choice`.
pub fn answer(port: u16, token: &str, attempt: &str, question: &str, choice: &[usize]) -> std::io::Result<Reply> {
    let body = serde_json::json!({"question_id": question, "choice": choice});
    request(port, "POST", &format!("/api/v1/attempts/{attempt}/answers"), Some(token), Some(&body))
}

/// Finishes an attempt; returns the result.
#[track_caller]
pub fn finish(port: u16, token: &str, attempt: &str) -> Value {
    let r = request(port, "POST", &format!("/api/v1/attempts/{attempt}/finish"), Some(token), None)
        .expect("finish answers");
    assert_eq!(r.status, 200, "finish: {}", r.text());
    r.json()
}

/// The string at `v[key]`.
#[track_caller]
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} is a string in {v}"))
}
