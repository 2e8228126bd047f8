//! The archiver's metrics, registered in the process's registry.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct ArchiverMetrics {
    /// Events by outcome: `applied`, `duplicate` (already in SQL), `dead_lettered`.
    pub events: IntCounterVec,
    /// Events in the streams not yet committed to SQL (undelivered + pending).
    pub backlog: IntGauge,
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
            Box::new(commit_seconds.clone()),
            Box::new(batch_size.clone()),
        ] {
            // A second archiver in one process (tests) shares the first one's metrics.
            let _ = registry.register(m);
        }
        Self { events, backlog, commit_seconds, batch_size }
    }
}
