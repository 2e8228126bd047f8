//! One Redis connection for a single server or a Redis Cluster.
//!
//! [`RedisTarget`] says which: a single `redis://` URL, or a cluster reached through seed nodes
//! (`--redis-cluster`, the URL then a comma-separated list of nodes). [`Conn`] is cheap to
//! clone and multiplexed either way: on a single server a [`ConnectionManager`]; on a cluster the
//! async cluster client, which keeps one multiplexed connection per node, follows `MOVED` and
//! `ASK`, and after a failover retries a request on the new master (joins, starts, answers and
//! finishes are idempotent, see `lua/participant.lua`).
//!
//! A cluster runs a pipeline only when all its commands hash to one slot. [`Batch`] is the
//! pipeline Baton builds instead: one pipeline on a single server; on a cluster one pipeline per
//! slot, sent concurrently, their replies put back in the order the commands were added.

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo, Slot};
use ::redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::collections::HashMap;
use std::time::Duration;

/// Where Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server (`redis://host:port/db`).
    Single(String),
    /// A Redis Cluster, by some of its nodes (any will do; the client learns the rest).
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// `url` as one server, or with `cluster` as a comma-separated list of seed nodes.
    pub fn new(url: &str, cluster: bool) -> Self {
        if cluster {
            Self::Cluster(url.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        } else {
            Self::Single(url.trim().to_owned())
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// How long to wait for Redis before a request answers `503`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// For one reply.
    pub response: Duration,
    /// For a whole request on a cluster, retries through a failover included.
    pub overall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(2), response: Duration::from_secs(3), overall: Duration::from_secs(10) }
    }
}

/// A multiplexed connection to a single server or a cluster; see the [module docs](self).
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Conn::Single",
            Self::Cluster(_) => "Conn::Cluster",
        })
    }
}

impl Conn {
    /// Connects. A single server's connection reconnects by itself after a failure; a
    /// cluster's follows the cluster's topology (slots moving, replicas promoted).
    pub async fn connect(target: &RedisTarget, t: Timeouts) -> RedisResult<Self> {
        match target {
            RedisTarget::Single(url) => {
                let client = ::redis::Client::open(url.as_str())?;
                // Fail fast when Redis is down: a request answers 503 within a few seconds
                // instead of waiting through many reconnect attempts, and /readyz stays inside
                // probe timeouts.
                let config = ::redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_connection_timeout(Some(t.connect))
                    .set_response_timeout(Some(t.response));
                Ok(Self::Single(client.get_connection_manager_with_config(config).await?))
            }
            RedisTarget::Cluster(nodes) => {
                if nodes.is_empty() {
                    return Err(RedisError::from((
                        ::redis::ErrorKind::InvalidClientConfig,
                        "no Redis Cluster nodes given (--redis-url takes a comma-separated list with --redis-cluster)",
                    )));
                }
                // A failover takes the cluster's node timeout plus an election (seconds): retry
                // quickly at first, then every second, within the overall timeout.
                let client = ::redis::cluster::ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    .connection_timeout(t.connect)
                    .response_timeout(t.response)
                    .overall_response_timeout(Some(t.overall))
                    .retries(12)
                    .min_retry_wait(50)
                    .max_retry_wait(1000)
                    .retry_wait_formula(50, 2)
                    .build()?;
                Ok(Self::Cluster(client.get_async_connection().await?))
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// The primaries' addresses (`host`, `port`): the one server, or every master of the cluster.
    pub async fn masters(&self) -> RedisResult<Vec<(String, u16)>> {
        match self {
            Self::Single(_) => Ok(Vec::new()),
            Self::Cluster(c) => {
                let nodes: String = ::redis::cmd("CLUSTER").arg("NODES").query_async(&mut c.clone()).await?;
                Ok(cluster_masters(&nodes))
            }
        }
    }

    /// Runs `cmd` on the node at `host:port` (a cluster's); on a single server, on it.
    pub async fn on_node(&self, cmd: &Cmd, host: &str, port: u16) -> RedisResult<Value> {
        match self {
            Self::Single(c) => cmd.query_async(&mut c.clone()).await,
            Self::Cluster(c) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.to_owned(), port });
                c.clone().route_command(cmd.clone(), route).await
            }
        }
    }
}

/// The masters (`host`, `port`) in a `CLUSTER NODES` reply, failed ones left out.
pub fn cluster_masters(nodes: &str) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = nodes
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_id, addr, flags) = (f.next()?, f.next()?, f.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|x| x.starts_with("fail") || *x == "handshake") {
                return None;
            }
            // `ip:port@cport[,hostname]`
            let hostport = addr.split(['@', ',']).next()?;
            let (host, port) = hostport.rsplit_once(':')?;
            Some((host.trim_matches(['[', ']']).to_owned(), port.parse().ok()?))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Commands to send together; see the [module docs](self).
#[derive(Default)]
pub struct Batch {
    items: Vec<Item>,
}

struct Item {
    slot: Slot,
    cmd: Cmd,
    keep: bool,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the command `name` on `key` (its first argument); its reply is kept. Further
    /// arguments go on the command returned.
    pub fn on(&mut self, name: &str, key: &str) -> &mut Cmd {
        self.push(name, key, true)
    }

    /// Adds the command `name` on `key` like [`Batch::on`], its reply dropped.
    pub fn on_ignored(&mut self, name: &str, key: &str) -> &mut Cmd {
        self.push(name, key, false)
    }

    fn push(&mut self, name: &str, key: &str, keep: bool) -> &mut Cmd {
        let mut cmd = ::redis::cmd(name);
        cmd.arg(key);
        self.items.push(Item { slot: Slot::for_key(key), cmd, keep });
        &mut self.items.last_mut().expect("just pushed").cmd
    }

    /// Adds `cmd`, which touches `key` (and only keys of its slot); its reply is kept.
    pub fn add(&mut self, key: &str, cmd: Cmd) -> &mut Self {
        self.items.push(Item { slot: Slot::for_key(key), cmd, keep: true });
        self
    }

    /// Adds `cmd` like [`Batch::add`], its reply dropped.
    pub fn add_ignored(&mut self, key: &str, cmd: Cmd) -> &mut Self {
        self.items.push(Item { slot: Slot::for_key(key), cmd, keep: false });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends the commands; the replies of those kept, in the order they were added. An error
    /// reply to any command is the batch's error.
    pub async fn run(&self, conn: &Conn) -> RedisResult<Vec<Value>> {
        if self.items.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            Conn::Single(c) => {
                let mut p = ::redis::pipe();
                for it in &self.items {
                    p.add_command(it.cmd.clone());
                    if !it.keep {
                        p.ignore();
                    }
                }
                p.query_async(&mut c.clone()).await
            }
            Conn::Cluster(c) => {
                let mut by_slot: HashMap<Slot, Vec<usize>> = HashMap::new();
                for (i, it) in self.items.iter().enumerate() {
                    by_slot.entry(it.slot).or_default().push(i);
                }
                let runs = by_slot.into_values().map(|idx| {
                    let mut p = ::redis::pipe();
                    for &i in &idx {
                        p.add_command(self.items[i].cmd.clone());
                    }
                    let mut c = c.clone();
                    async move {
                        let replies: Vec<Value> = p.query_async(&mut c).await?;
                        Ok::<_, RedisError>(idx.into_iter().zip(replies).collect::<Vec<_>>())
                    }
                });
                let mut replies: Vec<Option<Value>> = vec![None; self.items.len()];
                for part in futures_util::future::try_join_all(runs).await? {
                    for (i, v) in part {
                        replies[i] = Some(v);
                    }
                }
                Ok(self
                    .items
                    .iter()
                    .zip(replies)
                    .filter(|(it, _)| it.keep)
                    .map(|(_, v)| v.unwrap_or(Value::Nil))
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_nodes_are_split_and_trimmed() {
        assert_eq!(
            RedisTarget::new("redis://a:1, redis://b:2,", true),
            RedisTarget::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        assert_eq!(RedisTarget::new(" redis://a:1/0 ", false), RedisTarget::Single("redis://a:1/0".into()));
    }

    #[test]
    fn masters_come_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1 2 connected 5461-10922
292f 127.0.0.1:30003@40003,host.example master - 0 1 3 connected 10923-16383
824f 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
dead 127.0.0.1:30007@40007 master,fail - 0 0 7 disconnected
";
        assert_eq!(
            cluster_masters(nodes),
            vec![("127.0.0.1".into(), 30001), ("127.0.0.1".into(), 30002), ("127.0.0.1".into(), 30003)]
        );
    }
}
