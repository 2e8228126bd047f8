//! The campaigns this process serves: validated [`Campaign`]s shared by every role. The
//! database is their source; the binary loads them at start and refreshes them periodically,
//! so every pod converges on an imported change without a restart.

use baton_core::campaign::Campaign;
use baton_core::ids::CampaignId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, Default)]
pub struct Campaigns(Arc<RwLock<HashMap<CampaignId, Arc<Campaign>>>>);

impl Campaigns {
    pub fn get(&self, id: &CampaignId) -> Option<Arc<Campaign>> {
        self.0.read().expect("campaigns lock poisoned").get(id).cloned()
    }

    /// Adds or replaces one campaign.
    pub fn put(&self, c: Campaign) {
        self.0.write().expect("campaigns lock poisoned").insert(c.id().clone(), Arc::new(c));
    }

    /// Replaces the whole set.
    pub fn replace_all(&self, all: Vec<Campaign>) {
        let map = all.into_iter().map(|c| (c.id().clone(), Arc::new(c))).collect();
        *self.0.write().expect("campaigns lock poisoned") = map;
    }

    pub fn ids(&self) -> Vec<CampaignId> {
        self.0.read().expect("campaigns lock poisoned").keys().cloned().collect()
    }
}
