//! The Redis hot store: the production path.
//!
//! Each participant write is one call of `lua/participant.lua` (EVALSHA, one round trip, one
//! hash slot). A finish then puts the participant's best on its leaderboards with one pipeline
//! of `ZADD GT` + `ZREVRANK` + `ZCARD` — commutative and idempotent, so a retried finish or a
//! replayed event cannot inflate anything. Answers never touch a leaderboard.
//!
//! Multiplexed [`Conn`]s serve every request (each pipelines concurrent commands and reconnects
//! by itself; a pool would stop Redis from pipelining), on a single server or a Redis Cluster
//! alike: one shared by the process, and one of its own for each web server worker
//! ([`HotStore::for_worker`]). A connection's driver runs on the runtime that opened it, so one
//! opened on the worker's own runtime answers the worker's requests without handing each command
//! to another thread and its reply back. Every script touches the keys of one hash tag, and what spans slots (a finish's
//! boards, a page's nicknames, the shards' counters) goes through [`Batch`], one pipeline per slot.

use crate::conn::{Batch, Conn, RedisTarget, Timeouts};
use crate::keys::Keys;
use crate::*;
use ::redis::{Cmd, Value};
use baton_core::events::{Event, EventBody, ShareChannel};
use baton_core::relay::{CodeOwner, RelayCode};
use baton_core::scoring::GRACE_MS;

/// How long an attempt stays readable after it closed (for a late reload or a retried finish).
pub const ATTEMPT_RETENTION_MS: Millis = 24 * 3600 * 1000;

const SCRIPT: &str = include_str!("../lua/participant.lua");

/// The hot store on Redis.
#[derive(Clone)]
pub struct RedisStore {
    /// Opened at connect; every caller's until a worker's own is open.
    shared: Conn,
    /// A worker's own connection ([`HotStore::for_worker`]); `None` on the store everyone shares.
    own: Option<Arc<Own>>,
    target: RedisTarget,
    keys: Keys,
    script: ::redis::Script,
}

/// A worker's own connection: opened in the background on the worker's runtime at its first
/// request, the shared one serving until then (and while Redis cannot be reached).
#[derive(Default)]
struct Own {
    conn: std::sync::OnceLock<Conn>,
    /// When opening it was last tried (`None`: never); tried again at most once a second.
    tried: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How often a worker tries again to open its own connection after a failure.
const OWN_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// Connection trouble, and a cluster between topologies (a failover, slots moving), is
/// "unavailable" (the client may retry); anything else Redis says is a fault of ours.
fn unavailable(e: ::redis::RedisError) -> HotError {
    use ::redis::{ErrorKind, ServerErrorKind};
    let passing = matches!(e.kind(), ErrorKind::Server(ServerErrorKind::BusyLoading | ServerErrorKind::ReadOnly));
    if passing || cut_off(&e) || e.is_timeout() {
        HotError::Unavailable(e.to_string())
    } else {
        HotError::Corrupt(format!("Redis refused a command: {e}"))
    }
}

/// How often [`RedisStore::again`] sends a request again (after 0.2, 0.4, … 1.2 s: 4.2 s in
/// all, about a failover with a node timeout of 2 s; a longer one ends in `503`, which the
/// citizen app retries).
const CLUSTER_RETRIES: u64 = 6;

/// A request that did not get through because of the connection or the cluster's topology.
fn cut_off(e: &::redis::RedisError) -> bool {
    use ::redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(e.kind(), ErrorKind::Server(ServerErrorKind::MasterDown) | ErrorKind::ClusterConnectionNotFound)
}

fn corrupt(what: impl Into<String>) -> HotError {
    HotError::Corrupt(what.into())
}

/// A reply as text (bulk or simple strings, integers).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Double(d) => Some(format!("{d}")),
        _ => None,
    }
}

fn items(v: Value) -> HotResult<Vec<Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Ok(a),
        Value::Nil => Ok(Vec::new()),
        other => Err(corrupt(format!("expected an array, got {other:?}"))),
    }
}

/// A flat `HGETALL` reply as a map.
fn hash(v: Value) -> HotResult<HashMap<String, String>> {
    if let Value::Map(pairs) = v {
        return Ok(pairs.iter().filter_map(|(k, v)| Some((text(k)?, text(v)?))).collect());
    }
    let a = items(v)?;
    Ok(a.chunks(2).filter_map(|kv| Some((text(&kv[0])?, text(kv.get(1)?)?))).collect())
}

fn num<T: std::str::FromStr>(s: Option<&String>, what: &str) -> HotResult<T> {
    s.and_then(|s| s.parse().ok()).ok_or_else(|| corrupt(format!("missing or bad {what}")))
}

fn fields(rec: &str, n: usize, what: &str) -> HotResult<Vec<i64>> {
    let parts: Vec<i64> =
        rec.split(',').map(str::parse).collect::<Result<_, _>>().map_err(|_| corrupt(format!("bad {what} {rec:?}")))?;
    if parts.len() != n {
        return Err(corrupt(format!("bad {what} {rec:?}")));
    }
    Ok(parts)
}

/// An answer record: `choice_mask,correct,points,timed_out,elapsed_ms,attempt_score`.
fn judged(rec: &str) -> HotResult<Judged> {
    let f = fields(rec, 6, "answer record")?;
    Ok(Judged {
        choice_mask: f[0] as u32,
        correct: f[1] == 1,
        points: f[2] as u32,
        timed_out: f[3] == 1,
        elapsed_ms: f[4] as u64,
        attempt_score: f[5] as u64,
    })
}

/// A finish record: `score,correct_count,total_ms,reached_ms`.
fn finished(rec: &str) -> HotResult<Finished> {
    let f = fields(rec, 4, "finish record")?;
    Ok(Finished {
        totals: Totals { score: f[0] as u64, correct_count: f[1] as u32, total_ms: f[2] as u64 },
        reached_at: f[3],
    })
}

/// A best record: `score,total_ms,reached_ms`.
fn best(rec: &str) -> HotResult<LeaderResult> {
    let f = fields(rec, 3, "best record")?;
    Ok(LeaderResult { score: f[0] as u64, total_ms: f[1] as u64, reached_ms: f[2] })
}

fn participant_from(id: &ParticipantId, h: &HashMap<String, String>) -> HotResult<ParticipantState> {
    let get = |k: &str| h.get(k).ok_or_else(|| corrupt(format!("participant {id} has no {k}")));
    Ok(ParticipantState {
        id: id.clone(),
        region: PlaceId::parse(get("region")?).map_err(|e| corrupt(e.0))?,
        unit: match get("unit")?.as_str() {
            "" => None,
            u => Some(UnitId::parse(u).map_err(|e| corrupt(e.0))?),
        },
        nickname: get("nick")?.clone(),
        joined_at: num(h.get("joined"), "joined")?,
        best: h.get("best").map(|b| best(b)).transpose()?,
        attempts_day: num(h.get("day"), "day")?,
        attempts_on_day: num(h.get("dayn"), "dayn")?,
        open_attempt: h.get("open").map(|a| AttemptId::parse(a).map_err(|e| corrupt(e.0))).transpose()?,
        relay_code: RelayCode::parse(get("code")?)
            .ok_or_else(|| corrupt(format!("participant {id} has a bad relay code")))?,
        inviter: h.get("inviter").map(|i| ParticipantId::parse(i).map_err(|e| corrupt(e.0))).transpose()?,
        depth: num(h.get("depth"), "depth")?,
    })
}

fn attempt_from(id: &AttemptId, participant: &ParticipantId, h: &HashMap<String, String>) -> HotResult<AttemptState> {
    let questions: Vec<baton_core::draw::DrawnQuestion> =
        serde_json::from_str(h.get("q").ok_or_else(|| corrupt("attempt has no questions"))?)
            .map_err(|e| corrupt(e.to_string()))?;
    let answers = (0..questions.len())
        .map(|i| h.get(&format!("r{i}")).map(|r| judged(r)).transpose())
        .collect::<HotResult<_>>()?;
    Ok(AttemptState {
        id: id.clone(),
        participant: participant.clone(),
        started_at: num(h.get("started"), "started")?,
        expires_at: num(h.get("expires"), "expires")?,
        limit_ms: num(h.get("limit"), "limit")?,
        questions,
        answers,
        cursor: num(h.get("cursor"), "cursor")?,
        finished: h.get("fin").map(|f| finished(f)).transpose()?,
    })
}

/// The attempt's hash as field, value pairs.
fn attempt_fields(a: &AttemptState) -> Vec<String> {
    let mut f = vec![
        "started".into(),
        a.started_at.to_string(),
        "expires".into(),
        a.expires_at.to_string(),
        "limit".into(),
        a.limit_ms.to_string(),
        "n".into(),
        a.questions.len().to_string(),
        "cursor".into(),
        a.cursor.to_string(),
        "score".into(),
        a.answers.iter().flatten().map(|j| u64::from(j.points)).sum::<u64>().to_string(),
        "q".into(),
        serde_json::to_string(&a.questions).expect("drawn questions serialize"),
    ];
    for (i, q) in a.questions.iter().enumerate() {
        f.extend([
            format!("i:{}", q.id),
            i.to_string(),
            format!("m{i}"),
            q.correct_mask.to_string(),
            format!("pt{i}"),
            q.points.to_string(),
        ]);
    }
    // A rebuilt attempt carries its answers and result (a new one has none).
    for (i, j) in a.answers.iter().enumerate() {
        if let Some(j) = j {
            let rec = [
                u64::from(j.choice_mask),
                u64::from(j.correct),
                u64::from(j.points),
                u64::from(j.timed_out),
                j.elapsed_ms,
                j.attempt_score,
            ];
            f.extend([format!("r{i}"), rec.map(|x| x.to_string()).join(",")]);
        }
    }
    if let Some(fin) = &a.finished {
        let t = fin.totals;
        f.extend(["fin".into(), format!("{},{},{},{}", t.score, t.correct_count, t.total_ms, fin.reached_at)]);
    }
    f
}

/// A code registry entry: `campaign:participant:depth`.
fn code_owner(s: &str) -> HotResult<CodeOwner> {
    let mut parts = s.split(':');
    let (Some(c), Some(p), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(corrupt(format!("bad relay code entry {s:?}")));
    };
    Ok(CodeOwner {
        campaign: CampaignId::parse(c).map_err(|e| corrupt(e.0))?,
        participant: ParticipantId::parse(p).map_err(|e| corrupt(e.0))?,
        depth: d.parse().map_err(|_| corrupt(format!("bad depth in {s:?}")))?,
    })
}

/// A `ZREVRANGE … WITHSCORES` reply: members and their keys.
fn board_entries(range: &[Value]) -> HotResult<Vec<(ParticipantId, u64)>> {
    let mut entries = Vec::with_capacity(range.len() / 2);
    for pair in range.chunks(2) {
        let id = text(&pair[0]).ok_or_else(|| corrupt("leaderboard member is not text"))?;
        let id = ParticipantId::parse(&id).map_err(|e| corrupt(e.0))?;
        entries.push((id, score_of(pair.get(1).ok_or_else(|| corrupt("leaderboard member without score"))?)?));
    }
    Ok(entries)
}

fn score_of(v: &Value) -> HotResult<u64> {
    let s = text(v).ok_or_else(|| corrupt("leaderboard score is not text"))?;
    let f: f64 = s.parse().map_err(|_| corrupt(format!("bad leaderboard score {s:?}")))?;
    Ok(f as u64)
}

impl RedisStore {
    /// Connects to `url`. Every key starts with `prefix`; participants are spread over
    /// `shards` hash tags (1 on a single Redis).
    pub async fn connect(url: &str, prefix: &str, shards: u16) -> HotResult<Self> {
        Self::connect_to(&RedisTarget::Single(url.to_owned()), prefix, shards).await
    }

    /// Connects to a single server or a cluster (see [`RedisTarget`]).
    pub async fn connect_to(target: &RedisTarget, prefix: &str, shards: u16) -> HotResult<Self> {
        let conn = Conn::connect(target, Timeouts::default()).await.map_err(|e| {
            if e.kind() == ::redis::ErrorKind::InvalidClientConfig {
                HotError::Unavailable(format!("bad Redis URL: {e}"))
            } else {
                unavailable(e)
            }
        })?;
        Ok(Self {
            shared: conn,
            own: None,
            target: target.clone(),
            keys: Keys::new(prefix, shards),
            script: ::redis::Script::new(SCRIPT),
        })
    }

    pub fn is_cluster(&self) -> bool {
        self.shared.is_cluster()
    }

    /// The connection for this call: the worker's own once it is open, else the shared one
    /// (and, on a worker without its own yet, it starts opening it on the caller's runtime).
    fn conn(&self) -> Conn {
        let Some(own) = &self.own else { return self.shared.clone() };
        if let Some(c) = own.conn.get() {
            return c.clone();
        }
        let mut tried = own.tried.lock().unwrap_or_else(|p| p.into_inner());
        if tried.is_none_or(|t| t.elapsed() >= OWN_RETRY) {
            *tried = Some(std::time::Instant::now());
            let (own, target) = (own.clone(), self.target.clone());
            tokio::spawn(async move {
                match Conn::connect(&target, Timeouts::default()).await {
                    Ok(c) => {
                        let _ = own.conn.set(c);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "a worker's own Redis connection did not open; the shared one serves")
                    }
                }
            });
        }
        self.shared.clone()
    }

    /// A copy for one worker: the same keys, a connection of its own once its first call
    /// opened it (see [`HotStore::for_worker`]).
    pub fn worker(&self) -> Self {
        Self { own: Some(Arc::default()), ..self.clone() }
    }

    /// Whether this is a worker's copy whose own connection is open (tests).
    pub fn has_own_connection(&self) -> bool {
        self.own.as_ref().is_some_and(|o| o.conn.get().is_some())
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Every event still in a campaign's streams, shard by shard (tests and audits).
    pub async fn stream_events(&self, campaign: &CampaignId) -> HotResult<Vec<Event>> {
        let mut out = Vec::new();
        for shard in 0..self.keys.shards() {
            let v: Value = ::redis::cmd("XRANGE")
                .arg(self.keys.events(campaign, shard))
                .arg("-")
                .arg("+")
                .query_async(&mut self.conn())
                .await
                .map_err(unavailable)?;
            for entry in items(v)? {
                let mut parts = items(entry)?.into_iter();
                let fields = hash(parts.nth(1).ok_or_else(|| corrupt("stream entry without fields"))?)?;
                let e = fields.get("e").ok_or_else(|| corrupt("stream entry without an event"))?;
                out.push(Event::from_json(e).map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    async fn run(&self, keys: &[String], args: &[String]) -> HotResult<Vec<Value>> {
        let mut inv = self.script.prepare_invoke();
        for k in keys {
            inv.key(k);
        }
        for a in args {
            inv.arg(a);
        }
        let v: Value = self.again(|| async { inv.invoke_async(&mut self.conn()).await }).await?;
        items(v)
    }

    /// Runs `request`; on a cluster, one cut off by a failover (its connection dropped, the
    /// cluster between masters) is sent again a few times — a join, start, answer or finish
    /// delivered twice changes nothing; a share or a link click is a count, and one delivered
    /// twice counts twice, as it would when the app retried the request. Then the error is
    /// [`unavailable`].
    async fn again<T, F, Fut>(&self, request: F) -> HotResult<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
    {
        let mut tries: u64 = 0;
        loop {
            match request().await {
                Err(e) if self.shared.is_cluster() && tries < CLUSTER_RETRIES && cut_off(&e) => {
                    tries += 1;
                    tracing::debug!(error = %e, tries, "Redis Cluster request cut off; sending it again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                }
                r => return r.map_err(unavailable),
            }
        }
    }

    async fn batch(&self, b: &Batch) -> HotResult<Vec<Value>> {
        let conn = self.conn();
        self.again(|| b.run(&conn)).await
    }

    /// Runs `p`, then reads whether the participant is hidden — strictly after every command
    /// of `p` took effect. On a single server one pipeline keeps that order; a cluster runs each
    /// slot's pipeline concurrently, so there the mark is read in a second round trip.
    async fn then_hidden(
        &self,
        mut p: Batch,
        campaign: &CampaignId,
        participant: &ParticipantId,
    ) -> HotResult<(Vec<Value>, bool)> {
        let pk = self.keys.participant(campaign, participant);
        let hexists = with(cmd("HEXISTS"), &pk).arg("hidden").clone();
        let (v, hidden) = if self.shared.is_cluster() {
            let v = self.batch(&p).await?;
            let hidden: Value = self.again(|| async { hexists.query_async(&mut self.conn()).await }).await?;
            (v, hidden)
        } else {
            p.add(&pk, hexists);
            let mut v = self.batch(&p).await?;
            let hidden = v.pop().unwrap_or(Value::Nil);
            (v, hidden)
        };
        Ok((v, matches!(hidden, Value::Int(1))))
    }

    /// Takes a hidden participant's just-published `key` off `boards` again. Only an entry no
    /// higher than `key` goes (a higher one was published by an unhide meanwhile); if the
    /// participant was shown again meanwhile, what was taken off is put back.
    async fn take_off(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        key: u64,
        boards: &[Board],
    ) -> HotResult<()> {
        let mut p = Batch::new();
        for b in boards {
            let k = self.keys.board(campaign, b);
            let mut c = cmd("EVAL");
            c.arg(REMOVE_AT_MOST).arg(1).arg(&k).arg(participant.as_str()).arg(key);
            p.add_ignored(&k, c);
        }
        if self.then_hidden(p, campaign, participant).await?.1 {
            return Ok(());
        }
        let mut p = Batch::new();
        for b in boards {
            let k = self.keys.board(campaign, b);
            p.on("ZADD", &k).arg("GT").arg(key).arg(participant.as_str());
        }
        self.batch(&p).await.map(drop)
    }
}

fn cmd(name: &str) -> Cmd {
    ::redis::cmd(name)
}

/// `c` with `key` as its first argument.
fn with(mut c: Cmd, key: &str) -> Cmd {
    c.arg(key);
    c
}

/// Removes a board member (`ARGV[1]`) whose score is at most `ARGV[2]`: one key, one slot.
const REMOVE_AT_MOST: &str = "local s = redis.call('ZSCORE', KEYS[1], ARGV[1]) \
    if s and tonumber(s) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end return 0";

fn status(reply: &[Value]) -> HotResult<String> {
    reply.first().and_then(text).ok_or_else(|| corrupt("empty script reply"))
}

fn arg(reply: &[Value], i: usize) -> HotResult<String> {
    reply.get(i).and_then(text).ok_or_else(|| corrupt(format!("script reply lacks item {i}")))
}

/// The aggregate counters a participant counts towards, as `lua/participant.lua` takes them:
/// `p:<place>` for its place and each above it, then `u:<unit>`.
fn counted_towards(places: &[PlaceId], unit: Option<&UnitId>) -> Vec<String> {
    let mut aggs: Vec<String> = places.iter().map(|p| format!("p:{p}")).collect();
    aggs.extend(unit.map(|u| format!("u:{u}")));
    aggs
}

#[async_trait]
impl HotStore for RedisStore {
    async fn join(&self, cmd: JoinCmd) -> HotResult<JoinOutcome> {
        let aggs = counted_towards(&cmd.places, cmd.unit.as_ref());
        let keys = [
            self.keys.participant(&cmd.campaign, &cmd.participant),
            self.keys.aggregates_of(&cmd.campaign, &cmd.participant),
            self.keys.events_of(&cmd.campaign, &cmd.participant),
        ];
        let event = Event::new(
            cmd.campaign.clone(),
            cmd.now,
            EventBody::Joined {
                participant: cmd.participant.clone(),
                region: cmd.region.clone(),
                unit: cmd.unit.clone(),
                nickname: cmd.nickname.as_str().to_owned(),
                places: cmd.places.clone(),
                relay_code: Some(cmd.relay_code.clone()),
                inviter: cmd.inviter.as_ref().map(|o| o.participant.clone()),
                depth: cmd.inviter.as_ref().map_or(0, |o| o.depth + 1),
                client: cmd.client.clone(),
            },
        );
        let args = [
            "join".to_owned(),
            cmd.region.to_string(),
            cmd.unit.as_ref().map(ToString::to_string).unwrap_or_default(),
            cmd.nickname.as_str().to_owned(),
            cmd.now.to_string(),
            aggs.join(","),
            event.to_json(),
            cmd.relay_code.to_string(),
            cmd.inviter.as_ref().map(|o| o.participant.to_string()).unwrap_or_default(),
            cmd.inviter.as_ref().map_or(0, |o| o.depth + 1).to_string(),
        ];
        let mut reply = self.run(&keys, &args).await?;
        let st = status(&reply)?;
        let h = hash(reply.pop().ok_or_else(|| corrupt("join reply lacks the participant"))?)?;
        let p = participant_from(&cmd.participant, &h)?;
        match st.as_str() {
            "created" => Ok(JoinOutcome::Created(p)),
            "existing" => Ok(JoinOutcome::Existing(p)),
            other => Err(corrupt(format!("join answered {other:?}"))),
        }
    }

    async fn participant(&self, campaign: &CampaignId, id: &ParticipantId) -> HotResult<Option<ParticipantState>> {
        let get = with(cmd("HGETALL"), &self.keys.participant(campaign, id));
        let v: Value = self.again(|| async { get.query_async(&mut self.conn()).await }).await?;
        let h = hash(v)?;
        if h.is_empty() {
            return Ok(None);
        }
        participant_from(id, &h).map(Some)
    }

    async fn start_attempt(&self, cmd: StartCmd) -> HotResult<StartOutcome> {
        let a = &cmd.attempt;
        let keys = [
            self.keys.participant(&cmd.campaign, &cmd.participant),
            self.keys.attempt(&cmd.campaign, &cmd.participant, &a.id),
            self.keys.events_of(&cmd.campaign, &cmd.participant),
        ];
        let ttl = a.expires_at - a.started_at + ATTEMPT_RETENTION_MS;
        let event = Event::new(
            cmd.campaign.clone(),
            a.started_at,
            EventBody::AttemptStarted {
                participant: cmd.participant.clone(),
                attempt: a.id.clone(),
                expires_at: a.expires_at,
                limit_ms: a.limit_ms,
                day: cmd.day,
                questions: a.questions.clone(),
            },
        );
        let mut args = vec![
            "start".to_owned(),
            a.id.to_string(),
            a.started_at.to_string(),
            cmd.day.to_string(),
            cmd.per_day.to_string(),
            ttl.to_string(),
            event.to_json(),
        ];
        args.extend(attempt_fields(a));
        let mut reply = self.run(&keys, &args).await?;
        match status(&reply)?.as_str() {
            "started" => Ok(StartOutcome::Started(cmd.attempt)),
            "resumed" => {
                let id = AttemptId::parse(&arg(&reply, 1)?).map_err(|e| corrupt(e.0))?;
                let h = hash(reply.pop().ok_or_else(|| corrupt("resume reply lacks the attempt"))?)?;
                Ok(StartOutcome::Resumed(attempt_from(&id, &cmd.participant, &h)?))
            }
            "expired" => Ok(StartOutcome::OpenExpired(AttemptId::parse(&arg(&reply, 1)?).map_err(|e| corrupt(e.0))?)),
            "exhausted" => Ok(StartOutcome::Exhausted),
            "no_participant" => Ok(StartOutcome::NoParticipant),
            other => Err(corrupt(format!("start answered {other:?}"))),
        }
    }

    async fn attempt(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        id: &AttemptId,
    ) -> HotResult<Option<AttemptState>> {
        let get = with(cmd("HGETALL"), &self.keys.attempt(campaign, participant, id));
        let v: Value = self.again(|| async { get.query_async(&mut self.conn()).await }).await?;
        let h = hash(v)?;
        if h.is_empty() {
            return Ok(None);
        }
        attempt_from(id, participant, &h).map(Some)
    }

    async fn answer(&self, cmd: AnswerCmd) -> HotResult<AnswerOutcome> {
        let keys = [
            self.keys.attempt(&cmd.campaign, &cmd.participant, &cmd.attempt),
            self.keys.events_of(&cmd.campaign, &cmd.participant),
        ];
        let args = [
            "answer".to_owned(),
            cmd.question.to_string(),
            cmd.choice_mask.to_string(),
            cmd.now.to_string(),
            GRACE_MS.to_string(),
            cmd.campaign.to_string(),
            cmd.participant.to_string(),
            cmd.attempt.to_string(),
        ];
        let reply = self.run(&keys, &args).await?;
        let st = status(&reply)?;
        let answered = |reply: &[Value]| -> HotResult<Answered> {
            Ok(Answered {
                index: arg(reply, 1)?.parse().map_err(|_| corrupt("bad question index"))?,
                judged: judged(&arg(reply, 2)?)?,
                correct_mask: arg(reply, 3)?.parse().map_err(|_| corrupt("bad correct mask"))?,
            })
        };
        match st.as_str() {
            "judged" => answered(&reply).map(AnswerOutcome::Judged),
            "repeat" => answered(&reply).map(AnswerOutcome::Repeat),
            "conflict" => answered(&reply).map(AnswerOutcome::Conflict),
            "not_in_attempt" => Ok(AnswerOutcome::NotInAttempt),
            "not_found" => Ok(AnswerOutcome::AttemptNotFound),
            "finished" => Ok(AnswerOutcome::AttemptFinished),
            other => Err(corrupt(format!("answer answered {other:?}"))),
        }
    }

    async fn finish(&self, cmd: FinishCmd) -> HotResult<FinishOutcome> {
        let keys = [
            self.keys.attempt(&cmd.campaign, &cmd.participant, &cmd.attempt),
            self.keys.participant(&cmd.campaign, &cmd.participant),
            self.keys.aggregates_of(&cmd.campaign, &cmd.participant),
            self.keys.events_of(&cmd.campaign, &cmd.participant),
        ];
        let args = [
            "finish".to_owned(),
            cmd.attempt.to_string(),
            cmd.now.to_string(),
            ATTEMPT_RETENTION_MS.to_string(),
            cmd.campaign.to_string(),
            cmd.participant.to_string(),
        ];
        let reply = self.run(&keys, &args).await?;
        let st = status(&reply)?;
        match st.as_str() {
            "finished" | "repeat" => Ok(FinishOutcome::Finished {
                finished: finished(&arg(&reply, 1)?)?,
                best: best(&arg(&reply, 2)?)?,
                newly: st == "finished",
            }),
            "not_found" => Ok(FinishOutcome::AttemptNotFound),
            other => Err(corrupt(format!("finish answered {other:?}"))),
        }
    }

    async fn publish_best(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        key: u64,
        boards: &[Board],
    ) -> HotResult<Vec<Standing>> {
        let mut p = Batch::new();
        for b in boards {
            let k = self.keys.board(campaign, b);
            p.on_ignored("ZADD", &k).arg("GT").arg(key).arg(participant.as_str());
            p.on("ZREVRANK", &k).arg(participant.as_str());
            p.on("ZCARD", &k);
        }
        // Asked after the ZADDs: a hide that set the mark before this read is seen here, and
        // one that sets it later takes the entry off itself.
        let (v, hidden) = self.then_hidden(p, campaign, participant).await?;
        let standings = v
            .chunks(2)
            .map(|pair| match pair {
                [Value::Int(rank), Value::Int(total)] => Ok(Standing { rank: *rank as u64, total: *total as u64 }),
                other => Err(corrupt(format!("bad standing reply {other:?}"))),
            })
            .collect::<HotResult<Vec<_>>>()?;
        if hidden {
            self.take_off(campaign, participant, key, boards).await?;
        }
        Ok(standings)
    }

    async fn board_page(&self, campaign: &CampaignId, board: &Board, offset: u64, limit: u64) -> HotResult<BoardPage> {
        if limit == 0 {
            return Ok(BoardPage::default());
        }
        let k = self.keys.board(campaign, board);
        let mut p = Batch::new();
        p.on("ZREVRANGE", &k).arg(offset).arg(offset.saturating_add(limit - 1)).arg("WITHSCORES");
        p.on("ZCARD", &k);
        let mut v = self.batch(&p).await?.into_iter();
        let (Some(range), Some(Value::Int(total))) = (v.next(), v.next()) else {
            return Err(corrupt("bad leaderboard reply"));
        };
        Ok(BoardPage { entries: board_entries(&items(range)?)?, total: total as u64 })
    }

    async fn page_around(
        &self,
        campaign: &CampaignId,
        board: &Board,
        participant: &ParticipantId,
        limit: u64,
    ) -> HotResult<Option<(u64, BoardPage)>> {
        // One script on the board's one key: nothing lands between the rank and the range.
        static AROUND: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
            ::redis::Script::new(
                "local r = redis.call('ZREVRANK', KEYS[1], ARGV[1]) if not r then return false end \
                 local limit = tonumber(ARGV[2]) local start = math.max(r - math.floor(limit / 2), 0) \
                 local page = {} if limit > 0 then \
                 page = redis.call('ZREVRANGE', KEYS[1], start, start + limit - 1, 'WITHSCORES') end \
                 return {start, redis.call('ZCARD', KEYS[1]), page}",
            )
        });
        let reply: Value = AROUND
            .key(self.keys.board(campaign, board))
            .arg(participant.as_str())
            .arg(limit)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let reply = match reply {
            Value::Nil => return Ok(None),
            Value::Array(a) => a,
            other => return Err(corrupt(format!("bad page around reply {other:?}"))),
        };
        let [Value::Int(start), Value::Int(total), range] = reply.as_slice() else {
            return Err(corrupt(format!("bad page around reply {reply:?}")));
        };
        let entries = board_entries(&items(range.clone())?)?;
        Ok(Some((*start as u64, BoardPage { entries, total: *total as u64 })))
    }

    async fn nicknames(&self, campaign: &CampaignId, ids: &[ParticipantId]) -> HotResult<Vec<Option<String>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = Batch::new();
        for id in ids {
            let k = self.keys.participant(campaign, id);
            p.on("HGET", &k).arg("nick");
        }
        Ok(self.batch(&p).await?.iter().map(text).collect())
    }

    /// One `HMGET` of the four campaign-wide fields per shard: a city campaign's counters hash
    /// has some 12,500 fields, and reading them all for every page view cost 16 ms of CPU.
    async fn totals(&self, campaign: &CampaignId) -> HotResult<Aggregates> {
        const FIELDS: [&str; 4] = ["all:n", "all:r", "all:sh", "all:ck"];
        let mut p = Batch::new();
        for s in 0..self.keys.shards() {
            p.on("HMGET", &self.keys.aggregates(campaign, s)).arg(&FIELDS[..]);
        }
        let mut out = Aggregates::default();
        for v in self.batch(&p).await? {
            let values = items(v)?;
            let [n, r, sh, ck] = values.as_slice() else {
                return Err(corrupt(format!("bad HMGET reply {values:?}")));
            };
            let count = |v: &Value, field: &str| -> HotResult<u64> {
                text(v).map_or(Ok(0), |t| t.parse().map_err(|_| corrupt(format!("bad counter {field}={t}"))))
            };
            out.participants += count(n, FIELDS[0])?;
            out.relayed += count(r, FIELDS[1])?;
            out.shares += count(sh, FIELDS[2])?;
            out.clicks += count(ck, FIELDS[3])?;
        }
        Ok(out)
    }

    async fn aggregates(&self, campaign: &CampaignId) -> HotResult<Aggregates> {
        let mut p = Batch::new();
        for s in 0..self.keys.shards() {
            let k = self.keys.aggregates(campaign, s);
            p.on("HGETALL", &k);
        }
        let mut out = Aggregates::default();
        for v in self.batch(&p).await? {
            for (field, value) in hash(v)? {
                let n: u64 = value.parse().map_err(|_| corrupt(format!("bad counter {field}={value}")))?;
                match field.as_str() {
                    "all:n" => out.participants += n,
                    "all:r" => out.relayed += n,
                    "all:sh" => out.shares += n,
                    "all:ck" => out.clicks += n,
                    _ => {}
                }
                if field.starts_with("all:") {
                    continue;
                }
                let mut parts = field.splitn(3, ':');
                let (Some(kind), Some(id), Some(what)) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(corrupt(format!("bad counter field {field}")));
                };
                let agg = match kind {
                    "p" => out.places.entry(PlaceId::parse(id).map_err(|e| corrupt(e.0))?).or_default(),
                    "u" => out.units.entry(UnitId::parse(id).map_err(|e| corrupt(e.0))?).or_default(),
                    _ => return Err(corrupt(format!("bad counter field {field}"))),
                };
                match what {
                    "n" => agg.participants += n,
                    "r" => agg.relayed += n,
                    "bs" => agg.best_sum += n,
                    "bc" => agg.best_count += n,
                    _ => return Err(corrupt(format!("bad counter field {field}"))),
                }
            }
        }
        Ok(out)
    }

    fn for_worker(&self) -> Option<Arc<dyn HotStore>> {
        Some(Arc::new(self.worker()))
    }

    async fn ping(&self) -> HotResult<()> {
        let _: String = ::redis::cmd("PING").query_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn register_code(&self, code: &RelayCode, owner: &CodeOwner) -> HotResult<CodeOwner> {
        let value = format!("{}:{}:{}", owner.campaign, owner.participant, owner.depth);
        let key = self.keys.codes(code);
        let mut p = Batch::new();
        p.on_ignored("HSETNX", &key).arg(code.as_str()).arg(&value);
        p.on("HGET", &key).arg(code.as_str());
        let v = self.batch(&p).await?;
        let stored = v.first().and_then(text).ok_or_else(|| corrupt("relay code vanished"))?;
        code_owner(&stored)
    }

    async fn resolve_code(&self, code: &RelayCode) -> HotResult<Option<CodeOwner>> {
        let get = with(cmd("HGET"), &self.keys.codes(code)).arg(code.as_str()).clone();
        let v: Option<String> = self.again(|| async { get.query_async(&mut self.conn()).await }).await?;
        v.map(|s| code_owner(&s)).transpose()
    }

    async fn share(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        channel: ShareChannel,
        now: Millis,
    ) -> HotResult<Option<u64>> {
        let keys = [
            self.keys.participant(campaign, participant),
            self.keys.aggregates_of(campaign, participant),
            self.keys.events_of(campaign, participant),
        ];
        let args = [
            "share".to_owned(),
            now.to_string(),
            campaign.to_string(),
            participant.to_string(),
            channel.as_str().to_owned(),
        ];
        let reply = self.run(&keys, &args).await?;
        match status(&reply)?.as_str() {
            "done" => Ok(Some(arg(&reply, 1)?.parse().map_err(|_| corrupt("bad share count"))?)),
            _ => Ok(None),
        }
    }

    async fn click(&self, owner: &CodeOwner, now: Millis) -> HotResult<()> {
        let (c, p) = (&owner.campaign, &owner.participant);
        let keys = [self.keys.participant(c, p), self.keys.aggregates_of(c, p), self.keys.events_of(c, p)];
        let args = ["click".to_owned(), now.to_string(), c.to_string(), p.to_string()];
        self.run(&keys, &args).await.map(drop)
    }

    async fn shared_get(&self, name: &str) -> HotResult<Option<String>> {
        let get = with(cmd("GET"), &self.keys.shared(name));
        self.again(|| async { get.query_async(&mut self.conn()).await }).await
    }

    async fn shared_set(&self, name: &str, value: &str, ttl_ms: u64) -> HotResult<()> {
        ::redis::cmd("SET")
            .arg(self.keys.shared(name))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn shared_lease(&self, name: &str, holder: &str, ttl_ms: u64) -> HotResult<bool> {
        let r: Option<String> = ::redis::cmd("SET")
            .arg(self.keys.shared(name))
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(r.is_some())
    }

    async fn shared_release(&self, name: &str, holder: &str) -> HotResult<()> {
        let release = ::redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        );
        let _: i64 = release
            .key(self.keys.shared(name))
            .arg(holder)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn shared_incr(&self, name: &str, ttl_ms: u64) -> HotResult<u64> {
        // INCR and the expiry of a new counter in one step: a counter never outlives its TTL.
        static INCR: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
            ::redis::Script::new(
                "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
            )
        });
        INCR.key(self.keys.shared(name)).arg(ttl_ms.max(1)).invoke_async(&mut self.conn()).await.map_err(unavailable)
    }

    async fn clear_campaign(&self, campaign: &CampaignId) -> HotResult<()> {
        // A cluster's keys are spread over its masters: each is scanned on its own.
        let nodes: Vec<Option<(String, u16)>> = if self.shared.is_cluster() {
            self.shared.masters().await.map_err(unavailable)?.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        for node in &nodes {
            for pattern in self.keys.campaign_patterns(campaign) {
                let mut cursor: u64 = 0;
                loop {
                    let mut scan = cmd("SCAN");
                    scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
                    let reply = match node {
                        Some((host, port)) => self.shared.on_node(&scan, host, *port).await,
                        None => scan.query_async(&mut self.conn()).await,
                    }
                    .map_err(unavailable)?;
                    let (next, keys): (u64, Vec<String>) =
                        ::redis::from_redis_value(reply).map_err(|e| corrupt(format!("bad SCAN reply: {e}")))?;
                    // Streams may hold events not archived yet: they stay. One UNLINK a key: on a
                    // cluster the keys of one node still sit in many slots.
                    let mut unlink = Batch::new();
                    for k in keys.iter().filter(|k| !k.ends_with(":events") && !k.ends_with(":dead")) {
                        unlink.on_ignored("UNLINK", k);
                    }
                    self.batch(&unlink).await?;
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
        }
        Ok(())
    }

    async fn restore_participant(&self, campaign: &CampaignId, p: RestoredParticipant) -> HotResult<()> {
        let s = &p.state;
        let aggs = counted_towards(&p.places, s.unit.as_ref());
        let keys = [self.keys.participant(campaign, &s.id), self.keys.aggregates_of(campaign, &s.id)];
        let args = [
            "restore_participant".to_owned(),
            s.region.to_string(),
            s.unit.as_ref().map(ToString::to_string).unwrap_or_default(),
            s.nickname.clone(),
            s.joined_at.to_string(),
            aggs.join(","),
            s.attempts_day.to_string(),
            s.attempts_on_day.to_string(),
            s.open_attempt.as_ref().map(ToString::to_string).unwrap_or_default(),
            s.best.map(|b| format!("{},{},{}", b.score, b.total_ms, b.reached_ms)).unwrap_or_default(),
            s.relay_code.to_string(),
            s.inviter.as_ref().map(ToString::to_string).unwrap_or_default(),
            s.depth.to_string(),
        ];
        self.run(&keys, &args).await.map(drop)
    }

    async fn restore_attempt(&self, campaign: &CampaignId, a: AttemptState) -> HotResult<()> {
        let keys = [self.keys.attempt(campaign, &a.participant, &a.id)];
        let ttl = (a.expires_at - a.started_at).max(0) + ATTEMPT_RETENTION_MS;
        let mut args = vec!["restore_attempt".to_owned(), ttl.to_string()];
        args.extend(attempt_fields(&a));
        self.run(&keys, &args).await.map(drop)
    }

    async fn hide(&self, campaign: &CampaignId, participant: &ParticipantId, boards: &[Board]) -> HotResult<bool> {
        let reply = self.run(&[self.keys.participant(campaign, participant)], &["hide".to_owned()]).await?;
        match status(&reply)?.as_str() {
            "hidden" => {}
            "unknown" => return Ok(false),
            other => return Err(corrupt(format!("hide answered {other:?}"))),
        }
        // After the mark: a publish that missed the mark added before this, so this removes it.
        let mut p = Batch::new();
        for b in boards {
            let k = self.keys.board(campaign, b);
            p.on("ZREM", &k).arg(participant.as_str());
        }
        self.batch(&p).await?;
        Ok(true)
    }

    async fn unhide(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        boards: &[Board],
        layout: &baton_core::leader::LeaderLayout,
    ) -> HotResult<bool> {
        let reply = self.run(&[self.keys.participant(campaign, participant)], &["unhide".to_owned()]).await?;
        match status(&reply)?.as_str() {
            "shown" => {}
            "unknown" => return Ok(false),
            other => return Err(corrupt(format!("unhide answered {other:?}"))),
        }
        // The best as of clearing the mark: a better one finished later is published by its
        // own finish, which no longer sees the mark.
        let rec = arg(&reply, 1)?;
        if !rec.is_empty() {
            self.publish_best(campaign, participant, layout.key(best(&rec)?), boards).await?;
        }
        Ok(true)
    }
}
