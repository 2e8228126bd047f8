//! [`Metered`]: any hot store, timed. Every operation is observed in
//! `baton_hot_store_seconds{op}` and its infrastructure failures counted in
//! `baton_hot_store_errors_total{op}`, where `op` is the trait method's name (a fixed set);
//! attempts started and finished are counted, and the attempts open in this process are a
//! gauge. Labels never carry an id.
//!
//! `baton_attempts_active` counts the attempts *this process* started that are still within
//! their time limit and that this process has not seen finished. It is exact in one process
//! (all-in-one); when quiz pods are split, a finish served by another pod than the start
//! leaves the attempt counted on the starting pod until its time limit passes, so a sum over
//! pods is an upper bound. `baton_attempts_started_total` and `baton_attempts_finished_total`
//! add up exactly over pods.

use crate::*;
use async_trait::async_trait;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The hot store's metrics, registered once per registry.
#[derive(Clone)]
pub struct HotStoreMetrics {
    seconds: HistogramVec,
    errors: IntCounterVec,
    started: IntCounter,
    finished: IntCounter,
    active: Arc<ActiveAttempts>,
}

impl HotStoreMetrics {
    /// Registers the hot store's metrics in `registry` (a second call on the same registry
    /// shares nothing and registers nothing: tests build many apps in one process). `now` is
    /// the process's clock (epoch milliseconds), which decides when an open attempt's time is up.
    pub fn new(registry: &Registry, now: Now) -> Self {
        let seconds = HistogramVec::new(
            HistogramOpts::new("hot_store_seconds", "Time of hot-store operations, by operation.")
                .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
            &["op"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new("hot_store_errors_total", "Hot-store operations that failed (store unreachable or corrupt)."),
            &["op"],
        )
        .expect("valid metric");
        let started = IntCounter::new("attempts_started_total", "Attempts started (not resumed).").expect("valid");
        let finished = IntCounter::new("attempts_finished_total", "Attempts closed by a finish (repeats not counted).")
            .expect("valid");
        let active = Arc::new(ActiveAttempts::new(now));
        for c in [
            Box::new(seconds.clone()) as Box<dyn Collector>,
            Box::new(errors.clone()),
            Box::new(started.clone()),
            Box::new(finished.clone()),
            Box::new(ActiveCollector(active.clone())),
        ] {
            let _ = registry.register(c);
        }
        Self { seconds, errors, started, finished, active }
    }
}

/// The clock: epoch milliseconds.
pub type Now = Arc<dyn Fn() -> Millis + Send + Sync>;

/// Open attempts started here: id → when its time is up.
struct ActiveAttempts {
    gauge: IntGauge,
    now: Now,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    by_id: HashMap<AttemptId, Millis>,
    /// Size after the last prune: pruning again when it doubles keeps memory bounded without
    /// scrapes.
    pruned_at: usize,
}

impl Open {
    fn prune(&mut self, now: Millis) {
        self.by_id.retain(|_, expires| *expires > now);
        self.pruned_at = self.by_id.len();
    }
}

impl ActiveAttempts {
    fn new(now: Now) -> Self {
        let gauge = IntGauge::new(
            "attempts_active",
            "Attempts this process started that are within their time limit and not finished here.",
        )
        .expect("valid metric");
        Self { gauge, now, open: Mutex::default() }
    }

    fn started(&self, a: &AttemptState) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.by_id.insert(a.id.clone(), a.expires_at);
        if o.by_id.len() > 1024 && o.by_id.len() > 2 * o.pruned_at {
            o.prune(a.started_at);
        }
    }

    fn finished(&self, id: &AttemptId) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).by_id.remove(id);
    }

    fn count(&self) -> i64 {
        let now = (self.now)();
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.prune(now);
        o.by_id.len() as i64
    }
}

/// Counts open attempts when scraped.
struct ActiveCollector(Arc<ActiveAttempts>);

impl Collector for ActiveCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.gauge.set(self.0.count());
        self.0.gauge.collect()
    }
}

/// A hot store whose every operation is timed (see the module documentation).
pub struct Metered {
    inner: Arc<dyn HotStore>,
    metrics: HotStoreMetrics,
}

impl Metered {
    pub fn new(inner: Arc<dyn HotStore>, metrics: HotStoreMetrics) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(&self, op: &'static str, f: impl Future<Output = HotResult<T>>) -> HotResult<T> {
        let start = Instant::now();
        let r = f.await;
        self.metrics.seconds.with_label_values(&[op]).observe(start.elapsed().as_secs_f64());
        if r.is_err() {
            self.metrics.errors.with_label_values(&[op]).inc();
        }
        r
    }
}

#[async_trait]
impl HotStore for Metered {
    fn for_worker(&self) -> Option<Arc<dyn HotStore>> {
        let inner = self.inner.for_worker()?;
        Some(Arc::new(Self { inner, metrics: self.metrics.clone() }))
    }

    async fn join(&self, cmd: JoinCmd) -> HotResult<JoinOutcome> {
        self.timed("join", self.inner.join(cmd)).await
    }

    async fn participant(&self, campaign: &CampaignId, id: &ParticipantId) -> HotResult<Option<ParticipantState>> {
        self.timed("participant", self.inner.participant(campaign, id)).await
    }

    async fn start_attempt(&self, cmd: StartCmd) -> HotResult<StartOutcome> {
        let r = self.timed("start_attempt", self.inner.start_attempt(cmd)).await;
        if let Ok(StartOutcome::Started(a)) = &r {
            self.metrics.started.inc();
            self.metrics.active.started(a);
        }
        r
    }

    async fn attempt(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        id: &AttemptId,
    ) -> HotResult<Option<AttemptState>> {
        self.timed("attempt", self.inner.attempt(campaign, participant, id)).await
    }

    async fn answer(&self, cmd: AnswerCmd) -> HotResult<AnswerOutcome> {
        self.timed("answer", self.inner.answer(cmd)).await
    }

    async fn finish(&self, cmd: FinishCmd) -> HotResult<FinishOutcome> {
        let id = cmd.attempt.clone();
        let r = self.timed("finish", self.inner.finish(cmd)).await;
        if let Ok(FinishOutcome::Finished { newly: true, .. }) = &r {
            self.metrics.finished.inc();
            self.metrics.active.finished(&id);
        }
        r
    }

    async fn publish_best(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        key: u64,
        boards: &[Board],
    ) -> HotResult<Vec<Standing>> {
        self.timed("publish_best", self.inner.publish_best(campaign, participant, key, boards)).await
    }

    async fn board_page(&self, campaign: &CampaignId, board: &Board, offset: u64, limit: u64) -> HotResult<BoardPage> {
        self.timed("board_page", self.inner.board_page(campaign, board, offset, limit)).await
    }

    async fn page_around(
        &self,
        campaign: &CampaignId,
        board: &Board,
        participant: &ParticipantId,
        limit: u64,
    ) -> HotResult<Option<(u64, BoardPage)>> {
        self.timed("page_around", self.inner.page_around(campaign, board, participant, limit)).await
    }

    async fn nicknames(&self, campaign: &CampaignId, ids: &[ParticipantId]) -> HotResult<Vec<Option<String>>> {
        self.timed("nicknames", self.inner.nicknames(campaign, ids)).await
    }

    async fn aggregates(&self, campaign: &CampaignId) -> HotResult<Aggregates> {
        self.timed("aggregates", self.inner.aggregates(campaign)).await
    }

    async fn totals(&self, campaign: &CampaignId) -> HotResult<Aggregates> {
        self.timed("totals", self.inner.totals(campaign)).await
    }

    async fn ping(&self) -> HotResult<()> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn clear_campaign(&self, campaign: &CampaignId) -> HotResult<()> {
        self.timed("clear_campaign", self.inner.clear_campaign(campaign)).await
    }

    async fn restore_participant(&self, campaign: &CampaignId, p: RestoredParticipant) -> HotResult<()> {
        self.timed("restore_participant", self.inner.restore_participant(campaign, p)).await
    }

    async fn restore_attempt(&self, campaign: &CampaignId, a: AttemptState) -> HotResult<()> {
        self.timed("restore_attempt", self.inner.restore_attempt(campaign, a)).await
    }

    async fn register_code(&self, code: &RelayCode, owner: &CodeOwner) -> HotResult<CodeOwner> {
        self.timed("register_code", self.inner.register_code(code, owner)).await
    }

    async fn resolve_code(&self, code: &RelayCode) -> HotResult<Option<CodeOwner>> {
        self.timed("resolve_code", self.inner.resolve_code(code)).await
    }

    async fn share(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        channel: ShareChannel,
        now: Millis,
    ) -> HotResult<Option<u64>> {
        self.timed("share", self.inner.share(campaign, participant, channel, now)).await
    }

    async fn click(&self, owner: &CodeOwner, now: Millis) -> HotResult<()> {
        self.timed("click", self.inner.click(owner, now)).await
    }

    async fn shared_get(&self, name: &str) -> HotResult<Option<String>> {
        self.timed("shared_get", self.inner.shared_get(name)).await
    }

    async fn shared_set(&self, name: &str, value: &str, ttl_ms: u64) -> HotResult<()> {
        self.timed("shared_set", self.inner.shared_set(name, value, ttl_ms)).await
    }

    async fn shared_lease(&self, name: &str, holder: &str, ttl_ms: u64) -> HotResult<bool> {
        self.timed("shared_lease", self.inner.shared_lease(name, holder, ttl_ms)).await
    }

    async fn shared_release(&self, name: &str, holder: &str) -> HotResult<()> {
        self.timed("shared_release", self.inner.shared_release(name, holder)).await
    }

    async fn shared_incr(&self, name: &str, ttl_ms: u64) -> HotResult<u64> {
        self.timed("shared_incr", self.inner.shared_incr(name, ttl_ms)).await
    }

    async fn hide(&self, campaign: &CampaignId, participant: &ParticipantId, boards: &[Board]) -> HotResult<bool> {
        self.timed("hide", self.inner.hide(campaign, participant, boards)).await
    }

    async fn unhide(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        boards: &[Board],
        layout: &baton_core::leader::LeaderLayout,
    ) -> HotResult<bool> {
        self.timed("unhide", self.inner.unhide(campaign, participant, boards, layout)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;

    fn family(registry: &Registry, name: &str) -> Option<MetricFamily> {
        registry.gather().into_iter().find(|f| f.name() == name)
    }

    #[tokio::test]
    async fn every_operation_is_timed_by_its_name_and_passes_through() {
        let registry = Registry::new();
        let store = Metered::new(Arc::new(EmbeddedStore::new()), HotStoreMetrics::new(&registry, Arc::new(|| 0)));
        store.ping().await.unwrap();
        store.ping().await.unwrap();
        assert_eq!(store.shared_get("nothing").await.unwrap(), None);
        let f = family(&registry, "hot_store_seconds").expect("the histogram is registered");
        let ops: Vec<(String, u64)> = f
            .get_metric()
            .iter()
            .map(|m| (m.get_label()[0].value().to_owned(), m.get_histogram().get_sample_count()))
            .collect();
        assert!(ops.contains(&("ping".into(), 2)), "{ops:?}");
        assert!(ops.contains(&("shared_get".into(), 1)), "{ops:?}");
        for m in f.get_metric() {
            assert_eq!(m.get_label().len(), 1);
            assert_eq!(m.get_label()[0].name(), "op");
        }
        // A second set of metrics on the same registry does not panic.
        let _ = HotStoreMetrics::new(&registry, Arc::new(|| 0));
    }

    #[test]
    fn open_attempts_expire_and_finish() {
        let far = 4_000_000_000_000;
        let now = Arc::new(std::sync::atomic::AtomicI64::new(far));
        let clock = now.clone();
        let active = ActiveAttempts::new(Arc::new(move || clock.load(std::sync::atomic::Ordering::SeqCst)));
        let attempt = |id: &str, expires_at| AttemptState {
            id: AttemptId::parse(id).unwrap(),
            participant: ParticipantId::parse("p1").unwrap(),
            started_at: far,
            expires_at,
            limit_ms: 1000,
            questions: vec![],
            answers: vec![],
            cursor: far,
            finished: None,
        };
        active.started(&attempt("a1", far + 60_000));
        active.started(&attempt("a2", far + 60_000));
        active.started(&attempt("a3", far + 1));
        assert_eq!(active.count(), 3);
        active.finished(&AttemptId::parse("a1").unwrap());
        now.store(far + 2, std::sync::atomic::Ordering::SeqCst);
        // a1 finished, a3 past its limit.
        assert_eq!(active.count(), 1);
    }
}
