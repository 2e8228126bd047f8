//! Redis memory per participant, measured (docs/SCALING.md).
//!
//! Fills one campaign's hot state the way a real campaign leaves it once its event streams have
//! been archived and trimmed and its attempts have expired: every participant's hash (with its
//! best, its day's attempt count, the inviter of a relayed join, shares and clicks), the
//! per-place and per-unit counters, the relay-code registry and the individual boards (global
//! score, every place from the participant's up, its unit). It writes only through the public
//! [`HotStore`] trait of [`RedisStore`] — `restore_participant`, `share`, `click`,
//! `register_code`, `publish_best` — so the key layout, encodings and scripts are exactly the
//! production ones, and reads `INFO memory` after each phase to split the bytes by kind.
//!
//! ```text
//! redis-server --port 6390 --save '' --appendonly no --dir "$(mktemp -d)" --daemonize yes
//! cargo run --release -p baton-hot --example hot_memory -- \
//!     --redis-url redis://127.0.0.1:6390 --participants 2500000 [--shards N]
//! ```
//!
//! It refuses a Redis that already holds keys (`--allow-nonempty` to override): point it at a
//! throwaway server. Every participant's attributes are a pure function of `--seed` and its
//! index, so runs are reproducible and any worker can make any participant.

use baton_core::Millis;
use baton_core::events::ShareChannel;
use baton_core::ids::{AttemptId, CampaignId, ParticipantId, PlaceId, UnitId};
use baton_core::leader::{LeaderLayout, LeaderResult};
use baton_core::relay::{CodeOwner, RelayCode};
use baton_hot::redis::RedisStore;
use baton_hot::{HotError, HotResult, HotStore, ParticipantState, RestoredParticipant, boards_for};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const USAGE: &str = "\
hot_memory: Redis memory per participant of a campaign's lasting hot state

  --redis-url URL            a throwaway Redis (required)
  --participants N           participants to create (2500000)
  --shards N                 participant shards, as baton's --redis-shards (1)
  --prefix P                 key prefix, as baton's --redis-prefix (baton:)
  --campaign ID              campaign id (scaling)
  --concurrency N            requests in flight (256)
  --districts N              county-level places under the city (12)
  --townships N              townships per district (9)
  --units N                  units, hanging from townships (3000)
  --unit-fraction F          share of participants who name a unit (0.9)
  --best-fraction F          share of participants with a finished attempt (0.85)
  --relayed-fraction F       share of participants who joined through a relay link (0.5)
  --share-fraction F         share of participants who shared once (0.6)
  --short-ids                short place and unit ids (d3, d3-t4, u123) instead of pinyin slugs
  --seed N                   seed of every attribute (1)
  --allow-nonempty           write even if the Redis already holds keys";

#[derive(Debug, Clone)]
struct Opts {
    redis_url: String,
    participants: u64,
    shards: u16,
    prefix: String,
    campaign: String,
    concurrency: usize,
    districts: usize,
    townships: usize,
    units: usize,
    unit_fraction: f64,
    best_fraction: f64,
    relayed_fraction: f64,
    share_fraction: f64,
    short_ids: bool,
    seed: u64,
    allow_nonempty: bool,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        redis_url: String::new(),
        participants: 2_500_000,
        shards: 1,
        prefix: "baton:".into(),
        campaign: "scaling".into(),
        concurrency: 256,
        districts: 12,
        townships: 9,
        units: 3000,
        unit_fraction: 0.9,
        best_fraction: 0.85,
        relayed_fraction: 0.5,
        share_fraction: 0.6,
        short_ids: false,
        seed: 1,
        allow_nonempty: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--short-ids" => o.short_ids = true,
            "--allow-nonempty" => o.allow_nonempty = true,
            _ => {
                let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
                let bad = |_| format!("bad value for {flag}: {v:?}");
                match flag.as_str() {
                    "--redis-url" => o.redis_url = v.clone(),
                    "--participants" => o.participants = v.replace('_', "").parse().map_err(bad)?,
                    "--shards" => o.shards = v.parse().map_err(bad)?,
                    "--prefix" => o.prefix = v.clone(),
                    "--campaign" => o.campaign = v.clone(),
                    "--concurrency" => o.concurrency = v.parse().map_err(bad)?,
                    "--districts" => o.districts = v.parse().map_err(bad)?,
                    "--townships" => o.townships = v.parse().map_err(bad)?,
                    "--units" => o.units = v.parse().map_err(bad)?,
                    "--seed" => o.seed = v.parse().map_err(bad)?,
                    "--unit-fraction" | "--best-fraction" | "--relayed-fraction" | "--share-fraction" => {
                        let f: f64 = v.parse().map_err(|_| format!("bad value for {flag}: {v:?}"))?;
                        if !(0.0..=1.0).contains(&f) {
                            return Err(format!("{flag} must be between 0 and 1"));
                        }
                        match flag.as_str() {
                            "--unit-fraction" => o.unit_fraction = f,
                            "--best-fraction" => o.best_fraction = f,
                            "--relayed-fraction" => o.relayed_fraction = f,
                            _ => o.share_fraction = f,
                        }
                    }
                    _ => return Err(format!("unknown flag {flag}")),
                }
            }
        }
    }
    if o.redis_url.is_empty() {
        return Err("--redis-url is required".into());
    }
    if o.shards == 0 || o.concurrency == 0 || o.districts == 0 || o.townships == 0 || o.units == 0 {
        return Err("--shards, --concurrency, --districts, --townships and --units must be at least 1".into());
    }
    Ok(o)
}

// ---- Deterministic randomness: every attribute is a hash of (seed, participant, what). ----

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A generator for one participant (or one piece of the place tree).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64, what: u64) -> Self {
        Self(mix(seed ^ mix(index ^ mix(what))))
    }
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

fn base32(r: &mut Rng, len: usize) -> String {
    (0..len).map(|_| CROCKFORD[r.below(32) as usize] as char).collect()
}

// ---- The campaign: a city, its districts, their townships, units hanging from townships. ----

const SYLLABLES: &[&str] = &[
    "he", "tang", "lu", "song", "shi", "feng", "tian", "yuan", "kou", "li", "ling", "you", "xian", "cha", "yan",
    "jian", "she", "ning", "jia", "tu", "dong", "duan", "bai", "guan", "xin", "xiang", "qing", "shui", "tong", "wan",
    "jing", "long", "shan", "tai", "yu", "ma", "qun", "zhu", "ting", "gan", "nan", "zhou", "chuan", "lai", "men",
    "yang", "san", "pu", "tan", "lian", "xing", "jiang", "qiao", "chun", "wang", "huang", "yun", "mi", "si", "cong",
    "xia", "hu", "ju", "mian", "du", "luo", "hua", "gui", "jin", "yue",
];
const UNIT_KINDS: &[&str] = &["community", "school", "company", "village", "hospital", "bureau", "factory"];

struct Tree {
    city: PlaceId,
    districts: Vec<PlaceId>,
    /// Each township and the index of its district.
    townships: Vec<(PlaceId, usize)>,
    /// Each unit and the index of its township.
    units: Vec<(UnitId, usize)>,
}

fn pinyin(r: &mut Rng, min: u64, max: u64) -> String {
    let n = min + r.below(max - min + 1);
    (0..n).map(|_| *r.pick(SYLLABLES)).collect()
}

/// A name not used yet (a digit is appended to a repeated one).
fn fresh(used: &mut HashSet<String>, mut name: String) -> String {
    let base = name.clone();
    let mut k = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}{k}");
        k += 1;
    }
    name
}

fn tree(o: &Opts) -> Tree {
    let mut r = Rng::new(o.seed, 0, 0x7ee);
    let mut used = HashSet::new();
    let place = |s: String| PlaceId::parse(&s).unwrap_or_else(|e| panic!("generated place id: {e}"));
    let city = place(if o.short_ids { "c".into() } else { "jiangcheng".into() });
    let mut districts = Vec::new();
    let mut townships = Vec::new();
    for d in 0..o.districts {
        let dname = if o.short_ids { format!("d{d}") } else { fresh(&mut used, pinyin(&mut r, 2, 3)) };
        for t in 0..o.townships {
            let tname = if o.short_ids {
                format!("{dname}-t{t}")
            } else {
                format!("{dname}-{}", fresh(&mut used, pinyin(&mut r, 2, 3)))
            };
            townships.push((place(tname), d));
        }
        districts.push(place(dname));
    }
    let units = (0..o.units)
        .map(|u| {
            let t = r.below(townships.len() as u64) as usize;
            let name = if o.short_ids {
                format!("u{u}")
            } else {
                let d = districts[townships[t].1].as_str();
                let mut s = format!("u-{d}-{}-{}", fresh(&mut used, pinyin(&mut r, 2, 4)), r.pick(UNIT_KINDS));
                s.truncate(48);
                s.trim_end_matches('-').to_owned()
            };
            (UnitId::parse(&name).unwrap_or_else(|e| panic!("generated unit id: {e}")), t)
        })
        .collect();
    Tree { city, districts, townships, units }
}

// ---- One participant, as a function of its index. ----

const SURNAMES: &[char] = &[
    '王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '高', '林',
    '罗', '郑', '梁', '谢', '宋', '唐', '许', '韩', '冯', '邓', '曹', '彭', '曾', '肖', '田', '董', '袁', '潘', '蒋',
    '蔡', '余', '杜', '叶', '程', '苏', '魏', '吕', '丁', '任', '沈', '姚', '卢', '谭', '廖', '贺', '龙', '易', '文',
];
const GIVEN: &[char] = &[
    '伟', '芳', '娜', '秀', '英', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超',
    '兰', '霞', '平', '刚', '桂', '华', '玉', '萍', '红', '玲', '芬', '燕', '彬', '鹏', '辉', '建', '国', '志', '鑫',
    '宇', '浩', '然', '子', '轩', '梓', '涵', '欣', '怡', '雨', '桐', '晨', '阳', '思', '远', '博', '文', '一', '诺',
    '小', '禁', '毒', '卫', '士', '星', '光', '春', '风',
];

/// Nicknames of 2 to 6 Chinese characters (6 to 18 bytes), most of 3.
fn nickname(r: &mut Rng) -> String {
    let len = match r.below(100) {
        0..20 => 2,
        20..65 => 3,
        65..85 => 4,
        85..93 => 5,
        _ => 6,
    };
    let mut s = String::from(*r.pick(SURNAMES));
    for _ in 1..len {
        s.push(*r.pick(GIVEN));
    }
    s
}

const DAY_MS: Millis = 86_400_000;
/// 2026-05-01T00:00:00+08:00, the campaign's start; it runs ten days.
const STARTS_MS: Millis = 1_777_564_800_000;
const DAYS: Millis = 10;

struct Ctx {
    opts: Opts,
    store: RedisStore,
    campaign: CampaignId,
    tree: Tree,
    layout: LeaderLayout,
}

/// What phase a participant is written in.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Participants,
    Activity,
    Codes,
    Boards,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::Participants => "participants (hash + place/unit counters)",
            Self::Activity => "shares and relay clicks (streams trimmed)",
            Self::Codes => "relay-code registry",
            Self::Boards => "leaderboards (score, each place up, unit)",
        }
    }
}

struct Person {
    restored: RestoredParticipant,
    shares: bool,
}

impl Ctx {
    fn pid(&self, i: u64) -> ParticipantId {
        ParticipantId::for_device(&self.campaign, &format!("device-{:012}-{}", i, self.opts.seed))
    }

    fn code(&self, i: u64) -> RelayCode {
        let mut r = Rng::new(self.opts.seed, i, 0xc0de);
        RelayCode::parse(&base32(&mut r, 10)).expect("a generated relay code")
    }

    /// The inviter of a relayed participant: an earlier one, and its depth.
    fn inviter(&self, i: u64) -> Option<(u64, u32)> {
        let mut r = Rng::new(self.opts.seed, i, 0x1a717e);
        if i == 0 || !r.chance(self.opts.relayed_fraction) {
            return None;
        }
        // Chains are mostly short: depth 1 for half, then geometrically longer.
        let mut depth = 1;
        while depth < 40 && r.chance(0.5) {
            depth += 1;
        }
        Some((r.below(i), depth))
    }

    fn person(&self, i: u64) -> Person {
        let o = &self.opts;
        let mut r = Rng::new(o.seed, i, 0x9e0);
        let t = &self.tree;
        // Units are of very different sizes: the square of a uniform favours the first ones.
        let unit = r.chance(o.unit_fraction).then(|| {
            let u = r.unit();
            let k = ((u * u) * t.units.len() as f64) as usize;
            &t.units[k.min(t.units.len() - 1)]
        });
        let township = unit.map_or_else(|| r.below(t.townships.len() as u64) as usize, |u| u.1);
        let (home, district) = &t.townships[township];
        let places = vec![home.clone(), t.districts[*district].clone(), t.city.clone()];
        let joined_at = STARTS_MS + r.below((DAYS * DAY_MS - 3_600_000) as u64) as Millis;
        let played = r.chance(o.best_fraction);
        let best = played.then(|| {
            // Ten questions of ten points, each right with probability 0.72; 30 s to 200 s.
            let right = (0..10).filter(|_| r.chance(0.72)).count() as u64;
            LeaderResult {
                score: right * 10,
                total_ms: 30_000 + r.below(170_000),
                reached_ms: joined_at + 60_000 + r.below(3_000_000) as Millis,
            }
        });
        let day = ((joined_at - STARTS_MS) / DAY_MS) as i32 + r.below(2) as i32;
        let (attempts_day, attempts_on_day) =
            if played { (day.min(DAYS as i32 - 1), 1 + r.below(3) as u16) } else { (0, 0) };
        // Half of those who never finished left an attempt open (its key has expired since).
        let open_attempt =
            (!played && r.chance(0.5)).then(|| AttemptId::parse(&base32(&mut r, 16)).expect("a generated attempt id"));
        let shares = r.chance(o.share_fraction);
        let (inviter, depth) = match self.inviter(i) {
            Some((j, d)) => (Some(self.pid(j)), d),
            None => (None, 0),
        };
        Person {
            restored: RestoredParticipant {
                state: ParticipantState {
                    id: self.pid(i),
                    region: home.clone(),
                    unit: unit.map(|u| u.0.clone()),
                    nickname: nickname(&mut r),
                    joined_at,
                    best,
                    attempts_day,
                    attempts_on_day,
                    open_attempt,
                    relay_code: self.code(i),
                    inviter,
                    depth,
                },
                places,
            },
            shares,
        }
    }

    async fn write(&self, phase: Phase, i: u64) -> HotResult<()> {
        let p = self.person(i);
        let c = &self.campaign;
        let s = &p.restored.state;
        match phase {
            Phase::Participants => self.store.restore_participant(c, p.restored.clone()).await,
            Phase::Activity => {
                if p.shares {
                    let channel = ShareChannel::ALL[(i % 5) as usize];
                    self.store.share(c, &s.id, channel, s.joined_at + 600_000).await?;
                }
                // A relayed join began with its inviter's link being opened.
                if let Some((j, depth)) = self.inviter(i) {
                    let owner = CodeOwner { campaign: c.clone(), participant: self.pid(j), depth: depth - 1 };
                    self.store.click(&owner, s.joined_at - 30_000).await?;
                }
                Ok(())
            }
            Phase::Codes => {
                let owner = CodeOwner { campaign: c.clone(), participant: s.id.clone(), depth: s.depth };
                self.store.register_code(&s.relay_code, &owner).await.map(drop)
            }
            Phase::Boards => match s.best {
                Some(best) => {
                    let boards = boards_for(&p.restored.places, s.unit.as_ref());
                    self.store.publish_best(c, &s.id, self.layout.key(best), &boards).await.map(drop)
                }
                None => Ok(()),
            },
        }
    }
}

/// Retries what Redis could not answer in time (a busy server), a few times.
async fn with_retries<F, Fut>(mut f: F) -> HotResult<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = HotResult<()>>,
{
    let mut tries = 0;
    loop {
        match f().await {
            Err(HotError::Unavailable(e)) if tries < 5 => {
                tries += 1;
                eprintln!("  retrying after: {e}");
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            other => return other,
        }
    }
}

/// Writes every participant's part of `phase` with `concurrency` requests in flight.
async fn drive(ctx: &Arc<Ctx>, phase: Phase, admin: &mut Admin) -> Result<(), String> {
    let n = ctx.opts.participants;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..ctx.opts.concurrency {
        let (ctx, next, done) = (ctx.clone(), next.clone(), done.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), HotError>(());
                }
                with_retries(|| ctx.write(phase, i)).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    let mut trim = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            r = set.join_next() => match r {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => return Err(format!("{}: {e}", phase.name())),
                Some(Err(e)) => return Err(format!("{}: a worker failed: {e}", phase.name())),
            },
            _ = tick.tick() => {
                let d = done.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                println!("  {:>9} / {n} ({:>5.1}%), {:>7.0}/s, {:>6.0} s", d, 100.0 * d as f64 / n as f64, d as f64 / secs, secs);
            }
            // The archiver trims archived events; here nothing needs them, so they go at once.
            _ = trim.tick(), if matches!(phase, Phase::Activity) => admin.trim_streams(&ctx.campaign).await?,
        }
    }
    if matches!(phase, Phase::Activity) {
        admin.trim_streams(&ctx.campaign).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("  {n} participants in {secs:.1} s ({:.0}/s)", n as f64 / secs);
    Ok(())
}

// ---- Measuring: a plain connection for INFO, DBSIZE, MEMORY USAGE, OBJECT ENCODING. ----

struct Admin {
    conn: ::redis::aio::MultiplexedConnection,
    keys: baton_hot::keys::Keys,
}

#[derive(Debug, Clone, Copy, Default)]
struct Mem {
    used: i64,
    dataset: i64,
    rss: i64,
    keys: i64,
}

fn err(e: ::redis::RedisError) -> String {
    format!("Redis: {e}")
}

impl Admin {
    async fn cmd<T: ::redis::FromRedisValue>(&mut self, c: &mut ::redis::Cmd) -> Result<T, String> {
        c.query_async(&mut self.conn).await.map_err(err)
    }

    async fn info(&mut self, section: &str) -> Result<BTreeMap<String, String>, String> {
        let text: String = self.cmd(::redis::cmd("INFO").arg(section)).await?;
        Ok(text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_owned(), v.trim().to_owned())).collect())
    }

    async fn mem(&mut self) -> Result<Mem, String> {
        let m = self.info("memory").await?;
        let get = |k: &str| m.get(k).and_then(|v| v.parse().ok()).unwrap_or(-1);
        let keys: i64 = self.cmd(&mut ::redis::cmd("DBSIZE")).await?;
        Ok(Mem { used: get("used_memory"), dataset: get("used_memory_dataset"), rss: get("used_memory_rss"), keys })
    }

    async fn usage(&mut self, key: &str) -> Result<i64, String> {
        let v: Option<i64> = self.cmd(::redis::cmd("MEMORY").arg("USAGE").arg(key).arg("SAMPLES").arg(0)).await?;
        Ok(v.unwrap_or(0))
    }

    async fn config(&mut self, name: &str) -> Result<String, String> {
        let v: Vec<String> = self.cmd(::redis::cmd("CONFIG").arg("GET").arg(name)).await?;
        Ok(v.get(1).cloned().unwrap_or_default())
    }

    async fn trim_streams(&mut self, c: &CampaignId) -> Result<(), String> {
        for s in 0..self.keys.shards() {
            let _: i64 = self.cmd(::redis::cmd("XTRIM").arg(self.keys.events(c, s)).arg("MAXLEN").arg(0)).await?;
        }
        Ok(())
    }

    async fn scan(&mut self, pattern: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) =
                self.cmd(::redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(10_000)).await?;
            out.extend(keys);
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }
}

fn mib(b: i64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

async fn run(o: Opts) -> Result<(), String> {
    let campaign = CampaignId::parse(&o.campaign).map_err(|e| e.0)?;
    let client = ::redis::Client::open(o.redis_url.as_str()).map_err(err)?;
    let mut conn = client.get_multiplexed_async_connection().await.map_err(err)?;
    // MEMORY USAGE … SAMPLES 0 walks a whole board: seconds for millions of members.
    conn.set_response_timeout(Duration::from_secs(300));
    let mut admin = Admin { conn, keys: baton_hot::keys::Keys::new(&o.prefix, o.shards) };
    let before = admin.mem().await?;
    if before.keys > 0 && !o.allow_nonempty {
        return Err(format!(
            "{} already holds {} keys: point this at a throwaway redis-server (or pass --allow-nonempty)",
            o.redis_url, before.keys
        ));
    }
    let server = admin.info("server").await?;
    let memory = admin.info("memory").await?;
    let cluster = admin.info("cluster").await?;
    let cluster_mode = cluster.get("cluster_enabled").is_some_and(|v| v == "1");
    println!(
        "Redis {} ({}), cluster_enabled={}, maxmemory-policy {}",
        server.get("redis_version").map_or("?", String::as_str),
        memory.get("mem_allocator").map_or("?", String::as_str),
        u8::from(cluster_mode),
        admin.config("maxmemory-policy").await?
    );
    for c in
        ["hash-max-listpack-entries", "hash-max-listpack-value", "zset-max-listpack-entries", "zset-max-listpack-value"]
    {
        println!("  {c} {}", admin.config(c).await?);
    }

    let store = RedisStore::connect(&o.redis_url, &o.prefix, o.shards).await.map_err(|e| e.to_string())?;
    let tree = tree(&o);
    let layout = LeaderLayout::new(100, 200_000, STARTS_MS, STARTS_MS + DAYS * DAY_MS)?;
    println!(
        "campaign {campaign}: {} participants, {} shard(s), 1 city, {} districts, {} townships, {} units \
         (e.g. {} / {}), {} in flight",
        o.participants,
        o.shards,
        tree.districts.len(),
        tree.townships.len(),
        tree.units.len(),
        tree.townships[0].0,
        tree.units[0].0,
        o.concurrency
    );
    let ctx = Arc::new(Ctx { opts: o.clone(), store, campaign: campaign.clone(), tree, layout });
    {
        let p = ctx.person(1);
        let s = &p.restored.state;
        println!(
            "  participant 1: {} {:?} region {} unit {:?} places {} best {:?} inviter {:?}",
            s.id,
            s.nickname,
            s.region,
            s.unit.as_ref().map(UnitId::as_str),
            p.restored.places.len(),
            s.best.map(|b| b.score),
            s.inviter.as_ref().map(ParticipantId::as_str)
        );
    }
    println!("before: used_memory {} (dataset {}), {} keys", before.used, before.dataset, before.keys);

    let total_started = Instant::now();
    let mut rows = Vec::new();
    let mut last = before;
    for phase in [Phase::Participants, Phase::Activity, Phase::Codes, Phase::Boards] {
        println!("phase: {}", phase.name());
        drive(&ctx, phase, &mut admin).await?;
        let now = admin.mem().await?;
        println!(
            "  used_memory {} (+{}), dataset {}, rss {}, {} keys",
            mib(now.used),
            mib(now.used - last.used),
            mib(now.dataset),
            mib(now.rss),
            now.keys
        );
        rows.push((phase, now.used - last.used, now.dataset - last.dataset));
        last = now;
    }
    let elapsed = total_started.elapsed().as_secs_f64();

    // Where the bytes are, key by key (MEMORY USAGE counts a key's name and value).
    let n = o.participants as f64;
    let mut by_key: Vec<(String, i64, u64)> = Vec::new();
    let mut agg = 0;
    let mut streams = 0;
    for s in 0..o.shards {
        agg += admin.usage(&admin.keys.aggregates(&campaign, s)).await?;
        streams += admin.usage(&admin.keys.events(&campaign, s)).await?;
    }
    by_key.push(("place/unit counters (agg hashes)".into(), agg, u64::from(o.shards)));
    by_key.push(("event streams (archived, trimmed)".into(), streams, u64::from(o.shards)));
    let code_keys = admin.scan(&format!("{}{{v1:codes:*", o.prefix)).await?;
    let mut codes = 0;
    for k in &code_keys {
        codes += admin.usage(k).await?;
    }
    by_key.push(("relay-code registry hashes".into(), codes, code_keys.len() as u64));
    let score = admin.usage(&admin.keys.board(&campaign, &baton_hot::Board::Score)).await?;
    by_key.push(("board: score (global)".into(), score, 1));
    let city = admin.usage(&admin.keys.board(&campaign, &baton_hot::Board::Region(ctx.tree.city.clone()))).await?;
    by_key.push(("board: city (root place)".into(), city, 1));
    let mut districts = 0;
    for d in &ctx.tree.districts {
        districts += admin.usage(&admin.keys.board(&campaign, &baton_hot::Board::Region(d.clone()))).await?;
    }
    by_key.push(("boards: districts".into(), districts, ctx.tree.districts.len() as u64));
    let mut townships = 0;
    for (t, _) in &ctx.tree.townships {
        townships += admin.usage(&admin.keys.board(&campaign, &baton_hot::Board::Region(t.clone()))).await?;
    }
    by_key.push(("boards: townships".into(), townships, ctx.tree.townships.len() as u64));
    let mut units = 0;
    let mut unit_listpack = 0;
    for (u, _) in &ctx.tree.units {
        let k = admin.keys.board(&campaign, &baton_hot::Board::Unit(u.clone()));
        units += admin.usage(&k).await?;
        let enc: Option<String> = admin.cmd(::redis::cmd("OBJECT").arg("ENCODING").arg(&k)).await?;
        if enc.as_deref() == Some("listpack") {
            unit_listpack += 1;
        }
    }
    by_key.push(("boards: units".into(), units, ctx.tree.units.len() as u64));
    let board_entries: i64 = {
        let mut total = 0;
        for k in admin.scan(&format!("{}v1:{}:lb:*", o.prefix, campaign)).await? {
            let c: i64 = admin.cmd(::redis::cmd("ZCARD").arg(&k)).await?;
            total += c;
        }
        total
    };
    // A sample of participant hashes: their size and encoding.
    let sample = 2000.min(o.participants);
    let (mut hash_bytes, mut listpack, mut hashtable) = (0i64, 0u64, 0u64);
    for k in 0..sample {
        let i = k * (o.participants / sample);
        let key = admin.keys.participant(&campaign, &ctx.pid(i));
        hash_bytes += admin.usage(&key).await?;
        let enc: Option<String> = admin.cmd(::redis::cmd("OBJECT").arg("ENCODING").arg(&key)).await?;
        match enc.as_deref() {
            Some("listpack") => listpack += 1,
            _ => hashtable += 1,
        }
    }
    let (with_best, relayed, sharing) = (0..o.participants).step_by((o.participants / 20_000).max(1) as usize).fold(
        (0u64, 0u64, 0u64),
        |(b, r, s), i| {
            let p = ctx.person(i);
            (
                b + u64::from(p.restored.state.best.is_some()),
                r + u64::from(p.restored.state.inviter.is_some()),
                s + u64::from(p.shares),
            )
        },
    );
    let sampled = (0..o.participants).step_by((o.participants / 20_000).max(1) as usize).count() as f64;
    let end = admin.mem().await?;

    println!();
    println!(
        "== summary: {} participants, {} shard(s), cluster_enabled={} ==",
        o.participants,
        o.shards,
        u8::from(cluster_mode)
    );
    println!(
        "written in {elapsed:.0} s; with a best {:.1}%, relayed {:.1}%, shared {:.1}% (sampled); {board_entries} board \
         entries ({:.2} per participant)",
        100.0 * with_best as f64 / sampled,
        100.0 * relayed as f64 / sampled,
        100.0 * sharing as f64 / sampled,
        board_entries as f64 / n
    );
    println!(
        "used_memory {} -> {} (+{}), dataset {} -> {}, rss {}, DBSIZE {} -> {}",
        before.used,
        end.used,
        mib(end.used - before.used),
        before.dataset,
        end.dataset,
        mib(end.rss),
        before.keys,
        end.keys
    );
    println!("{:<48} {:>12} {:>14}", "by phase (INFO used_memory)", "bytes", "B/participant");
    for (phase, used, _) in &rows {
        println!("{:<48} {:>12} {:>14.1}", phase.name(), used, *used as f64 / n);
    }
    let total = end.used - before.used;
    println!("{:<48} {:>12} {:>14.1}", "total", total, total as f64 / n);
    println!(
        "{:<48} {:>12} {:>14.1}",
        "total (used_memory_dataset)",
        end.dataset - before.dataset,
        (end.dataset - before.dataset) as f64 / n
    );
    println!("{:<48} {:>12} {:>14}", "by key (MEMORY USAGE, SAMPLES 0)", "bytes", "B/participant");
    for (what, bytes, keys) in &by_key {
        println!("{:<48} {:>12} {:>14.1}   ({keys} keys)", what, bytes, *bytes as f64 / n);
    }
    println!(
        "{:<48} {:>12.1} {:>14}   ({listpack} listpack, {hashtable} hashtable of {sample} sampled)",
        "participant hash, mean of a sample",
        hash_bytes as f64 / sample as f64,
        ""
    );
    println!("unit boards small enough for a listpack: {unit_listpack} of {}", ctx.tree.units.len());
    println!(
        "RESULT participants={} shards={} cluster={} bytes_per_participant={:.1} dataset_per_participant={:.1} \
         hash_mean={:.1} board_entries_per_participant={:.3} seconds={elapsed:.0}",
        o.participants,
        o.shards,
        u8::from(cluster_mode),
        total as f64 / n,
        (end.dataset - before.dataset) as f64 / n,
        hash_bytes as f64 / sample as f64,
        board_entries as f64 / n
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}\n");
            }
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(opts).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
