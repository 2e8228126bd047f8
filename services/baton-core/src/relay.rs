//! Relay codes and attribution: who passed the baton to whom.
//!
//! Every participant gets a [`RelayCode`]: 10 characters of Crockford's base32 (50 random
//! bits; no `i`, `l`, `o`, `u`), short enough to read aloud and to fit a small QR code, and
//! far too many to guess. Codes are written in lowercase; reading one forgives case and the
//! usual slips (`I`/`L` read as `1`, `O` as `0`) and ignores anything that cannot be a code —
//! an invite code is advisory, never an error.
//!
//! Attribution ([`attribute`]) is decided once, when a participant is created: the inviter is
//! an existing participant of the same campaign who is not the joiner. A participant can only
//! point at someone who existed before it, and never changes, so the share graph is a forest
//! by construction.

use crate::ids::ParticipantId;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Characters of a relay code.
pub const CODE_LEN: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A participant's relay code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RelayCode(String);

impl RelayCode {
    /// A fresh random code.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self((0..CODE_LEN).map(|_| ALPHABET[rng.random_range(0..32)] as char).collect())
    }

    /// Reads a code as a person may have typed it (any case, with the spaces or hyphens a
    /// poster groups it with); `None` if it cannot be one.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > 4 * CODE_LEN {
            return None;
        }
        let mut out = String::with_capacity(CODE_LEN);
        for c in s.chars().filter(|c| !matches!(c, ' ' | '-')) {
            if out.len() == CODE_LEN {
                return None;
            }
            let c = match c.to_ascii_lowercase() {
                'i' | 'l' => '1',
                'o' => '0',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            out.push(c);
        }
        (out.len() == CODE_LEN).then_some(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RelayCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The owner of a relay code, as the code registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeOwner {
    pub campaign: crate::ids::CampaignId,
    pub participant: ParticipantId,
    /// The owner's depth in its chain (0 for a chain's origin).
    pub depth: u32,
}

/// The inviter a new participant gets, given the owner of the code it came with (if the code
/// was known): someone of the same campaign who is not the joiner. Anything else is ignored.
pub fn attribute(
    campaign: &crate::ids::CampaignId,
    joiner: &ParticipantId,
    owner: Option<CodeOwner>,
) -> Option<CodeOwner> {
    owner.filter(|o| &o.campaign == campaign && &o.participant != joiner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CampaignId;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::HashMap;

    #[test]
    fn codes_are_short_unambiguous_and_forgiving() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let c = RelayCode::random(&mut rng);
        assert_eq!(c.as_str().len(), CODE_LEN);
        assert!(c.as_str().bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(RelayCode::parse(&c.as_str().to_uppercase()), Some(c.clone()));
        assert_eq!(RelayCode::parse(" 0123456789 ").unwrap().as_str(), "0123456789");
        assert_eq!(RelayCode::parse("OI23456789").unwrap().as_str(), "0123456789");
        assert_eq!(RelayCode::parse("7K3MZ 9QX2P").unwrap().as_str(), "7k3mz9qx2p", "as a poster prints it");
        assert_eq!(RelayCode::parse("7k3mz-9qx2p").unwrap().as_str(), "7k3mz9qx2p");
        for bad in ["", "short", "0123456789a", "01234567u9", "0123456<>9", "０１２３４５６７８９", &"x".repeat(5000)]
        {
            assert_eq!(RelayCode::parse(bad), None, "{bad:?}");
        }
    }

    proptest! {
        /// Whatever order people join in and whatever codes they bring (valid, their own,
        /// another campaign's, unknown), the share graph is a forest: every inviter existed
        /// first, nobody invites themselves, there are no cycles, and depth is the inviter's
        /// plus one.
        #[test]
        fn the_share_graph_is_a_forest(picks in proptest::collection::vec((0usize..60, 0usize..80, 0u8..4), 1..300)) {
            let here = CampaignId::parse("here").unwrap();
            let there = CampaignId::parse("there").unwrap();
            let pid = |i: usize| ParticipantId::parse(&format!("p{i}")).unwrap();
            // participant -> (inviter, depth, order of creation)
            let mut joined: HashMap<ParticipantId, (Option<ParticipantId>, u32, usize)> = HashMap::new();
            for (n, (who, code_of, kind)) in picks.into_iter().enumerate() {
                let joiner = pid(who);
                if joined.contains_key(&joiner) {
                    continue; // a re-join never changes anything
                }
                let owner = match kind {
                    0 => None,                                                          // no code
                    1 => Some(CodeOwner { campaign: there.clone(), participant: pid(code_of), depth: 0 }), // another campaign's
                    _ => joined.get(&pid(code_of)).map(|(_, d, _)| CodeOwner { campaign: here.clone(), participant: pid(code_of), depth: *d }), // known or unknown
                };
                let inviter = attribute(&here, &joiner, owner);
                let depth = inviter.as_ref().map_or(0, |o| o.depth + 1);
                joined.insert(joiner, (inviter.map(|o| o.participant), depth, n));
            }
            for (p, (inviter, depth, order)) in &joined {
                if let Some(i) = inviter {
                    prop_assert_ne!(i, p);
                    let (_, idepth, iorder) = &joined[i];
                    prop_assert!(iorder < order, "the inviter existed first");
                    prop_assert_eq!(*depth, idepth + 1);
                } else {
                    prop_assert_eq!(*depth, 0);
                }
                // Walking up ends at a root within `depth` steps: no cycles.
                let mut cur = p.clone();
                for _ in 0..=*depth {
                    match &joined[&cur].0 {
                        Some(i) => cur = i.clone(),
                        None => break,
                    }
                }
                prop_assert!(joined[&cur].0.is_none());
            }
        }
    }
}
