//! The roll-up loop: counts new relayed joins into their ancestors' totals in SQL, a batch at a
//! time, exactly once (a join is marked counted in the same transaction that counts it).

use baton_db::Db;
use baton_http::campaigns::Campaigns;
use std::time::Duration;

/// Joins rolled up per transaction.
pub const BATCH: u32 = 5_000;

/// Rolls up every campaign until nothing is left; returns how many joins were counted.
pub async fn roll_up_all(db: &Db, campaigns: &Campaigns) -> Result<usize, baton_db::DbError> {
    let mut total = 0;
    for id in campaigns.ids() {
        loop {
            let r = db.roll_up_relays(&id, BATCH).await?;
            total += r.joins;
            if r.joins < BATCH as usize {
                break;
            }
        }
    }
    Ok(total)
}

/// Rolls up every `every` until the task is dropped.
pub async fn run(db: Db, campaigns: Campaigns, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match roll_up_all(&db, &campaigns).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(joins = n, "relay totals rolled up"),
            Err(e) => tracing::warn!(error = %e, "rolling up relay totals failed; retrying"),
        }
    }
}
