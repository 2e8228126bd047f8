//! [`TestRedis`]: a Redis server that belongs to one test.
//!
//! By default each [`TestRedis`] is its own `redis-server` process (nothing kept on disk) on a
//! free loopback port, killed on drop. When `BATON_TEST_REDIS_URL` is set, tests share that
//! server instead and keep apart by [`TestRedis::key_prefix`]; on drop the keys containing the
//! prefix are deleted, and nothing else is touched.
//!
//! The readiness check and the clean-up speak RESP over a plain `TcpStream` (a few lines below),
//! so this crate needs no Redis client and cannot pull a second `redis` version into the tree.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh `redis-server` may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How many ports to try when another process takes the free port first.
const START_ATTEMPTS: usize = 5;

/// A Redis server for one test; see the [module docs](self).
pub struct TestRedis {
    url: String,
    target: Target,
    key_prefix: String,
    /// `None` when the server is the shared one named by `BATON_TEST_REDIS_URL`.
    server: Option<Server>,
}

/// A `redis-server` process we started, and its working directory. Killed and reaped on drop.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestRedis {
    /// Starts a throwaway server (or, with `BATON_TEST_REDIS_URL`, checks the shared one) and
    /// waits until it answers `PING`. Panics with what to do if that cannot happen.
    pub async fn start() -> Self {
        let key_prefix = format!("t-{}:", crate::short_tag());
        if let Some(url) = std::env::var("BATON_TEST_REDIS_URL").ok().filter(|u| !u.trim().is_empty()) {
            let target = Target::parse(&url)
                .unwrap_or_else(|e| panic!("BATON_TEST_REDIS_URL is not a usable redis:// URL: {e}"));
            let t = target.clone();
            let answer = tokio::task::spawn_blocking(move || ping(&t)).await.expect("PING task panicked");
            if let Err(e) = answer {
                panic!(
                    "the Redis server named by BATON_TEST_REDIS_URL ({}) does not answer PING: {e}\n\
                     Start it, or unset BATON_TEST_REDIS_URL to let each test start its own \
                     redis-server.",
                    target.redacted()
                );
            }
            return Self { url, target, key_prefix, server: None };
        }

        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match start_server().await {
                Ok((server, port)) => {
                    let url = format!("redis://127.0.0.1:{port}");
                    let target = Target::local(port);
                    return Self { url, target, key_prefix, server: Some(server) };
                }
                Err(StartError::Fatal(message)) => panic!("{message}"),
                Err(StartError::Retry(message)) => failures.push(message),
            }
        }
        panic!("could not start a throwaway redis-server after {START_ATTEMPTS} attempts:\n{}", failures.join("\n"))
    }

    /// `redis://127.0.0.1:PORT` (or the value of `BATON_TEST_REDIS_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.target.port
    }

    /// A prefix unique to this test, `t-<8 hex>:`. With a throwaway server the test owns the
    /// whole server anyway; with a shared one, everything the test writes must carry it.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Whether this is a throwaway server started by this value (as opposed to a shared one).
    pub fn is_private(&self) -> bool {
        self.server.is_some()
    }

    /// The throwaway server's working directory (its log is `redis.log` there).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.server.as_ref().map(|s| s.dir.path())
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if self.server.is_none() {
            // Shared server: delete what this test wrote, and only that.
            if let Err(e) = delete_prefixed(&self.target, &self.key_prefix) {
                eprintln!(
                    "warning: could not delete test keys *{}* from {}: {e}",
                    self.key_prefix,
                    self.target.redacted()
                );
            }
        }
    }
}

enum StartError {
    /// Nothing will get better by trying again (no `redis-server` binary).
    Fatal(String),
    /// Probably lost a race for the port.
    Retry(String),
}

async fn start_server() -> Result<(Server, u16), StartError> {
    let dir = tempfile::Builder::new()
        .prefix("baton-test-redis-")
        .tempdir()
        .map_err(|e| StartError::Fatal(format!("cannot create a temp dir for redis-server: {e}")))?;
    let port = crate::free_port();
    let log = dir.path().join("redis.log");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir.path())
        .arg("--logfile")
        .arg(&log)
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            StartError::Fatal(if e.kind() == io::ErrorKind::NotFound {
                "redis-server is not on PATH: install it (`apt-get install redis-server`) or set \
                 BATON_TEST_REDIS_URL to a Redis the tests may write prefixed keys to"
                    .to_owned()
            } else {
                format!("cannot run redis-server: {e}")
            })
        })?;
    let mut server = Server { child, dir };
    let target = Target::local(port);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(StartError::Retry(format!("redis-server on port {port} exited ({status}); its log:\n{log}")));
        }
        let t = target.clone();
        let answer = tokio::task::spawn_blocking(move || ping(&t))
            .await
            .map_err(|e| StartError::Fatal(format!("PING task failed: {e}")))?;
        if answer.is_ok() {
            return Ok((server, port));
        }
        if Instant::now() > deadline {
            return Err(StartError::Retry(format!(
                "redis-server on port {port} did not answer PING within {START_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where a Redis server is and how to log in: parsed from `redis://[user[:password]@]host[:port][/db]`.
#[derive(Clone)]
pub(crate) struct Target {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    db: Option<u32>,
}

impl Target {
    pub(crate) fn local(port: u16) -> Self {
        Self { host: "127.0.0.1".into(), port, user: None, password: None, db: None }
    }

    fn parse(url: &str) -> Result<Self, String> {
        let rest =
            url.strip_prefix("redis://").ok_or_else(|| format!("{:?} must start with redis://", redact_url(url)))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => ((!user.is_empty()).then(|| user.to_owned()), Some(pass.to_owned())),
                None => (Some(u.to_owned()), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']').ok_or("unclosed [ in host")?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("port {p:?} is not a number"))?,
            None => 6379,
        };
        let db = path.split('?').next().filter(|d| !d.is_empty());
        let db = match db {
            Some(d) => Some(d.parse().map_err(|_| format!("database {d:?} is not a number"))?),
            None => None,
        };
        let host = if host.is_empty() { "127.0.0.1".to_owned() } else { host };
        Ok(Self { host, port, user, password, db })
    }

    fn redacted(&self) -> String {
        let auth = match (&self.user, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (None, Some(_)) => ":***@".to_owned(),
            (Some(u), None) => format!("{u}@"),
            (None, None) => String::new(),
        };
        format!("redis://{auth}{}:{}", self.host, self.port)
    }
}

fn redact_url(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((_, host)) => format!("redis://***@{host}"),
        None => url.to_owned(),
    }
}

/// `PING` answered with `PONG`.
fn ping(target: &Target) -> io::Result<()> {
    let mut c = Resp::connect(target)?;
    match c.call(&[b"PING"])? {
        Reply::Simple(s) if s == "PONG" => Ok(()),
        other => Err(io::Error::other(format!("unexpected answer to PING: {other:?}"))),
    }
}

/// Deletes every key containing `prefix` (SCAN, then UNLINK in batches).
fn delete_prefixed(target: &Target, prefix: &str) -> io::Result<()> {
    let mut c = Resp::connect(target)?;
    let pattern = format!("*{prefix}*");
    let mut cursor = b"0".to_vec();
    loop {
        let reply = c.call(&[b"SCAN", &cursor, b"MATCH", pattern.as_bytes(), b"COUNT", b"1000"])?;
        let Reply::Array(Some(mut parts)) = reply else {
            return Err(io::Error::other(format!("unexpected answer to SCAN: {reply:?}")));
        };
        let keys = match parts.pop() {
            Some(Reply::Array(Some(keys))) => keys,
            other => return Err(io::Error::other(format!("unexpected SCAN keys: {other:?}"))),
        };
        cursor = match parts.pop() {
            Some(Reply::Bulk(Some(c))) => c,
            other => {
                return Err(io::Error::other(format!("unexpected SCAN cursor: {other:?}")));
            }
        };
        let mut args: Vec<Vec<u8>> = vec![b"UNLINK".to_vec()];
        args.extend(keys.into_iter().filter_map(|k| match k {
            Reply::Bulk(Some(k)) => Some(k),
            _ => None,
        }));
        if args.len() > 1 {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            c.call(&refs)?;
        }
        if cursor == b"0" {
            return Ok(());
        }
    }
}

/// One RESP2 reply.
#[derive(Debug)]
pub(crate) enum Reply {
    Simple(String),
    Error(String),
    /// An integer reply; nothing here needs its value.
    Int,
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// The smallest blocking RESP client that does what this module needs.
pub(crate) struct Resp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Resp {
    pub(crate) fn connect(target: &Target) -> io::Result<Self> {
        let addr = (target.host.as_str(), target.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other(format!("{} resolves to no address", target.host)))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut c = Self { reader: BufReader::new(stream.try_clone()?), writer: stream };
        if let Some(password) = &target.password {
            let reply = match &target.user {
                Some(user) => c.call(&[b"AUTH", user.as_bytes(), password.as_bytes()])?,
                None => c.call(&[b"AUTH", password.as_bytes()])?,
            };
            if let Reply::Error(e) = reply {
                return Err(io::Error::other(format!("AUTH refused: {e}")));
            }
        }
        if let Some(db) = target.db
            && let Reply::Error(e) = c.call(&[b"SELECT", db.to_string().as_bytes()])?
        {
            return Err(io::Error::other(format!("SELECT {db} refused: {e}")));
        }
        Ok(c)
    }

    pub(crate) fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out)?;
        self.read_reply()
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.read_line()?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let number = || rest.parse::<i64>().map_err(|_| io::Error::other(format!("bad RESP length in {line:?}")));
        Ok(match kind {
            "+" => Reply::Simple(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => {
                number()?;
                Reply::Int
            }
            "$" => match usize::try_from(number()?) {
                Err(_) => Reply::Bulk(None),
                Ok(n) => {
                    let mut buf = vec![0; n + 2];
                    self.reader.read_exact(&mut buf)?;
                    buf.truncate(n);
                    Reply::Bulk(Some(buf))
                }
            },
            "*" => match usize::try_from(number()?) {
                Err(_) => Reply::Array(None),
                Ok(n) => Reply::Array(Some((0..n).map(|_| self.read_reply()).collect::<io::Result<_>>()?)),
            },
            _ => return Err(io::Error::other(format!("not a RESP reply: {line:?}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let t = Target::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("127.0.0.1", 7000, None));
        let t = Target::parse("redis://:pw@cache:6380/2").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("cache", 6380, Some(2)));
        assert_eq!((t.user, t.password.as_deref()), (None, Some("pw")));
        assert_eq!(Target::parse("redis://h").unwrap().port, 6379);
        assert!(Target::parse("http://h").is_err());
        assert!(!Target::parse("redis://u:secret@h").unwrap().redacted().contains("secret"));
    }

    #[tokio::test]
    async fn clean_up_deletes_only_prefixed_keys() {
        let redis = TestRedis::start().await;
        let prefix = redis.key_prefix().to_owned();
        let mut c = Resp::connect(&redis.target).unwrap();
        let mine: Vec<String> = (0..2500).map(|i| format!("{{{prefix}p}}:k{i}")).collect();
        let theirs = format!("t-other:{}", crate::short_tag());
        for k in mine.iter().chain([&theirs]) {
            c.call(&[b"SET", k.as_bytes(), b"v"]).unwrap();
        }
        delete_prefixed(&redis.target, &prefix).unwrap();
        let exists = |c: &mut Resp, k: &str| match c.call(&[b"GET", k.as_bytes()]).unwrap() {
            Reply::Bulk(v) => v.is_some(),
            other => panic!("{other:?}"),
        };
        assert!(mine.iter().all(|k| !exists(&mut c, k)));
        assert!(exists(&mut c, &theirs));
        c.call(&[b"DEL", theirs.as_bytes()]).unwrap();
    }
}
