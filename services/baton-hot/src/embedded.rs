//! The embedded hot store: everything in this process's memory, for a single-node deployment
//! (the one-command start and small campaigns). A real backend, not a mock: the same
//! conformance suite as Redis holds it to the same behaviour.
//!
//! Participants are spread over [`SHARDS`] locks by id; each participant write is one critical
//! section on its shard, like one Redis script on one hash slot. Inside it the change is
//! computed on a copy, its event is committed to the [`EventSink`] (durably, when the process
//! has one), and only then is the copy written back — so a change is never visible, or
//! acknowledged, before its event is safe, and a failed commit changes nothing. Each shard
//! keeps its own place/unit counters (summed on read), as each Redis shard does. Leaderboards
//! sit behind their own lock and are written only when an attempt finishes.

use crate::sorted::SortedList;
use crate::*;
use baton_core::events::{Event, EventBody, ShareChannel};
use baton_core::relay::{CodeOwner, RelayCode};
use baton_core::scoring;
use std::cmp::Reverse;
use std::sync::{Arc, Mutex, RwLock};

/// Locks participants are spread over.
pub const SHARDS: usize = 64;

#[derive(Debug, Clone)]
struct Participant {
    state: ParticipantState,
    /// Places the participant counts towards (its own and every one above).
    places: Vec<PlaceId>,
    /// Shares it reported and opens of its link.
    shares: u64,
    clicks: u64,
}

#[derive(Debug, Default)]
struct Shard {
    participants: HashMap<ParticipantId, Participant>,
    attempts: HashMap<(ParticipantId, AttemptId), AttemptState>,
    agg: Aggregates,
}

#[derive(Debug, Default)]
struct BoardSet {
    keys: HashMap<ParticipantId, u64>,
    /// Best first; equal keys by participant id descending, as Redis's `ZREVRANGE` orders them.
    order: SortedList<(Reverse<u64>, Reverse<ParticipantId>)>,
}

impl BoardSet {
    /// `ZADD GT`: sets the key only if it is higher than the one held.
    fn add_gt(&mut self, id: &ParticipantId, key: u64) {
        match self.keys.get(id) {
            Some(&old) if old >= key => {}
            old => {
                if let Some(&old) = old {
                    self.order.remove(&(Reverse(old), Reverse(id.clone())));
                }
                self.keys.insert(id.clone(), key);
                self.order.insert((Reverse(key), Reverse(id.clone())));
            }
        }
    }

    fn remove(&mut self, id: &ParticipantId) {
        if let Some(old) = self.keys.remove(id) {
            self.order.remove(&(Reverse(old), Reverse(id.clone())));
        }
    }

    /// `ZREVRANGE offset offset+limit-1 WITHSCORES`, with `ZCARD`.
    fn page(&self, offset: u64, limit: u64) -> BoardPage {
        let entries = self
            .order
            .range(usize::try_from(offset).unwrap_or(usize::MAX), limit as usize)
            .into_iter()
            .map(|(Reverse(k), Reverse(id))| (id.clone(), *k))
            .collect();
        BoardPage { entries, total: self.order.len() as u64 }
    }

    fn standing(&self, id: &ParticipantId) -> Option<Standing> {
        let key = *self.keys.get(id)?;
        let rank = self.order.rank(&(Reverse(key), Reverse(id.clone())))? as u64;
        Some(Standing { rank, total: self.order.len() as u64 })
    }
}

#[derive(Debug)]
struct CampaignHot {
    shards: Vec<tokio::sync::Mutex<Shard>>,
    boards: Mutex<HashMap<Board, BoardSet>>,
    /// Participants hidden from the boards ([`HotStore::hide`]). Locked after `boards` (and
    /// after a shard), never before.
    hidden: Mutex<std::collections::HashSet<ParticipantId>>,
}

impl CampaignHot {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| tokio::sync::Mutex::new(Shard::default())).collect(),
            boards: Mutex::new(HashMap::new()),
            hidden: Mutex::default(),
        }
    }

    async fn shard(&self, id: &ParticipantId) -> tokio::sync::MutexGuard<'_, Shard> {
        self.shards[usize::from(id.shard(SHARDS as u16))].lock().await
    }
}

/// The in-process hot store.
///
/// Writes run to completion on their own task even if the request that asked for them goes
/// away, so a change whose event was committed is always applied too.
#[derive(Default, Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    campaigns: RwLock<HashMap<CampaignId, Arc<CampaignHot>>>,
    sink: Option<Arc<dyn EventSink>>,
    /// Shared values and leases, with their expiry.
    shared: Mutex<HashMap<String, (String, std::time::Instant)>>,
    /// Relay codes of every campaign.
    codes: Mutex<HashMap<RelayCode, CodeOwner>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").field("durable", &self.inner.sink.is_some()).finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// A store whose events go nowhere (tests of the store alone).
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that commits every change's event to `sink` before the change takes effect.
    pub fn with_sink(sink: Arc<dyn EventSink>) -> Self {
        Self {
            inner: Arc::new(Inner {
                campaigns: RwLock::default(),
                sink: Some(sink),
                shared: Mutex::default(),
                codes: Mutex::default(),
            }),
        }
    }

    fn campaign(&self, id: &CampaignId) -> Arc<CampaignHot> {
        self.inner.campaign(id)
    }

    /// Runs a write on its own task, so it is not abandoned halfway if the caller is dropped.
    async fn detached<T, F>(&self, f: impl FnOnce(Arc<Inner>) -> F) -> HotResult<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = HotResult<T>> + Send + 'static,
    {
        tokio::spawn(f(self.inner.clone()))
            .await
            .map_err(|e| HotError::Corrupt(format!("a store write failed: {e}")))?
    }
}

impl Inner {
    fn campaign(&self, id: &CampaignId) -> Arc<CampaignHot> {
        if let Some(c) = self.campaigns.read().expect("campaigns lock poisoned").get(id) {
            return c.clone();
        }
        let mut all = self.campaigns.write().expect("campaigns lock poisoned");
        all.entry(id.clone()).or_insert_with(|| Arc::new(CampaignHot::new())).clone()
    }

    /// Commits the event of a change; the caller applies the change only if this succeeds.
    async fn commit(&self, campaign: &CampaignId, at: Millis, body: EventBody) -> HotResult<()> {
        match &self.sink {
            None => Ok(()),
            Some(sink) => sink
                .commit(vec![Event::new(campaign.clone(), at, body)])
                .await
                .map_err(|e| HotError::Unavailable(format!("recording the change failed: {e}"))),
        }
    }
}

fn bump(agg: &mut Aggregates, places: &[PlaceId], unit: &Option<UnitId>, f: impl Fn(&mut Aggregate)) {
    for p in places {
        f(agg.places.entry(p.clone()).or_default());
    }
    if let Some(u) = unit {
        f(agg.units.entry(u.clone()).or_default());
    }
}

#[async_trait]
impl HotStore for EmbeddedStore {
    async fn join(&self, cmd: JoinCmd) -> HotResult<JoinOutcome> {
        self.detached(move |inner| async move { inner.join(cmd).await }).await
    }

    async fn participant(&self, campaign: &CampaignId, id: &ParticipantId) -> HotResult<Option<ParticipantState>> {
        let c = self.campaign(campaign);
        let shard = c.shard(id).await;
        Ok(shard.participants.get(id).map(|p| p.state.clone()))
    }

    async fn start_attempt(&self, cmd: StartCmd) -> HotResult<StartOutcome> {
        self.detached(move |inner| async move { inner.start_attempt(cmd).await }).await
    }

    async fn attempt(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        id: &AttemptId,
    ) -> HotResult<Option<AttemptState>> {
        let c = self.campaign(campaign);
        let shard = c.shard(participant).await;
        Ok(shard.attempts.get(&(participant.clone(), id.clone())).cloned())
    }

    async fn answer(&self, cmd: AnswerCmd) -> HotResult<AnswerOutcome> {
        self.detached(move |inner| async move { inner.answer(cmd).await }).await
    }

    async fn finish(&self, cmd: FinishCmd) -> HotResult<FinishOutcome> {
        self.detached(move |inner| async move { inner.finish(cmd).await }).await
    }

    async fn publish_best(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        key: u64,
        boards: &[Board],
    ) -> HotResult<Vec<Standing>> {
        let c = self.campaign(campaign);
        let mut all = c.boards.lock().expect("boards lock poisoned");
        let hidden = c.hidden.lock().expect("hidden lock poisoned").contains(participant);
        Ok(boards
            .iter()
            .map(|b| {
                let set = all.entry(b.clone()).or_default();
                set.add_gt(participant, key);
                let standing = set.standing(participant).expect("just added");
                // A hidden participant is ranked as if it stood there, and taken off again.
                if hidden {
                    set.remove(participant);
                }
                standing
            })
            .collect())
    }

    async fn board_page(&self, campaign: &CampaignId, board: &Board, offset: u64, limit: u64) -> HotResult<BoardPage> {
        let c = self.campaign(campaign);
        let all = c.boards.lock().expect("boards lock poisoned");
        Ok(all.get(board).map(|set| set.page(offset, limit)).unwrap_or_default())
    }

    async fn page_around(
        &self,
        campaign: &CampaignId,
        board: &Board,
        participant: &ParticipantId,
        limit: u64,
    ) -> HotResult<Option<(u64, BoardPage)>> {
        let c = self.campaign(campaign);
        let all = c.boards.lock().expect("boards lock poisoned");
        let Some(set) = all.get(board) else { return Ok(None) };
        let Some(s) = set.standing(participant) else { return Ok(None) };
        let start = s.rank.saturating_sub(limit / 2);
        Ok(Some((start, set.page(start, limit))))
    }

    async fn nicknames(&self, campaign: &CampaignId, ids: &[ParticipantId]) -> HotResult<Vec<Option<String>>> {
        let c = self.campaign(campaign);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(c.shard(id).await.participants.get(id).map(|p| p.state.nickname.clone()));
        }
        Ok(out)
    }

    async fn aggregates(&self, campaign: &CampaignId) -> HotResult<Aggregates> {
        let c = self.campaign(campaign);
        let mut out = Aggregates::default();
        for shard in &c.shards {
            let s = shard.lock().await;
            out.participants += s.agg.participants;
            out.relayed += s.agg.relayed;
            out.shares += s.agg.shares;
            out.clicks += s.agg.clicks;
            for (k, v) in &s.agg.places {
                add(out.places.entry(k.clone()).or_default(), v);
            }
            for (k, v) in &s.agg.units {
                add(out.units.entry(k.clone()).or_default(), v);
            }
        }
        Ok(out)
    }

    async fn ping(&self) -> HotResult<()> {
        Ok(())
    }

    async fn register_code(&self, code: &RelayCode, owner: &CodeOwner) -> HotResult<CodeOwner> {
        let mut codes = self.inner.codes.lock().expect("codes lock poisoned");
        Ok(codes.entry(code.clone()).or_insert_with(|| owner.clone()).clone())
    }

    async fn resolve_code(&self, code: &RelayCode) -> HotResult<Option<CodeOwner>> {
        Ok(self.inner.codes.lock().expect("codes lock poisoned").get(code).cloned())
    }

    async fn share(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        channel: ShareChannel,
        now: Millis,
    ) -> HotResult<Option<u64>> {
        let (campaign, participant) = (campaign.clone(), participant.clone());
        self.detached(move |inner| async move {
            let c = inner.campaign(&campaign);
            let mut shard = c.shard(&participant).await;
            let Some(p) = shard.participants.get(&participant) else { return Ok(None) };
            let n = p.shares + 1;
            inner.commit(&campaign, now, EventBody::Shared { participant: participant.clone(), channel, n }).await?;
            shard.participants.get_mut(&participant).expect("checked above").shares = n;
            shard.agg.shares += 1;
            Ok(Some(n))
        })
        .await
    }

    async fn click(&self, owner: &CodeOwner, now: Millis) -> HotResult<()> {
        let owner = owner.clone();
        self.detached(move |inner| async move {
            let c = inner.campaign(&owner.campaign);
            let mut shard = c.shard(&owner.participant).await;
            let Some(p) = shard.participants.get(&owner.participant) else { return Ok(()) };
            let n = p.clicks + 1;
            inner
                .commit(&owner.campaign, now, EventBody::Clicked { participant: owner.participant.clone(), n })
                .await?;
            shard.participants.get_mut(&owner.participant).expect("checked above").clicks = n;
            shard.agg.clicks += 1;
            Ok(())
        })
        .await
    }

    async fn shared_get(&self, name: &str) -> HotResult<Option<String>> {
        let mut shared = self.inner.shared.lock().expect("shared lock poisoned");
        let now = std::time::Instant::now();
        shared.retain(|_, (_, until)| *until > now);
        Ok(shared.get(name).map(|(v, _)| v.clone()))
    }

    async fn shared_set(&self, name: &str, value: &str, ttl_ms: u64) -> HotResult<()> {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ttl_ms.max(1));
        self.inner.shared.lock().expect("shared lock poisoned").insert(name.to_owned(), (value.to_owned(), until));
        Ok(())
    }

    async fn shared_lease(&self, name: &str, holder: &str, ttl_ms: u64) -> HotResult<bool> {
        let mut shared = self.inner.shared.lock().expect("shared lock poisoned");
        let now = std::time::Instant::now();
        if shared.get(name).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        shared.insert(name.to_owned(), (holder.to_owned(), now + std::time::Duration::from_millis(ttl_ms.max(1))));
        Ok(true)
    }

    async fn shared_release(&self, name: &str, holder: &str) -> HotResult<()> {
        let mut shared = self.inner.shared.lock().expect("shared lock poisoned");
        if shared.get(name).is_some_and(|(h, _)| h == holder) {
            shared.remove(name);
        }
        Ok(())
    }

    async fn shared_incr(&self, name: &str, ttl_ms: u64) -> HotResult<u64> {
        let mut shared = self.inner.shared.lock().expect("shared lock poisoned");
        let now = std::time::Instant::now();
        let n = match shared.get_mut(name).filter(|(_, until)| *until > now) {
            Some((v, _)) => {
                let n = v.parse::<u64>().unwrap_or(0) + 1;
                *v = n.to_string();
                n
            }
            None => {
                // A new counter: now and then drop the expired ones (shared_get does so too),
                // so counters of past windows do not pile up.
                if shared.len() >= 64 && shared.len().is_power_of_two() {
                    shared.retain(|_, (_, until)| *until > now);
                }
                let until = now + std::time::Duration::from_millis(ttl_ms.max(1));
                shared.insert(name.to_owned(), ("1".to_owned(), until));
                1
            }
        };
        Ok(n)
    }

    async fn clear_campaign(&self, campaign: &CampaignId) -> HotResult<()> {
        self.inner.campaigns.write().expect("campaigns lock poisoned").remove(campaign);
        Ok(())
    }

    async fn restore_participant(&self, campaign: &CampaignId, p: RestoredParticipant) -> HotResult<()> {
        let c = self.campaign(campaign);
        let mut shard = c.shard(&p.state.id).await;
        shard.agg.participants += 1;
        let best = p.state.best;
        let relayed = u64::from(p.state.inviter.is_some());
        shard.agg.relayed += relayed;
        bump(&mut shard.agg, &p.places, &p.state.unit, |a| {
            a.participants += 1;
            a.relayed += relayed;
            if let Some(b) = best {
                a.best_sum += b.score;
                a.best_count += 1;
            }
        });
        shard
            .participants
            .insert(p.state.id.clone(), Participant { state: p.state, places: p.places, shares: 0, clicks: 0 });
        Ok(())
    }

    async fn restore_attempt(&self, campaign: &CampaignId, a: AttemptState) -> HotResult<()> {
        let c = self.campaign(campaign);
        let mut shard = c.shard(&a.participant).await;
        shard.attempts.insert((a.participant.clone(), a.id.clone()), a);
        Ok(())
    }

    async fn hide(&self, campaign: &CampaignId, participant: &ParticipantId, boards: &[Board]) -> HotResult<bool> {
        let c = self.campaign(campaign);
        // The shard's lock orders this with the participant's writes (a finish's new best).
        let shard = c.shard(participant).await;
        if !shard.participants.contains_key(participant) {
            return Ok(false);
        }
        let mut all = c.boards.lock().expect("boards lock poisoned");
        c.hidden.lock().expect("hidden lock poisoned").insert(participant.clone());
        for b in boards {
            if let Some(set) = all.get_mut(b) {
                set.remove(participant);
            }
        }
        Ok(true)
    }

    async fn unhide(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        boards: &[Board],
        layout: &baton_core::leader::LeaderLayout,
    ) -> HotResult<bool> {
        let c = self.campaign(campaign);
        let shard = c.shard(participant).await;
        let Some(p) = shard.participants.get(participant) else { return Ok(false) };
        let mut all = c.boards.lock().expect("boards lock poisoned");
        c.hidden.lock().expect("hidden lock poisoned").remove(participant);
        if let Some(best) = p.state.best {
            let key = layout.key(best);
            for b in boards {
                all.entry(b.clone()).or_default().add_gt(participant, key);
            }
        }
        Ok(true)
    }
}

fn add(into: &mut Aggregate, from: &Aggregate) {
    into.participants += from.participants;
    into.relayed += from.relayed;
    into.best_sum += from.best_sum;
    into.best_count += from.best_count;
}

impl Inner {
    async fn join(&self, cmd: JoinCmd) -> HotResult<JoinOutcome> {
        let c = self.campaign(&cmd.campaign);
        let mut shard = c.shard(&cmd.participant).await;
        if let Some(p) = shard.participants.get(&cmd.participant) {
            return Ok(JoinOutcome::Existing(p.state.clone()));
        }
        let state = ParticipantState {
            id: cmd.participant.clone(),
            region: cmd.region.clone(),
            unit: cmd.unit.clone(),
            nickname: cmd.nickname.as_str().to_owned(),
            joined_at: cmd.now,
            best: None,
            attempts_day: 0,
            attempts_on_day: 0,
            open_attempt: None,
            relay_code: cmd.relay_code.clone(),
            inviter: cmd.inviter.as_ref().map(|o| o.participant.clone()),
            depth: cmd.inviter.as_ref().map_or(0, |o| o.depth + 1),
        };
        let body = EventBody::Joined {
            participant: cmd.participant.clone(),
            region: cmd.region,
            unit: cmd.unit.clone(),
            nickname: state.nickname.clone(),
            places: cmd.places.clone(),
            relay_code: Some(state.relay_code.clone()),
            inviter: state.inviter.clone(),
            depth: state.depth,
            client: cmd.client.clone(),
        };
        self.commit(&cmd.campaign, cmd.now, body).await?;
        let relayed = u64::from(state.inviter.is_some());
        shard.agg.participants += 1;
        shard.agg.relayed += relayed;
        bump(&mut shard.agg, &cmd.places, &cmd.unit, |a| {
            a.participants += 1;
            a.relayed += relayed;
        });
        shard
            .participants
            .insert(cmd.participant, Participant { state: state.clone(), places: cmd.places, shares: 0, clicks: 0 });
        Ok(JoinOutcome::Created(state))
    }

    async fn start_attempt(&self, cmd: StartCmd) -> HotResult<StartOutcome> {
        let c = self.campaign(&cmd.campaign);
        let mut guard = c.shard(&cmd.participant).await;
        let shard = &mut *guard;
        let Some(p) = shard.participants.get(&cmd.participant) else {
            return Ok(StartOutcome::NoParticipant);
        };
        let now = cmd.attempt.started_at;
        if let Some(open) = &p.state.open_attempt
            && let Some(a) = shard.attempts.get(&(cmd.participant.clone(), open.clone()))
        {
            return Ok(if now < a.expires_at {
                StartOutcome::Resumed(a.clone())
            } else {
                StartOutcome::OpenExpired(open.clone())
            });
        }
        if p.state.attempts_left(cmd.day, cmd.per_day) == 0 {
            return Ok(StartOutcome::Exhausted);
        }
        let mut state = p.state.clone();
        if state.attempts_day != cmd.day {
            state.attempts_day = cmd.day;
            state.attempts_on_day = 0;
        }
        state.attempts_on_day += 1;
        state.open_attempt = Some(cmd.attempt.id.clone());
        let a = &cmd.attempt;
        let body = EventBody::AttemptStarted {
            participant: cmd.participant.clone(),
            attempt: a.id.clone(),
            expires_at: a.expires_at,
            limit_ms: a.limit_ms,
            day: cmd.day,
            questions: a.questions.clone(),
        };
        self.commit(&cmd.campaign, now, body).await?;
        shard.participants.get_mut(&cmd.participant).expect("checked above").state = state;
        shard.attempts.insert((cmd.participant, cmd.attempt.id.clone()), cmd.attempt.clone());
        Ok(StartOutcome::Started(cmd.attempt))
    }

    async fn answer(&self, cmd: AnswerCmd) -> HotResult<AnswerOutcome> {
        let c = self.campaign(&cmd.campaign);
        let mut shard = c.shard(&cmd.participant).await;
        let key = (cmd.participant.clone(), cmd.attempt.clone());
        let Some(a) = shard.attempts.get(&key) else {
            return Ok(AnswerOutcome::AttemptNotFound);
        };
        let Some(index) = a.questions.iter().position(|q| q.id == cmd.question) else {
            return Ok(AnswerOutcome::NotInAttempt);
        };
        let correct_mask = a.questions[index].correct_mask;
        if let Some(judged) = a.answers[index] {
            let answered = Answered { index, correct_mask, judged };
            return Ok(if judged.choice_mask == cmd.choice_mask {
                AnswerOutcome::Repeat(answered)
            } else {
                AnswerOutcome::Conflict(answered)
            });
        }
        // Past its expiry every question's time is up: the attempt takes no more answers.
        if a.finished.is_some() || cmd.now > a.expires_at {
            return Ok(AnswerOutcome::AttemptFinished);
        }
        let q = &a.questions[index];
        let score_before = a.answers.iter().flatten().map(|j| u64::from(j.points)).sum();
        let (judged, cursor) =
            scoring::judge(q.correct_mask, cmd.choice_mask, q.points, score_before, a.cursor, cmd.now, a.limit_ms);
        let body = EventBody::Answered {
            participant: cmd.participant.clone(),
            attempt: cmd.attempt.clone(),
            question: cmd.question.clone(),
            index: index as u32,
            judged,
            cursor,
        };
        self.commit(&cmd.campaign, cmd.now, body).await?;
        let a = shard.attempts.get_mut(&key).expect("checked above");
        a.answers[index] = Some(judged);
        a.cursor = cursor;
        Ok(AnswerOutcome::Judged(Answered { index, correct_mask, judged }))
    }

    async fn finish(&self, cmd: FinishCmd) -> HotResult<FinishOutcome> {
        let c = self.campaign(&cmd.campaign);
        let mut guard = c.shard(&cmd.participant).await;
        let shard = &mut *guard;
        let key = (cmd.participant.clone(), cmd.attempt.clone());
        let Some(a) = shard.attempts.get(&key) else {
            return Ok(FinishOutcome::AttemptNotFound);
        };
        let p = shard
            .participants
            .get(&cmd.participant)
            .ok_or_else(|| HotError::Corrupt("attempt without participant".into()))?;
        if let Some(finished) = a.finished {
            let best = p.state.best.ok_or_else(|| HotError::Corrupt("finished attempt without a best".into()))?;
            return Ok(FinishOutcome::Finished { finished, best, newly: false });
        }
        let totals = scoring::totals(a.answers.iter().flatten(), a.questions.len(), a.limit_ms);
        let finished = Finished { totals, reached_at: scoring::finished_at(cmd.now, a.expires_at) };
        let result = LeaderResult { score: totals.score, total_ms: totals.total_ms, reached_ms: finished.reached_at };
        let old = p.state.best;
        let improved = scoring::is_better(result, old);
        let best = if improved { result } else { old.expect("not better than nothing") };
        let body = EventBody::AttemptFinished {
            participant: cmd.participant.clone(),
            attempt: cmd.attempt.clone(),
            totals,
            reached_at: finished.reached_at,
            best: best.into(),
        };
        self.commit(&cmd.campaign, cmd.now, body).await?;
        shard.attempts.get_mut(&key).expect("checked above").finished = Some(finished);
        let p = shard.participants.get_mut(&cmd.participant).expect("checked above");
        if p.state.open_attempt.as_ref() == Some(&cmd.attempt) {
            p.state.open_attempt = None;
        }
        if improved {
            p.state.best = Some(result);
            let delta = result.score - old.map_or(0, |b| b.score);
            let first = u64::from(old.is_none());
            let (places, unit) = (p.places.clone(), p.state.unit.clone());
            bump(&mut shard.agg, &places, &unit, |agg| {
                agg.best_sum += delta;
                agg.best_count += first;
            });
        }
        Ok(FinishOutcome::Finished { finished, best, newly: true })
    }
}
