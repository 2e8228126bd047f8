//! Group commit of the embedded store's events to SQL.
//!
//! Each change sends its event here and waits. One task takes whatever is waiting (up to
//! [`MAX_GROUP`] events), commits it in one transaction, and answers every waiter: so under
//! load many changes share one commit, and a change is acknowledged only once its event is in
//! SQL. A failed commit answers its waiters with the error, and their changes do not happen.

use crate::metrics::ArchiverMetrics;
use async_trait::async_trait;
use baton_core::events::Event;
use baton_db::Db;
use baton_hot::EventSink;
use tokio::sync::{mpsc, oneshot};

/// Most events one commit takes.
pub const MAX_GROUP: usize = 1024;

type Waiter = (Vec<Event>, oneshot::Sender<Result<(), String>>);

/// The embedded store's event sink: SQL, in groups.
#[derive(Clone)]
pub struct GroupCommitter {
    tx: mpsc::UnboundedSender<Waiter>,
}

impl GroupCommitter {
    /// Starts the committing task on the current runtime.
    pub fn start(db: Db, metrics: ArchiverMetrics) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, metrics, rx));
        Self { tx }
    }
}

async fn run(db: Db, metrics: ArchiverMetrics, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let mut n = group[0].0.len();
        while n < MAX_GROUP {
            match rx.try_recv() {
                Ok(w) => {
                    n += w.0.len();
                    group.push(w);
                }
                Err(_) => break,
            }
        }
        let events: Vec<Event> = group.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
        let timer = metrics.commit_seconds.start_timer();
        let result = db.apply_events(&events).await;
        timer.observe_duration();
        metrics.batch_size.observe(events.len() as f64);
        let answer = match result {
            Ok(applied) => {
                metrics.events.with_label_values(&["applied"]).inc_by(applied.new as u64);
                metrics.events.with_label_values(&["duplicate"]).inc_by(applied.duplicates as u64);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "committing events failed; their changes are refused");
                Err(e.to_string())
            }
        };
        for (_, waiter) in group {
            // A waiter that went away (its request was cancelled) needs no answer.
            let _ = waiter.send(answer.clone());
        }
    }
}

#[async_trait]
impl EventSink for GroupCommitter {
    async fn commit(&self, events: Vec<Event>) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((events, tx)).map_err(|_| "the event committer has stopped".to_owned())?;
        rx.await.map_err(|_| "the event committer has stopped".to_owned())?
    }
}
