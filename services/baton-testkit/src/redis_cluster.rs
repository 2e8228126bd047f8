//! [`TestRedisCluster`]: a Redis Cluster of six `redis-server` processes (three masters, three
//! replicas) on loopback ports, with nothing kept on disk.
//!
//! Each node runs under a small shell watchdog that kills it when the test process is gone, so
//! even a cluster in a `static` (see [`TestRedisCluster::shared`]) never outlives its tests.
//! [`TestRedisCluster::start`] gives a test a cluster of its own (killed on drop) — the one to
//! use when the test kills nodes. Tests sharing [`TestRedisCluster::shared`] keep apart by key
//! prefix ([`unique_prefix`]).
//!
//! The cluster is made by `redis-cli --cluster create … --cluster-replicas 1`, with a node
//! timeout of one second so that a killed master's replica takes over within a few seconds.

use crate::redis::{Reply, Resp, Target};
use std::io;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Nodes in the cluster: three masters, each with one replica.
pub const NODES: usize = 6;
/// `cluster-node-timeout`, in milliseconds.
pub const NODE_TIMEOUT_MS: u64 = 1000;
/// How long the cluster may take to form (or to heal after a failover).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

/// A Redis Cluster for tests; see the [module docs](self).
pub struct TestRedisCluster {
    nodes: Vec<Node>,
}

struct Node {
    port: u16,
    /// The redis-server's own pid (the watchdog's child).
    pid: u32,
    watchdog: Child,
    dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        kill(self.pid);
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

fn kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).stderr(Stdio::null()).status();
}

/// A key prefix unique to one test, `t-<8 hex>:`.
pub fn unique_prefix() -> String {
    format!("t-{}:", crate::short_tag())
}

impl TestRedisCluster {
    /// Starts a cluster of its own for the caller (a few seconds). Panics with what to do when
    /// `redis-server` or `redis-cli` is missing or the cluster does not form.
    pub fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start() {
                Ok(c) => return c,
                Err(e) => failures.push(e),
            }
        }
        panic!("could not start a throwaway Redis Cluster after {START_ATTEMPTS} attempts:\n{}", failures.join("\n"))
    }

    /// One cluster for every test of this test binary that asks (started by the first).
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<TestRedisCluster> = OnceLock::new();
        SHARED.get_or_init(Self::start)
    }

    fn try_start() -> Result<Self, String> {
        let mut nodes = Vec::with_capacity(NODES);
        for _ in 0..NODES {
            nodes.push(start_node()?);
        }
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    "redis-cli is not on PATH: install it (`apt-get install redis-tools`)".to_owned()
                } else {
                    format!("cannot run redis-cli: {e}")
                }
            })?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let c = Self { nodes };
        c.wait_ready(None)?;
        Ok(c)
    }

    /// Seed nodes as `--redis-url` takes them with `--redis-cluster`: every node,
    /// comma-separated.
    pub fn url(&self) -> String {
        self.nodes.iter().map(|n| format!("redis://127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// The port of the master serving `key`'s slot now.
    pub fn master_of(&self, key: &str) -> u16 {
        let slot = key_slot(key);
        let nodes = self.cluster_nodes().unwrap_or_else(|e| panic!("cannot read CLUSTER NODES: {e}"));
        masters(&nodes)
            .into_iter()
            .find(|(_, ranges)| ranges.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .map(|(port, _)| port)
            .unwrap_or_else(|| panic!("no master serves slot {slot}:\n{nodes}"))
    }

    /// Kills (SIGKILL) the master serving `key`'s slot; returns its port. Its replica takes
    /// over after about [`NODE_TIMEOUT_MS`] plus an election.
    pub fn kill_master_of(&self, key: &str) -> u16 {
        let port = self.master_of(key);
        let node = self.nodes.iter().find(|n| n.port == port).expect("the master is one of ours");
        kill(node.pid);
        port
    }

    /// Waits until the cluster serves every slot again (after a failover), with `dead` left out
    /// of the checks. Returns how long that took.
    pub fn wait_healed(&self, dead: u16) -> Duration {
        let t = Instant::now();
        self.wait_ready(Some(dead)).unwrap_or_else(|e| panic!("the cluster did not heal: {e}"));
        t.elapsed()
    }

    fn live(&self, dead: Option<u16>) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(move |n| Some(n.port) != dead)
    }

    fn call_any(&self, args: &[&[u8]]) -> Result<Reply, String> {
        let mut last = String::new();
        for n in &self.nodes {
            match Resp::connect(&Target::local(n.port)).and_then(|mut c| c.call(args)) {
                Ok(r) => return Ok(r),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    fn cluster_nodes(&self) -> Result<String, String> {
        match self.call_any(&[b"CLUSTER", b"NODES"])? {
            Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
            other => Err(format!("unexpected CLUSTER NODES reply {other:?}")),
        }
    }

    /// Every live node says the cluster is ok with every slot served by a live master, and
    /// every replica's link to its master is up.
    fn wait_ready(&self, dead: Option<u16>) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match self.check(dead) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| {
                        let log = std::fs::read_to_string(n.dir.path().join("redis.log")).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(15).collect();
                        format!("--- node {} ---\n{}", n.port, tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
                    })
                    .collect();
                return Err(format!("not ready within {READY_TIMEOUT:?}: {last}\n{}", logs.join("\n")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn check(&self, dead: Option<u16>) -> Result<(), String> {
        for n in self.live(dead) {
            let info =
                text(&mut Resp::connect(&Target::local(n.port)).map_err(|e| e.to_string())?, &[b"CLUSTER", b"INFO"])?;
            if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_assigned:16384") {
                return Err(format!("node {} is not ok yet", n.port));
            }
            let repl = text(
                &mut Resp::connect(&Target::local(n.port)).map_err(|e| e.to_string())?,
                &[b"INFO", b"replication"],
            )?;
            if repl.contains("role:slave") && !repl.contains("master_link_status:up") {
                return Err(format!("replica {} is not in sync yet", n.port));
            }
        }
        let nodes = self.cluster_nodes()?;
        let served: u32 = masters(&nodes)
            .iter()
            .filter(|(port, _)| Some(*port) != dead)
            .flat_map(|(_, r)| r.iter().map(|&(a, b)| u32::from(b - a) + 1))
            .sum();
        if served != 16384 {
            return Err(format!("live masters serve {served} slots"));
        }
        Ok(())
    }
}

fn text(c: &mut Resp, args: &[&[u8]]) -> Result<String, String> {
    match c.call(args).map_err(|e| e.to_string())? {
        Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// Masters in a `CLUSTER NODES` reply that are not marked failed: port and slot ranges.
fn masters(nodes: &str) -> Vec<(u16, Vec<(u16, u16)>)> {
    nodes
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let flags = f.get(2)?;
            if !flags.split(',').any(|x| x == "master") || flags.contains("fail") {
                return None;
            }
            let port = f.get(1)?.split(['@', ',']).next()?.rsplit_once(':')?.1.parse().ok()?;
            let ranges = f
                .iter()
                .skip(8)
                .filter(|r| !r.starts_with('['))
                .filter_map(|r| match r.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => r.parse().ok().map(|s| (s, s)),
                })
                .collect();
            Some((port, ranges))
        })
        .collect()
}

/// The cluster slot of `key` (CRC16/XMODEM of its hash tag, mod 16384).
pub fn key_slot(key: &str) -> u16 {
    let b = key.as_bytes();
    let hashed = match b.iter().position(|&c| c == b'{') {
        Some(open) => match b[open + 1..].iter().position(|&c| c == b'}') {
            Some(len) if len > 0 => &b[open + 1..open + 1 + len],
            _ => b,
        },
        None => b,
    };
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % 16384
}

/// A port whose cluster bus port (+10000) is free too.
fn free_pair() -> u16 {
    loop {
        let p = crate::free_port();
        if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

fn start_node() -> Result<Node, String> {
    let dir = tempfile::Builder::new()
        .prefix("baton-test-cluster-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir for redis-server: {e}"))?;
    let port = free_pair();
    let pidfile = dir.path().join("server.pid");
    // The watchdog: starts the node, notes its pid, and kills it (and removes its dir) once the
    // test process or the node is gone.
    let script = r#"
        redis-server "$@" & r=$!
        echo $r > "$PIDFILE"
        while kill -0 "$OWNER" 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done
        kill -9 $r 2>/dev/null
        if ! kill -0 "$OWNER" 2>/dev/null; then rm -rf "$DIR"; fi
    "#;
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("redis-node")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
        .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
        .arg("--dir")
        .arg(dir.path())
        .arg("--logfile")
        .arg(dir.path().join("redis.log"))
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .env("OWNER", std::process::id().to_string())
        .env("PIDFILE", &pidfile)
        .env("DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run sh for redis-server: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pid = None;
    loop {
        if pid.is_none() {
            pid = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<u32>().ok());
        }
        if let Some(pid) = pid
            && let Ok(Reply::Simple(pong)) = Resp::connect(&Target::local(port)).and_then(|mut c| c.call(&[b"PING"]))
            && pong == "PONG"
        {
            return Ok(Node { port, pid, watchdog, dir });
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("redis.log")).unwrap_or_default();
            if let Some(pid) = pid {
                kill(pid);
            }
            return Err(format!(
                "redis-server (cluster node) on port {port} did not answer PING within 10 s \
                 (is redis-server installed? `apt-get install redis-server`); its log:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        // CRC16/XMODEM's check value.
        assert_eq!(key_slot("123456789"), 0x31c3);
        // The first `{…}` with something in it is the tag (the cluster specification's cases).
        assert_eq!(key_slot("foo{bar}{zap}"), key_slot("bar"));
        assert_eq!(key_slot("foo{{bar}}zap"), key_slot("{bar"));
        assert_ne!(key_slot("foo{}{bar}"), key_slot("bar"));
    }

    #[test]
    fn masters_and_their_slots() {
        let nodes = "\
a 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
b 127.0.0.1:30004@40004 slave a 0 1 4 connected
c 127.0.0.1:30002@40002 master - 0 1 2 connected 5461-10922 10923
d 127.0.0.1:30003@40003 master,fail - 0 1 3 disconnected 10924-16383
";
        assert_eq!(masters(nodes), vec![(30001, vec![(0, 5460)]), (30002, vec![(5461, 10922), (10923, 10923)])]);
    }
}
