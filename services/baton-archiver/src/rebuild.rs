//! Rebuilding a campaign's hot state from SQL: participants (with the day's attempt count and
//! the attempt in progress), attempts of the current campaign day and every unfinished one
//! with their answers, best results on every leaderboard (but for the participants organizers
//! hid, who are hidden again), and the counters. The campaign's hot state is cleared first, so
//! a rebuild can be run again and gives the same result.

use baton_core::Millis;
use baton_core::calendar::day_number;
use baton_core::campaign::Campaign;
use baton_core::relay::{CodeOwner, RelayCode};
use baton_db::Db;
use baton_hot::{AttemptState, Finished, HotStore, ParticipantState, RestoredParticipant, boards_for};
use std::collections::HashMap;

/// Participants read from SQL per page.
const PAGE: u32 = 2_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildSummary {
    pub participants: u64,
    pub with_best: u64,
    pub attempts: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Db(#[from] baton_db::DbError),
    #[error(transparent)]
    Hot(#[from] baton_hot::HotError),
}

/// Rebuilds `campaign` in `store` from `db` as of `now`, calling `progress` with the number of
/// participants restored so far after every page.
pub async fn rebuild(
    db: &Db,
    store: &dyn HotStore,
    campaign: &Campaign,
    now: Millis,
    mut progress: impl FnMut(u64),
) -> Result<RebuildSummary, RebuildError> {
    let cid = campaign.id();
    let day = day_number(campaign.time_zone(), now);
    store.clear_campaign(cid).await?;

    // Today's attempts and every unfinished one, by participant.
    let attempts = db.rebuild_attempts(cid, day).await?;
    let mut today: HashMap<String, u16> = HashMap::new();
    let mut open: HashMap<String, (Millis, baton_core::ids::AttemptId)> = HashMap::new();
    for a in &attempts {
        let pid = a.participant.to_string();
        if a.day == day {
            *today.entry(pid.clone()).or_default() += 1;
        }
        if a.finished.is_none() && open.get(&pid).is_none_or(|(started, _)| *started < a.started_at) {
            open.insert(pid, (a.started_at, a.id.clone()));
        }
    }

    // Hidden from the boards by an organizer: hidden again before their best is published.
    let hidden: std::collections::HashSet<baton_core::ids::ParticipantId> =
        db.hidden_participants(cid).await?.into_iter().collect();

    let mut summary = RebuildSummary::default();
    let mut after = None;
    loop {
        let page = db.rebuild_participants(cid, after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for p in page {
            let key = p.id.to_string();
            let on_day = today.get(&key).copied().unwrap_or(0);
            let state = ParticipantState {
                id: p.id.clone(),
                region: p.region.clone(),
                unit: p.unit.clone(),
                nickname: p.nickname.clone(),
                joined_at: p.joined_at_ms,
                best: p.best,
                attempts_day: if on_day > 0 { day } else { 0 },
                attempts_on_day: on_day,
                open_attempt: open.get(&key).map(|(_, a)| a.clone()),
                // A participant recorded before relay codes existed gets one now.
                relay_code: p.relay_code.clone().unwrap_or_else(|| RelayCode::random(&mut rand::rng())),
                inviter: p.inviter.clone(),
                depth: p.depth,
            };
            let owner = CodeOwner { campaign: cid.clone(), participant: p.id.clone(), depth: p.depth };
            if store.register_code(&state.relay_code, &owner).await? != owner {
                tracing::error!(participant.id = %p.id, "relay code taken by another participant; links of this one do not attribute");
            }
            // A participant stored without its join event has no places: derive them.
            let places = if p.places.is_empty() {
                let home = p.unit.as_ref().and_then(|u| campaign.unit(u)).map_or(&p.region, |u| &u.region_id);
                campaign.ancestors(home)
            } else {
                p.places
            };
            let boards = boards_for(&places, p.unit.as_ref());
            store.restore_participant(cid, RestoredParticipant { state, places }).await?;
            if hidden.contains(&p.id) {
                store.hide(cid, &p.id, &boards).await?;
            }
            if let Some(best) = p.best {
                store.publish_best(cid, &p.id, campaign.leader().key(best), &boards).await?;
                summary.with_best += 1;
            }
            summary.participants += 1;
        }
        progress(summary.participants);
    }

    for a in attempts {
        let finished = a.finished.map(|(totals, reached_at)| Finished { totals, reached_at });
        store
            .restore_attempt(
                cid,
                AttemptState {
                    id: a.id,
                    participant: a.participant,
                    started_at: a.started_at,
                    expires_at: a.expires_at,
                    limit_ms: a.limit_ms,
                    questions: a.questions,
                    answers: a.answers,
                    cursor: a.cursor,
                    finished,
                },
            )
            .await?;
        summary.attempts += 1;
    }
    Ok(summary)
}
