//! The archiver's metrics, registered in the process's registry. Throughput (events per
//! second) is `rate(baton_archiver_events_total[1m])`; how far SQL is behind is
//! `baton_archiver_backlog` (events) and `baton_archiver_lag_seconds` (age of the oldest).

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct ArchiverMetrics {
    /// Events by outcome: `applied`, `duplicate` (already in SQL), `dead_lettered`.
    pub events: IntCounterVec,
    /// Events in the streams not yet committed to SQL (undelivered + pending).
    pub backlog: IntGauge,
    /// Age in seconds of the oldest event in the streams not yet committed to SQL (0 when
    /// none), measured when the streams are trimmed.
    pub lag_seconds: Gauge,
    /// Time to commit one batch of events to SQL.
    pub commit_seconds: Histogram,
    /// Events per committed batch.
    pub batch_size: Histogram,
}

impl ArchiverMetrics {
    pub fn new(registry: &Registry) -> Self {
        let events = IntCounterVec::new(
            Opts::new(
                "archiver_events_total",
                "Events the archiver handled, by outcome (applied, duplicate, dead_lettered).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let backlog = IntGauge::new("archiver_backlog", "Events in the hot store's streams not yet committed to SQL.")
            .expect("valid metric");
        let lag_seconds = Gauge::new(
            "archiver_lag_seconds",
            "Age of the oldest event in the hot store's streams not yet committed to SQL (0: none).",
        )
        .expect("valid metric");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("archiver_commit_seconds", "Time to commit one batch of events to SQL.")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
        )
        .expect("valid metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("archiver_batch_size", "Events per committed batch.")
                .buckets(vec![1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0]),
        )
        .expect("valid metric");
        for m in [
            Box::new(events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(backlog.clone()),
            Box::new(lag_seconds.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(batch_size.clone()),
        ] {
            // A second archiver in one process (tests) shares the first one's metrics.
            let _ = registry.register(m);
        }
        Self { events, backlog, lag_seconds, commit_seconds, batch_size }
    }
}
