//! The archiver on Redis: every shard's event stream, read as the consumer group
//! [`GROUP`], into SQL.
//!
//! One round: claim entries another consumer left pending for longer than
//! [`ArchiverConfig::claim_idle`] (`XAUTOCLAIM`: a consumer that died mid-batch leaves its
//! entries pending, and they are finished here), read new entries (`XREADGROUP … >`), apply all
//! of them to SQL in one transaction (idempotent by event id, so an entry delivered twice is
//! applied once), and only then acknowledge them (`XACK`). An entry that cannot be parsed, or
//! that keeps failing after [`ArchiverConfig::max_deliveries`] deliveries, is copied to the
//! shard's dead-letter stream with the reason and acknowledged: visible in the metric
//! `archiver_events_total{outcome="dead_lettered"}` and the log, never silently dropped.
//!
//! On a Redis Cluster every shard's stream sits in its own slot: reads go stream by stream
//! without `BLOCK` (a blocked read would hold up the node's multiplexed connection), and a round
//! that found nothing waits [`ArchiverConfig::poll`] instead.
//!
//! A round that drained the streams (read less than a full batch) is followed by a pause of
//! [`ArchiverConfig::linger`] before the next, so that the events arriving meanwhile are committed
//! together: a transaction's fixed cost (the table lock, the tallies' and anti-cheat groups'
//! upserts) is then shared by a few hundred events at a steady evening load instead of a handful,
//! for a fraction of a second more lag.
//!
//! Streams are trimmed only below what is committed: `XTRIM MINID` at the oldest entry still
//! pending, or at the last delivered one when nothing is pending — never by length.

use crate::metrics::ArchiverMetrics;
use baton_core::events::Event;
use baton_core::ids::CampaignId;
use baton_db::Db;
use baton_hot::conn::{Batch, Conn, RedisTarget, Timeouts};
use baton_hot::keys::Keys;
use redis::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The consumer group every archiver joins.
pub const GROUP: &str = "archiver";

/// How an archiver behaves.
#[derive(Debug, Clone)]
pub struct ArchiverConfig {
    /// This consumer's name (unique per process: host and pid).
    pub consumer: String,
    /// Most entries per stream per read. Reads come up short while the archiver keeps up, so
    /// this bounds the batches of a backlog (a flash crowd, a restart): 2,000 entries a read
    /// cost PostgreSQL a fifth less CPU an event than 500 (a transaction's fixed statements,
    /// its commit and the console's tallies shared by more events; `docs/PERFORMANCE.md`,
    /// section 6), each batch still committed within about a second.
    pub batch: usize,
    /// How long a read waits for new entries.
    pub block: Duration,
    /// Entries pending longer than this with another consumer are taken over.
    pub claim_idle: Duration,
    /// Deliveries after which a failing entry goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// How often streams are trimmed and the backlog measured.
    pub trim_every: Duration,
    /// On a cluster, how long a round that found nothing waits before the next.
    pub poll: Duration,
    /// How long a round that drained the streams waits before the next (see the module docs).
    pub linger: Duration,
}

impl ArchiverConfig {
    pub fn new(consumer: impl Into<String>) -> Self {
        Self {
            consumer: consumer.into(),
            batch: 2000,
            block: Duration::from_millis(1000),
            claim_idle: Duration::from_secs(30),
            max_deliveries: 5,
            trim_every: Duration::from_secs(5),
            poll: Duration::from_millis(100),
            linger: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiverError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub read: usize,
    pub applied: usize,
    pub duplicates: usize,
    pub dead_lettered: usize,
    /// Entries left pending because SQL refused them (they are retried).
    pub failed: usize,
}

/// Campaign ids the archiver reads the streams of.
pub type CampaignList = Arc<dyn Fn() -> Vec<CampaignId> + Send + Sync>;

/// One entry of a stream.
struct Entry {
    stream: String,
    id: String,
    raw: Option<String>,
}

pub struct Archiver {
    target: RedisTarget,
    conn: Conn,
    reader: Conn,
    keys: Keys,
    db: Db,
    metrics: ArchiverMetrics,
    config: ArchiverConfig,
    campaigns: CampaignList,
    groups: HashSet<String>,
    last_trim: Option<Instant>,
    /// Set after a reconnect: the next read takes this consumer's own pending entries first
    /// (those read before the connection broke), without waiting for them to go idle.
    own_pending_first: bool,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn items(v: Value) -> Result<Vec<Value>, ArchiverError> {
    match v {
        Value::Array(a) | Value::Set(a) => Ok(a),
        Value::Nil => Ok(Vec::new()),
        other => Err(ArchiverError::Reply(format!("expected an array, got {other:?}"))),
    }
}

fn pairs(v: Value) -> Result<HashMap<String, Value>, ArchiverError> {
    if let Value::Map(m) = v {
        return Ok(m.into_iter().filter_map(|(k, v)| Some((text(&k)?, v))).collect());
    }
    let a = items(v)?;
    let mut out = HashMap::new();
    let mut it = a.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if let Some(k) = text(&k) {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// The millisecond part of a stream entry id (`<ms>-<seq>`).
fn entry_ms(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

/// An `XREADGROUP` reply as `(stream, entries)` pairs.
fn stream_replies(v: Value) -> Result<Vec<(String, Value)>, ArchiverError> {
    Ok(match v {
        Value::Map(m) => m.into_iter().filter_map(|(k, v)| Some((text(&k)?, v))).collect(),
        other => items(other)?
            .into_iter()
            .filter_map(|sv| {
                let mut p = items(sv).ok()?.into_iter();
                Some((text(&p.next()?)?, p.next()?))
            })
            .collect(),
    })
}

/// `[[id, [field, value, …]], …]` as entries of `stream`.
fn entries(stream: &str, v: Value) -> Result<Vec<Entry>, ArchiverError> {
    let mut out = Vec::new();
    for e in items(v)? {
        let mut parts = items(e)?.into_iter();
        let id = parts
            .next()
            .as_ref()
            .and_then(text)
            .ok_or_else(|| ArchiverError::Reply("stream entry without an id".into()))?;
        // A claimed entry that was deleted meanwhile comes back without fields.
        let raw = match parts.next() {
            Some(fields) => pairs(fields)?.get("e").and_then(text),
            None => None,
        };
        out.push(Entry { stream: stream.to_owned(), id, raw });
    }
    Ok(out)
}

impl Archiver {
    /// Connects to Redis for one archiver consumer.
    pub async fn connect(
        target: &RedisTarget,
        keys: Keys,
        db: Db,
        metrics: ArchiverMetrics,
        config: ArchiverConfig,
        campaigns: CampaignList,
    ) -> Result<Self, ArchiverError> {
        let (conn, reader) = Self::connections(target, &config).await?;
        Ok(Self {
            target: target.clone(),
            conn,
            reader,
            keys,
            db,
            metrics,
            config,
            campaigns,
            groups: HashSet::new(),
            last_trim: None,
            own_pending_first: false,
        })
    }

    /// A connection for commands and one for blocking reads, with room for the block.
    async fn connections(target: &RedisTarget, config: &ArchiverConfig) -> Result<(Conn, Conn), ArchiverError> {
        let timeouts = |response: Duration| Timeouts {
            connect: Duration::from_secs(2),
            response,
            overall: response + Duration::from_secs(10),
        };
        let conn = Conn::connect(target, timeouts(Duration::from_secs(10))).await?;
        let reader = if conn.is_cluster() {
            conn.clone()
        } else {
            Conn::connect(target, timeouts(config.block + Duration::from_secs(10))).await?
        };
        Ok((conn, reader))
    }

    /// Opens fresh connections (after Redis restarted or the network failed). Consumer groups
    /// are checked again, since a Redis that lost its data lost them too.
    pub async fn reconnect(&mut self) -> Result<(), ArchiverError> {
        let (conn, reader) = Self::connections(&self.target, &self.config).await?;
        (self.conn, self.reader) = (conn, reader);
        self.groups.clear();
        self.own_pending_first = true;
        Ok(())
    }

    fn streams(&self) -> Vec<String> {
        (self.campaigns)()
            .iter()
            .flat_map(|c| (0..self.keys.shards()).map(move |s| (c.clone(), s)))
            .map(|(c, s)| self.keys.events(&c, s))
            .collect()
    }

    async fn ensure_group(&mut self, stream: &str) -> Result<(), ArchiverError> {
        if self.groups.contains(stream) {
            return Ok(());
        }
        let r: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn)
            .await;
        match r {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e.into()),
        }
        self.groups.insert(stream.to_owned());
        Ok(())
    }

    /// One round: claim, read, apply, acknowledge; trim now and then.
    pub async fn run_once(&mut self) -> Result<Round, ArchiverError> {
        let streams = self.streams();
        if streams.is_empty() {
            tokio::time::sleep(self.config.block).await;
            return Ok(Round::default());
        }
        for s in &streams {
            self.ensure_group(s).await?;
        }
        let mut batch = Vec::new();
        for s in &streams {
            let v: Value = redis::cmd("XAUTOCLAIM")
                .arg(s)
                .arg(GROUP)
                .arg(&self.config.consumer)
                .arg(self.config.claim_idle.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(self.config.batch)
                .query_async(&mut self.conn)
                .await?;
            let mut parts = items(v)?.into_iter();
            if let Some(claimed) = parts.nth(1) {
                batch.extend(entries(s, claimed)?);
            }
        }
        let claimed = batch.len();
        let own = std::mem::take(&mut self.own_pending_first);
        let read = |streams: &[String], block: bool| {
            let mut read = redis::cmd("XREADGROUP");
            read.arg("GROUP").arg(GROUP).arg(&self.config.consumer).arg("COUNT").arg(self.config.batch);
            if block {
                read.arg("BLOCK").arg(self.config.block.as_millis() as u64);
            }
            read.arg("STREAMS").arg(streams);
            for _ in streams {
                // `0`: this consumer's own pending entries; `>`: new ones.
                read.arg(if own { "0" } else { ">" });
            }
            read
        };
        if self.reader.is_cluster() {
            // One stream (one slot) a read, all at once.
            let reads = streams.iter().map(|s| {
                let cmd = read(std::slice::from_ref(s), false);
                let mut reader = self.reader.clone();
                async move { cmd.query_async::<Value>(&mut reader).await }
            });
            for v in futures_util::future::try_join_all(reads).await? {
                for (stream, v) in stream_replies(v)? {
                    batch.extend(entries(&stream, v)?);
                }
            }
        } else {
            let v: Value = read(&streams, claimed == 0 && !own).query_async(&mut self.reader).await?;
            for (stream, v) in stream_replies(v)? {
                batch.extend(entries(&stream, v)?);
            }
        }
        if batch.is_empty() && self.reader.is_cluster() {
            tokio::time::sleep(self.config.poll).await;
        }
        let mut round = Round { claimed, read: batch.len() - claimed, ..Round::default() };
        self.process(batch, &mut round).await?;
        if self.last_trim.is_none_or(|t| t.elapsed() >= self.config.trim_every) {
            self.trim(&streams).await?;
            self.last_trim = Some(Instant::now());
        }
        Ok(round)
    }

    async fn process(&mut self, batch: Vec<Entry>, round: &mut Round) -> Result<(), ArchiverError> {
        let mut good: Vec<(Entry, Event)> = Vec::with_capacity(batch.len());
        for entry in batch {
            match entry.raw.as_deref().map(Event::from_json) {
                Some(Ok(e)) => good.push((entry, e)),
                Some(Err(reason)) => {
                    self.dead_letter(&entry, &reason).await?;
                    round.dead_lettered += 1;
                }
                None => {
                    // Deleted before it was archived (only a manual XDEL can do that): nothing to keep.
                    self.ack(std::slice::from_ref(&entry)).await?;
                }
            }
        }
        if good.is_empty() {
            return Ok(());
        }
        let events: Vec<Event> = good.iter().map(|(_, e)| e.clone()).collect();
        let timer = self.metrics.commit_seconds.start_timer();
        let result = self.db.apply_events(&events).await;
        timer.observe_duration();
        match result {
            Ok(applied) => {
                self.metrics.batch_size.observe(events.len() as f64);
                round.applied += applied.new;
                round.duplicates += applied.duplicates;
                self.metrics.events.with_label_values(&["applied"]).inc_by(applied.new as u64);
                self.metrics.events.with_label_values(&["duplicate"]).inc_by(applied.duplicates as u64);
                let entries: Vec<Entry> = good.into_iter().map(|(e, _)| e).collect();
                self.ack(&entries).await?;
            }
            Err(batch_error) => {
                tracing::warn!(error = %batch_error, events = events.len(), "a batch of events failed; applying them one by one");
                // One bad event must not hold back the others: apply one by one.
                for (entry, event) in good {
                    match self.db.apply_events(std::slice::from_ref(&event)).await {
                        Ok(applied) => {
                            round.applied += applied.new;
                            round.duplicates += applied.duplicates;
                            self.metrics.events.with_label_values(&["applied"]).inc_by(applied.new as u64);
                            self.metrics.events.with_label_values(&["duplicate"]).inc_by(applied.duplicates as u64);
                            self.ack(std::slice::from_ref(&entry)).await?;
                        }
                        Err(e) if self.deliveries(&entry).await? >= self.config.max_deliveries => {
                            self.dead_letter(
                                &entry,
                                &format!("SQL refused it {} times: {e}", self.config.max_deliveries),
                            )
                            .await?;
                            round.dead_lettered += 1;
                        }
                        Err(e) => {
                            tracing::warn!(event.id = %event.id, error = %e, "event not archived yet; it will be retried");
                            round.failed += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn ack(&mut self, entries: &[Entry]) -> Result<(), ArchiverError> {
        let mut by_stream: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in entries {
            by_stream.entry(&e.stream).or_default().push(&e.id);
        }
        let mut p = Batch::new();
        for (stream, ids) in by_stream {
            p.on_ignored("XACK", stream).arg(GROUP).arg(ids);
        }
        p.run(&self.conn).await?;
        Ok(())
    }

    async fn deliveries(&mut self, entry: &Entry) -> Result<u64, ArchiverError> {
        let v: Value = redis::cmd("XPENDING")
            .arg(&entry.stream)
            .arg(GROUP)
            .arg("IDLE")
            .arg(0)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1)
            .query_async(&mut self.conn)
            .await?;
        let first = items(v)?.into_iter().next();
        Ok(first
            .map(items)
            .transpose()?
            .and_then(|p| p.get(3).and_then(text))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    async fn dead_letter(&mut self, entry: &Entry, reason: &str) -> Result<(), ArchiverError> {
        let dead = entry
            .stream
            .strip_suffix(":events")
            .map(|t| format!("{t}:dead"))
            .unwrap_or_else(|| format!("{}:dead", entry.stream));
        tracing::error!(stream = %entry.stream, entry.id = %entry.id, reason, "event moved to the dead-letter stream");
        // The dead-letter stream shares the shard's hash tag: one slot.
        let mut p = redis::pipe();
        p.cmd("XADD")
            .arg(&dead)
            .arg("*")
            .arg("stream")
            .arg(&entry.stream)
            .arg("id")
            .arg(&entry.id)
            .arg("reason")
            .arg(reason)
            .arg("e")
            .arg(entry.raw.as_deref().unwrap_or(""))
            .ignore();
        p.cmd("XACK").arg(&entry.stream).arg(GROUP).arg(&entry.id).ignore();
        p.query_async::<()>(&mut self.conn).await?;
        self.metrics.events.with_label_values(&["dead_lettered"]).inc();
        Ok(())
    }

    /// Trims every stream below what is committed and measures the backlog and the lag (the
    /// age of the oldest entry not committed yet, by Redis's clock: entry ids start with the
    /// millisecond they were added).
    async fn trim(&mut self, streams: &[String]) -> Result<(), ArchiverError> {
        let mut backlog = 0i64;
        let mut oldest: Option<u64> = None;
        for s in streams {
            let groups: Value = redis::cmd("XINFO").arg("GROUPS").arg(s).query_async(&mut self.conn).await?;
            let Some(g) = items(groups)?
                .into_iter()
                .map(pairs)
                .filter_map(Result::ok)
                .find(|g| g.get("name").and_then(text).as_deref() == Some(GROUP))
            else {
                continue;
            };
            let num = |k: &str| g.get(k).and_then(text).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let pending = num("pending");
            backlog += pending + num("lag");
            let min_id = if pending > 0 {
                let summary: Value = redis::cmd("XPENDING").arg(s).arg(GROUP).query_async(&mut self.conn).await?;
                items(summary)?.get(1).and_then(text)
            } else {
                g.get("last-delivered-id").and_then(text)
            };
            // The oldest entry not committed: the oldest pending one, or else the first one not
            // delivered yet.
            let unarchived = if pending > 0 {
                min_id.clone()
            } else if num("lag") > 0 {
                let after = g.get("last-delivered-id").and_then(text).unwrap_or_else(|| "0-0".into());
                let next: Value = redis::cmd("XRANGE")
                    .arg(s)
                    .arg(format!("({after}"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut self.conn)
                    .await?;
                items(next)?.into_iter().next().map(items).transpose()?.and_then(|e| e.first().and_then(text))
            } else {
                None
            };
            if let Some(ms) = unarchived.as_deref().and_then(entry_ms) {
                oldest = Some(oldest.map_or(ms, |o| o.min(ms)));
            }
            if let Some(min_id) = min_id.filter(|id| id != "0-0") {
                let _: i64 = redis::cmd("XTRIM").arg(s).arg("MINID").arg(&min_id).query_async(&mut self.conn).await?;
            }
        }
        self.metrics.backlog.set(backlog);
        let lag = match oldest {
            Some(ms) => {
                let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut self.conn).await?;
                (secs * 1000 + micros / 1000).saturating_sub(ms) as f64 / 1000.0
            }
            None => 0.0,
        };
        self.metrics.lag_seconds.set(lag);
        Ok(())
    }

    /// Runs rounds until `shutdown` resolves. A round in progress always runs to its end — its
    /// batch committed and acknowledged — before the archiver stops: `shutdown` is looked at
    /// only between rounds (a round waits at most [`ArchiverConfig::block`] for new entries).
    /// Errors are logged and retried after a pause.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    tracing::info!("archiver stopped between batches");
                    return;
                }
                _ = std::future::ready(()) => {}
            }
            match self.run_once().await {
                Ok(round) if round.read > 0 && round.read < self.config.batch && !self.config.linger.is_zero() => {
                    tokio::select! {
                        _ = &mut shutdown => {
                            tracing::info!("archiver stopped between batches");
                            return;
                        }
                        _ = tokio::time::sleep(self.config.linger) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "archiver round failed; reconnecting and retrying");
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    // Multiplexed connections do not come back by themselves after Redis
                    // restarts: open new ones (and keep trying while Redis is down).
                    if let Err(e) = self.reconnect().await {
                        tracing::warn!(error = %e, "the archiver cannot reach Redis yet");
                    }
                }
            }
        }
    }
}
