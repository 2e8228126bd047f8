//! The campaigns this process serves: validated [`Campaign`]s shared by every role. The
//! database is their source; the binary loads them at start and refreshes them periodically,
//! so every pod converges on an imported change without a restart.
//!
//! A campaign is held as its recent [`Version`]s, oldest first. Each version is a whole
//! validated campaign with the time from which attempts draw from it (`valid_from`): a new
//! version takes effect a fixed delay after it was written, longer than the refresh interval,
//! so every pod knows it before any attempt uses it. [`Campaigns::get`] is the newest version
//! (what the campaign is now: places, units, rules, title); [`Campaigns::at`] is the version in
//! effect at a time: attempts draw from the version in effect when they start, and are shown,
//! judged and explained by the version in effect at their start, whatever changed since.

use baton_core::Millis;
use baton_core::campaign::Campaign;
use baton_core::ids::CampaignId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How long versions stay loaded after a newer one took effect: far longer than any attempt
/// can run (at most 50 questions × 10 minutes), so every attempt still open, and every recent
/// one looked at again, finds the version it was drawn from.
pub const RETAIN_MS: Millis = 24 * 3600 * 1000;

/// One version of a campaign.
#[derive(Debug, Clone)]
pub struct Version {
    /// 1, 2, … per campaign, in the order they were written.
    pub number: i64,
    /// When attempts start drawing from it (0: always).
    pub valid_from: Millis,
    pub campaign: Arc<Campaign>,
}

#[derive(Debug, Clone, Default)]
pub struct Campaigns(Arc<RwLock<HashMap<CampaignId, Arc<[Version]>>>>);

/// Of versions ordered oldest first, the index of the one in effect at `t`: the newest whose
/// `valid_from` is not after `t`, or the oldest when `t` is before all of them.
fn effective(valid_from: impl DoubleEndedIterator<Item = Millis> + ExactSizeIterator, t: Millis) -> usize {
    let n = valid_from.len();
    valid_from.rev().position(|from| from <= t).map_or(0, |back| n - 1 - back)
}

/// Of versions ordered oldest first (their `valid_from`), the index of the first one worth
/// keeping at `now`: the one in effect [`RETAIN_MS`] ago, and every later one.
pub fn retained_from(valid_from: &[Millis], now: Millis) -> usize {
    effective(valid_from.iter().copied(), now.saturating_sub(RETAIN_MS))
}

impl Campaigns {
    /// The newest version of a campaign (which may not be in effect yet).
    pub fn get(&self, id: &CampaignId) -> Option<Arc<Campaign>> {
        self.read().get(id).and_then(|v| v.last()).map(|v| v.campaign.clone())
    }

    /// The version of a campaign in effect at `t` (the oldest loaded one for a `t` before all
    /// of them).
    pub fn at(&self, id: &CampaignId, t: Millis) -> Option<Arc<Campaign>> {
        let all = self.read().get(id).cloned()?;
        let i = effective(all.iter().map(|v| v.valid_from), t);
        all.get(i).map(|v| v.campaign.clone())
    }

    /// Every loaded version of a campaign, oldest first.
    pub fn versions(&self, id: &CampaignId) -> Option<Arc<[Version]>> {
        self.read().get(id).cloned()
    }

    /// Adds or replaces one campaign, as its only version (in effect always).
    pub fn put(&self, c: Campaign) {
        let id = c.id().clone();
        self.write().insert(id, Arc::from([Version { number: 1, valid_from: 0, campaign: Arc::new(c) }]));
    }

    /// Adds a version of a campaign (replacing one of the same number): what a process that
    /// just wrote it knows before the next reload.
    pub fn put_version(&self, v: Version) {
        let id = v.campaign.id().clone();
        let mut all = self.write();
        let mut list: Vec<Version> = all.get(&id).map(|l| l.to_vec()).unwrap_or_default();
        list.retain(|x| x.number != v.number);
        list.push(v);
        list.sort_by_key(|x| x.number);
        all.insert(id, list.into());
    }

    /// Replaces the whole set, one version per campaign.
    pub fn replace_all(&self, all: Vec<Campaign>) {
        let map = all
            .into_iter()
            .map(|c| (c.id().clone(), Arc::from([Version { number: 1, valid_from: 0, campaign: Arc::new(c) }])))
            .collect();
        *self.write() = map;
    }

    /// Replaces the whole set with `loaded` (each campaign's versions, oldest first). Versions
    /// this process added itself ([`Campaigns::put_version`]) that are newer than what was
    /// loaded are kept: the load may have read the database just before they were written.
    pub fn replace_versions(&self, loaded: HashMap<CampaignId, Vec<Version>>) {
        let mut all = self.write();
        let mut next: HashMap<CampaignId, Arc<[Version]>> = HashMap::with_capacity(loaded.len());
        for (id, mut list) in loaded {
            list.sort_by_key(|v| v.number);
            let newest = list.last().map_or(0, |v| v.number);
            if let Some(had) = all.get(&id) {
                list.extend(had.iter().filter(|v| v.number > newest).cloned());
            }
            if !list.is_empty() {
                next.insert(id, list.into());
            }
        }
        *all = next;
    }

    pub fn ids(&self) -> Vec<CampaignId> {
        self.read().keys().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<CampaignId, Arc<[Version]>>> {
        self.0.read().expect("campaigns lock poisoned")
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<CampaignId, Arc<[Version]>>> {
        self.0.write().expect("campaigns lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::campaign::CampaignDoc;

    fn campaign(title: &str) -> Campaign {
        let doc: CampaignDoc = serde_json::from_value(serde_json::json!({
            "format": 1, "id": "demo", "title": title, "description": "",
            "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T00:00:00Z",
            "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3},
            "categories": [{"id": "law", "name": "法律"}],
            "regions": [{"id": "city", "name": "市", "level": "city"}],
            "questions": [{"id": "q1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品？",
                           "options": ["是", "否"], "answer": [0], "explanation": "因为。", "source": "法"}]
        }))
        .unwrap();
        Campaign::from_doc(doc).unwrap()
    }

    fn version(number: i64, valid_from: Millis) -> Version {
        Version { number, valid_from, campaign: Arc::new(campaign(&format!("v{number}"))) }
    }

    fn title(c: Option<Arc<Campaign>>) -> String {
        c.unwrap().doc().title.clone()
    }

    #[test]
    fn the_version_in_effect_is_the_newest_that_started() {
        let cs = Campaigns::default();
        let id = CampaignId::parse("demo").unwrap();
        assert!(cs.get(&id).is_none() && cs.at(&id, 5).is_none());
        cs.put_version(version(2, 1_000));
        cs.put_version(version(1, 0));
        cs.put_version(version(3, 2_000));
        assert_eq!(title(cs.get(&id)), "v3", "the newest, in effect or not");
        assert_eq!(title(cs.at(&id, 0)), "v1");
        assert_eq!(title(cs.at(&id, 999)), "v1");
        assert_eq!(title(cs.at(&id, 1_000)), "v2");
        assert_eq!(title(cs.at(&id, 1_999)), "v2");
        assert_eq!(title(cs.at(&id, 2_000)), "v3");
        assert_eq!(title(cs.at(&id, i64::MAX)), "v3");
        // Before every loaded version (older ones were let go): the oldest loaded.
        cs.replace_versions(HashMap::from([(id.clone(), vec![version(2, 1_000), version(3, 2_000)])]));
        assert_eq!(title(cs.at(&id, 5)), "v2");
        assert_eq!(cs.versions(&id).unwrap().iter().map(|v| v.number).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn a_reload_keeps_versions_written_here_after_it_read() {
        let cs = Campaigns::default();
        let id = CampaignId::parse("demo").unwrap();
        cs.put_version(version(1, 0));
        cs.put_version(version(2, 1_000));
        cs.replace_versions(HashMap::from([(id.clone(), vec![version(1, 0)])]));
        assert_eq!(title(cs.get(&id)), "v2");
        // A campaign the database no longer lists is gone.
        cs.replace_versions(HashMap::new());
        assert!(cs.get(&id).is_none());
    }

    #[test]
    fn versions_are_retained_from_the_one_in_effect_a_day_ago() {
        let day = RETAIN_MS;
        let from = [0, 10, 20, 10 * day];
        assert_eq!(retained_from(&from, 5), 0);
        assert_eq!(retained_from(&from, day + 15), 1);
        assert_eq!(retained_from(&from, day + 20), 2);
        assert_eq!(retained_from(&from, 11 * day), 3);
        assert_eq!(retained_from(&[], 11 * day), 0);
    }
}
