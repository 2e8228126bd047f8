//! The draw: which questions an attempt asks, in which order, with which option order.
//!
//! Each category with a quota gives exactly that many questions; the rest of the attempt comes
//! from the remaining bank, every question equally likely. Questions are then shuffled, and so
//! are the options of single- and multiple-choice questions (true/false keeps 正确, 错误), so
//! neighbours comparing screens or a script replaying positions gain nothing.

use crate::campaign::{Campaign, Question, QuestionKind};
use crate::ids::QuestionId;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// One question of an attempt as the attempt stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnQuestion {
    pub id: QuestionId,
    pub kind: QuestionKind,
    /// `perm[shown position] = index in the document's options`.
    pub perm: Vec<u8>,
    /// The correct options as a bit mask over shown positions.
    pub correct_mask: u32,
    /// Points for a correct answer.
    pub points: u32,
}

impl DrawnQuestion {
    /// Prepares `q` for an attempt, shuffling its options with `rng` unless it is true/false.
    pub fn new<R: Rng + ?Sized>(q: &Question, points: u32, rng: &mut R) -> Self {
        let mut perm: Vec<u8> = (0..q.options.len() as u8).collect();
        if q.kind != QuestionKind::Judge {
            perm.shuffle(rng);
        }
        let correct_mask = perm
            .iter()
            .enumerate()
            .filter(|(_, orig)| q.answer.contains(orig))
            .fold(0u32, |m, (shown, _)| m | (1 << shown));
        Self { id: q.id.clone(), kind: q.kind, perm, correct_mask, points }
    }

    /// The options in the order this attempt shows them.
    pub fn shown_options<'a>(&self, q: &'a Question) -> Vec<&'a str> {
        self.perm.iter().map(|&i| q.options[usize::from(i)].as_str()).collect()
    }

    pub fn option_count(&self) -> usize {
        self.perm.len()
    }

    /// The correct options, as shown positions, ascending.
    pub fn correct_choice(&self) -> Vec<u8> {
        crate::scoring::mask_to_choice(self.correct_mask)
    }
}

/// Draws the questions of a new attempt.
pub fn draw<R: Rng + ?Sized>(campaign: &Campaign, rng: &mut R) -> Vec<DrawnQuestion> {
    let rules = campaign.rules();
    let bank = campaign.questions();
    let n = usize::from(rules.questions_per_attempt);
    let mut taken = vec![false; bank.len()];
    let mut picked = Vec::with_capacity(n);
    for (cat, &quota) in &rules.quotas {
        let pool = &campaign.by_category()[cat];
        for i in rand::seq::index::sample(rng, pool.len(), usize::from(quota)) {
            taken[pool[i]] = true;
            picked.push(pool[i]);
        }
    }
    let rest: Vec<usize> = (0..bank.len()).filter(|&i| !taken[i]).collect();
    let more = n - picked.len();
    picked.extend(rand::seq::index::sample(rng, rest.len(), more).into_iter().map(|i| rest[i]));
    picked.shuffle(rng);
    picked.into_iter().map(|i| DrawnQuestion::new(&bank[i], rules.points_per_question, rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::tests::sample_doc;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::{HashMap, HashSet};

    proptest! {
        #[test]
        fn draws_respect_quotas_and_keep_answers_right(seed in any::<u64>()) {
            let c = Campaign::from_doc(sample_doc()).unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let drawn = draw(&c, &mut rng);
            prop_assert_eq!(drawn.len(), 4);
            let ids: HashSet<_> = drawn.iter().map(|d| d.id.clone()).collect();
            prop_assert_eq!(ids.len(), 4, "no question twice");
            let mut per_cat: HashMap<&str, u16> = HashMap::new();
            for d in &drawn {
                let q = c.question(&d.id).unwrap();
                *per_cat.entry(q.category.as_str()).or_default() += 1;
                // The shuffled options are a permutation and the correct ones still are.
                let mut sorted = d.perm.clone();
                sorted.sort();
                prop_assert_eq!(sorted, (0..q.options.len() as u8).collect::<Vec<_>>());
                let shown = d.shown_options(q);
                let mut right: Vec<&str> = d.correct_choice().iter().map(|&i| shown[usize::from(i)]).collect();
                let mut want: Vec<&str> = q.answer.iter().map(|&i| q.options[usize::from(i)].as_str()).collect();
                right.sort();
                want.sort();
                prop_assert_eq!(right, want);
                if q.kind == QuestionKind::Judge {
                    prop_assert_eq!(shown, vec!["正确", "错误"]);
                }
            }
            for (cat, &quota) in &c.rules().quotas {
                prop_assert!(per_cat.get(cat.as_str()).copied().unwrap_or(0) >= quota);
            }
        }
    }

    #[test]
    fn every_question_and_every_option_order_can_come_up() {
        let c = Campaign::from_doc(sample_doc()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen_q = HashSet::new();
        let mut seen_perm = HashSet::new();
        for _ in 0..2000 {
            for d in draw(&c, &mut rng) {
                if d.id.as_str() == "b1" {
                    seen_perm.insert(d.perm.clone());
                }
                seen_q.insert(d.id);
            }
        }
        assert_eq!(seen_q.len(), 6);
        assert_eq!(seen_perm.len(), 24, "all 4! orders of b1's options");
    }
}
