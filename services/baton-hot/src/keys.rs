//! Every Redis key Baton uses, named in one place.
//!
//! Layout (`P` is the configured prefix, `v1` the key scheme's version, `C` a campaign, `S` a
//! shard number):
//! - `P{v1:C:S}:p:<participant>` — hash: the participant (region, unit, nickname, best, the
//!   day's attempt count, the open attempt, the aggregate fields it counts towards, `hidden`
//!   while an organizer hides it from the boards).
//! - `P{v1:C:S}:p:<participant>:a:<attempt>` — hash: one attempt (drawn questions, answers,
//!   clock, result); expires a day after it closes.
//! - `P{v1:C:S}:agg` — hash: the shard's counters per place and unit (`p:<id>:n`,
//!   `p:<id>:bs` sum of best scores, `p:<id>:bc` count of bests; `u:<id>:…` likewise; `all:n`).
//! - `P{v1:C:S}:events` — stream: the shard's events (`baton_core::events`, field `e`), read
//!   by the archiver's consumer group `archiver`; `P{v1:C:S}:dead` — stream: events the
//!   archiver could not apply, with the reason.
//! - `P{v1:codes:S}` — hash: relay code → `campaign:participant:depth`, for every campaign.
//! - `Pv1:shared:<name>` — strings: values every pod shares (cached upstream tokens, leases).
//! - `Pv1:C:lb:score`, `Pv1:C:lb:r:<place>`, `Pv1:C:lb:u:<unit>` — sorted sets: leaderboards,
//!   members participant ids, scores from `baton_core::leader`.
//!
//! Everything of one participant shares the shard's hash tag `{v1:C:S}`, so each participant
//! write is one script on one slot of a Redis Cluster. Leaderboards carry no tag: they are
//! written only with commutative, idempotent commands (`ZADD GT`) and may live in any slot.
//! Ids are validated slugs (`baton_core::ids`), so nothing a client sends can shape a key.

use crate::Board;
use baton_core::ids::{AttemptId, CampaignId, ParticipantId};

/// Key names for one deployment.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    shards: u16,
}

impl Keys {
    pub fn new(prefix: &str, shards: u16) -> Self {
        Self { prefix: prefix.to_owned(), shards: shards.max(1) }
    }

    pub fn shards(&self) -> u16 {
        self.shards
    }

    fn tag(&self, c: &CampaignId, shard: u16) -> String {
        format!("{}{{v1:{}:{}}}", self.prefix, c, shard)
    }

    pub fn participant(&self, c: &CampaignId, p: &ParticipantId) -> String {
        format!("{}:p:{}", self.tag(c, p.shard(self.shards)), p)
    }

    pub fn attempt(&self, c: &CampaignId, p: &ParticipantId, a: &AttemptId) -> String {
        format!("{}:a:{}", self.participant(c, p), a)
    }

    pub fn aggregates(&self, c: &CampaignId, shard: u16) -> String {
        format!("{}:agg", self.tag(c, shard))
    }

    pub fn aggregates_of(&self, c: &CampaignId, p: &ParticipantId) -> String {
        self.aggregates(c, p.shard(self.shards))
    }

    pub fn events(&self, c: &CampaignId, shard: u16) -> String {
        format!("{}:events", self.tag(c, shard))
    }

    pub fn events_of(&self, c: &CampaignId, p: &ParticipantId) -> String {
        self.events(c, p.shard(self.shards))
    }

    pub fn dead_letters(&self, c: &CampaignId, shard: u16) -> String {
        format!("{}:dead", self.tag(c, shard))
    }

    /// `SCAN` patterns of a campaign's hot state: its shard tags and its leaderboards.
    pub fn campaign_patterns(&self, c: &CampaignId) -> [String; 2] {
        [format!("{}{{v1:{}:*", glob_escape(&self.prefix), c), format!("{}v1:{}:lb:*", glob_escape(&self.prefix), c)]
    }

    /// The registry of relay codes (every campaign's), spread over the shards by code.
    pub fn codes(&self, code: &baton_core::relay::RelayCode) -> String {
        let shard =
            code.as_str().bytes().fold(0u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b))) % self.shards;
        format!("{}{{v1:codes:{}}}", self.prefix, shard)
    }

    /// A value shared by every pod (`shared_*` of the hot store).
    pub fn shared(&self, name: &str) -> String {
        format!("{}v1:shared:{}", self.prefix, name)
    }

    pub fn board(&self, c: &CampaignId, b: &Board) -> String {
        match b {
            Board::Score => format!("{}v1:{}:lb:score", self.prefix, c),
            Board::Region(r) => format!("{}v1:{}:lb:r:{}", self.prefix, c, r),
            Board::Unit(u) => format!("{}v1:{}:lb:u:{}", self.prefix, c, u),
        }
    }
}

/// Escapes glob characters of a key prefix for `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, ch| {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participants_keys_share_one_hash_tag() {
        let k = Keys::new("t:", 8);
        let c = CampaignId::parse("demo").unwrap();
        let p = ParticipantId::for_device(&c, "device-0001");
        let a = AttemptId::parse("a1").unwrap();
        let tag = |s: &str| s[s.find('{').unwrap()..=s.find('}').unwrap()].to_owned();
        let t = tag(&k.participant(&c, &p));
        assert_eq!(t, tag(&k.attempt(&c, &p, &a)));
        assert_eq!(t, tag(&k.aggregates_of(&c, &p)));
        assert!(k.participant(&c, &p).starts_with("t:{v1:demo:"));
        assert!(!k.board(&c, &Board::Score).contains('{'));
    }
}
