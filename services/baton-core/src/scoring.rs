//! Choices, per-question deadlines, points, finishing, and which attempt is best.
//!
//! Time is server time. An attempt starts a clock (the *cursor*); each answer is judged against
//! `cursor + seconds_per_question` (plus [`GRACE_MS`] for the network), then moves the cursor:
//! to the moment of the answer, or, when the answer came too late, to the moment the question's
//! time ran out. So an attempt lasts at most `questions × (seconds + grace)`, and a participant
//! who walked away finds every later question timed out too. Correctness dominates the score;
//! time only breaks ties (see [`crate::leader`]).

use crate::Millis;
use crate::campaign::QuestionKind;
use crate::leader::LeaderResult;
use serde::{Deserialize, Serialize};

/// Allowance for the network between the client's countdown and the server's clock.
pub const GRACE_MS: Millis = 2_000;

/// Why a choice is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("choose at least one option")]
    Empty,
    #[error("an option is chosen twice")]
    Duplicate,
    #[error("an option index is out of range")]
    OutOfRange,
    #[error("this question takes exactly one option")]
    TooMany,
}

/// Parses a choice (option indices as sent) into a bit mask over shown positions.
pub fn choice_mask(choice: &[i64], option_count: usize, kind: QuestionKind) -> Result<u32, ChoiceError> {
    if choice.is_empty() {
        return Err(ChoiceError::Empty);
    }
    let mut mask = 0u32;
    for &c in choice {
        if c < 0 || c >= option_count as i64 || c >= 32 {
            return Err(ChoiceError::OutOfRange);
        }
        let bit = 1u32 << c;
        if mask & bit != 0 {
            return Err(ChoiceError::Duplicate);
        }
        mask |= bit;
    }
    if kind != QuestionKind::Multi && choice.len() > 1 {
        return Err(ChoiceError::TooMany);
    }
    Ok(mask)
}

/// The option positions of a mask, ascending.
pub fn mask_to_choice(mask: u32) -> Vec<u8> {
    (0..32u8).filter(|i| mask & (1 << i) != 0).collect()
}

/// How one answer was judged. Stored with the attempt; a resend returns it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judged {
    pub choice_mask: u32,
    pub correct: bool,
    pub points: u32,
    pub timed_out: bool,
    /// Time the answer took, at most the question's limit.
    pub elapsed_ms: u64,
    /// The attempt's score right after this answer.
    pub attempt_score: u64,
}

/// Judges an answer given at `now` against the attempt's clock. Returns the judgement and the
/// new cursor.
pub fn judge(
    correct_mask: u32,
    choice_mask: u32,
    points: u32,
    score_before: u64,
    cursor: Millis,
    now: Millis,
    limit_ms: Millis,
) -> (Judged, Millis) {
    let elapsed = (now - cursor).max(0);
    let timed_out = elapsed > limit_ms + GRACE_MS;
    let correct = !timed_out && choice_mask == correct_mask;
    let points = if correct { points } else { 0 };
    let next_cursor = if timed_out { cursor + limit_ms } else { now };
    let judged = Judged {
        choice_mask,
        correct,
        points,
        timed_out,
        elapsed_ms: elapsed.min(limit_ms) as u64,
        attempt_score: score_before + u64::from(points),
    };
    (judged, next_cursor)
}

/// When an attempt started at `started` with `n` questions of `limit_ms` each is over.
pub fn attempt_expires(started: Millis, n: usize, limit_ms: Millis) -> Millis {
    started + n as Millis * (limit_ms + GRACE_MS)
}

/// The outcome of a finished attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub score: u64,
    pub correct_count: u32,
    /// Sum of answering times; every unanswered question counts its full limit.
    pub total_ms: u64,
}

/// Totals of an attempt of `n` questions given the answers it has.
pub fn totals<'a>(answers: impl IntoIterator<Item = &'a Judged>, n: usize, limit_ms: Millis) -> Totals {
    let mut t = Totals { score: 0, correct_count: 0, total_ms: 0 };
    let mut answered = 0;
    for a in answers {
        answered += 1;
        t.score += u64::from(a.points);
        t.correct_count += u32::from(a.correct);
        t.total_ms += a.elapsed_ms;
    }
    t.total_ms += (n.saturating_sub(answered)) as u64 * limit_ms as u64;
    t
}

/// When a finish at `now` counts as reached: an attempt closed after it expired was over when
/// it expired.
pub fn finished_at(now: Millis, expires: Millis) -> Millis {
    now.min(expires)
}

/// Whether `new` beats the participant's best so far (the published order: score, then time;
/// an equal result reached later does not replace the earlier one).
pub fn is_better(new: LeaderResult, best: Option<LeaderResult>) -> bool {
    match best {
        None => true,
        Some(b) => {
            (new.score, std::cmp::Reverse(new.total_ms), std::cmp::Reverse(new.reached_ms))
                > (b.score, std::cmp::Reverse(b.total_ms), std::cmp::Reverse(b.reached_ms))
        }
    }
}

/// The share of ranked participants below `rank` (1-based) out of `total`, 0 to 100, one
/// decimal.
pub fn percentile(rank: u64, total: u64) -> f64 {
    if total == 0 || rank == 0 {
        return 0.0;
    }
    let below = total.saturating_sub(rank) as f64;
    (below * 1000.0 / total as f64).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn choices() {
        use QuestionKind::*;
        assert_eq!(choice_mask(&[2], 4, Single), Ok(0b100));
        assert_eq!(choice_mask(&[0, 3], 4, Multi), Ok(0b1001));
        assert_eq!(choice_mask(&[], 4, Multi), Err(ChoiceError::Empty));
        assert_eq!(choice_mask(&[1, 1], 4, Multi), Err(ChoiceError::Duplicate));
        assert_eq!(choice_mask(&[-1], 4, Single), Err(ChoiceError::OutOfRange));
        assert_eq!(choice_mask(&[4], 4, Single), Err(ChoiceError::OutOfRange));
        assert_eq!(choice_mask(&[0, 1], 2, Judge), Err(ChoiceError::TooMany));
        assert_eq!(mask_to_choice(0b1001), vec![0, 3]);
    }

    #[test]
    fn correctness_and_deadlines() {
        let (j, cur) = judge(0b10, 0b10, 10, 20, 1_000, 6_000, 20_000);
        assert!(j.correct && !j.timed_out);
        assert_eq!((j.points, j.attempt_score, j.elapsed_ms, cur), (10, 30, 5_000, 6_000));
        // Partly right is wrong.
        let (j, _) = judge(0b110, 0b10, 10, 0, 0, 1, 20_000);
        assert!(!j.correct && j.points == 0);
        // Within the grace: still counts, elapsed capped at the limit.
        let (j, cur) = judge(0b1, 0b1, 10, 0, 0, 21_000, 20_000);
        assert!(j.correct);
        assert_eq!((j.elapsed_ms, cur), (20_000, 21_000));
        // Too late: wrong, and the clock of the next question started when this one ran out.
        let (j, cur) = judge(0b1, 0b1, 10, 0, 0, 60_000, 20_000);
        assert!(j.timed_out && !j.correct && j.points == 0);
        assert_eq!(cur, 20_000);
    }

    #[test]
    fn totals_count_unanswered_as_wrong_and_slow() {
        let a = judge(1, 1, 10, 0, 0, 3_000, 20_000).0;
        let b = judge(1, 2, 10, 10, 3_000, 4_000, 20_000).0;
        let t = totals([&a, &b], 4, 20_000);
        assert_eq!(t, Totals { score: 10, correct_count: 1, total_ms: 3_000 + 1_000 + 40_000 });
    }

    #[test]
    fn best_and_percentile() {
        let r = |score, total_ms, reached_ms| LeaderResult { score, total_ms, reached_ms };
        assert!(is_better(r(10, 5, 9), None));
        assert!(is_better(r(20, 50, 9), Some(r(10, 5, 1))));
        assert!(is_better(r(10, 4, 9), Some(r(10, 5, 1))));
        assert!(!is_better(r(10, 5, 9), Some(r(10, 5, 1))));
        assert!(!is_better(r(0, 1, 9), Some(r(10, 5, 1))));
        assert_eq!(percentile(1, 4), 75.0);
        assert_eq!(percentile(4, 4), 0.0);
        assert_eq!(percentile(1, 3), 66.7);
    }

    proptest! {
        /// However late the answers come, an attempt's clock never runs past its expiry.
        #[test]
        fn an_attempt_never_outlives_its_expiry(gaps in proptest::collection::vec(0i64..60_000, 1..12)) {
            let limit = 20_000;
            let n = gaps.len();
            let (mut cursor, mut now) = (0, 0);
            for g in gaps {
                now += g;
                let (_, next) = judge(1, 1, 10, 0, cursor, now, limit);
                prop_assert!(next <= now.max(cursor + limit));
                cursor = next;
            }
            prop_assert!(cursor <= attempt_expires(0, n, limit));
        }
    }
}
