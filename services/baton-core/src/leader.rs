//! The published tie order, encoded into one exact sorted-set score.
//!
//! Leaderboards order participants by their best attempt: score (higher first), then total
//! answering time of that attempt (shorter first), then when it was reached (earlier first).
//! [`LeaderLayout::key`] packs the three into one integer below 2^53, so a Redis sorted-set
//! score (an `f64`) holds it exactly, a higher key is always a better result, and `ZADD GT`
//! keeps each participant's best without reading it first.
//!
//! Bits, high to low: `score` (as many as the campaign's maximum score needs), then
//! `max_ms - total_ms` (as many as the maximum answering time in ms needs), then
//! `max_reach - reached` where `reached` counts units of 2^k ms since the campaign started, with
//! the smallest `k` that makes the campaign's duration fit the bits that are left. A ten-day
//! campaign of ten 20-second questions worth 10 points each orders `reached` to 4 ms; results
//! equal to that precision are ordered by participant id, as Redis orders equal scores.

use crate::Millis;
use serde::Serialize;

/// The bits of an `f64` mantissa: integers up to 2^53 are exact.
pub const EXACT_BITS: u32 = 53;
/// Fewest bits `reached` may get; a campaign whose rules leave fewer is refused.
pub const MIN_REACH_BITS: u32 = 8;

fn bits_for(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// How one campaign packs results into sorted-set scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderLayout {
    max_score: u64,
    max_ms: u64,
    starts_ms: Millis,
    time_bits: u32,
    reach_bits: u32,
    reach_shift: u32,
    max_reach: u64,
}

/// A result as leaderboards see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderResult {
    pub score: u64,
    pub total_ms: u64,
    /// When it was reached (the attempt's finish), server time.
    pub reached_ms: Millis,
}

impl LeaderLayout {
    /// The layout for a campaign whose results score at most `max_score` points and take at
    /// most `max_ms` milliseconds, reached between `starts_ms` and `ends_ms`.
    pub fn new(max_score: u64, max_ms: u64, starts_ms: Millis, ends_ms: Millis) -> Result<Self, String> {
        let score_bits = bits_for(max_score);
        let time_bits = bits_for(max_ms);
        let used = score_bits + time_bits;
        if used + MIN_REACH_BITS > EXACT_BITS {
            return Err(format!(
                "a maximum score of {max_score} and a maximum answering time of {max_ms} ms leave too few bits for an exact leaderboard score; use fewer questions, points or seconds"
            ));
        }
        let reach_bits = EXACT_BITS - used;
        let duration = u64::try_from(ends_ms.saturating_sub(starts_ms)).unwrap_or(0);
        let mut reach_shift = 0;
        while (duration >> reach_shift) >= (1u64 << reach_bits) {
            reach_shift += 1;
        }
        Ok(Self {
            max_score,
            max_ms,
            starts_ms,
            time_bits,
            reach_bits,
            reach_shift,
            max_reach: duration >> reach_shift,
        })
    }

    /// The sorted-set score of a result: higher is better, exact in an `f64`.
    pub fn key(&self, r: LeaderResult) -> u64 {
        let score = r.score.min(self.max_score);
        let time = self.max_ms - r.total_ms.min(self.max_ms);
        let since = u64::try_from(r.reached_ms.saturating_sub(self.starts_ms)).unwrap_or(0);
        let reach = self.max_reach - (since >> self.reach_shift).min(self.max_reach);
        (score << (self.time_bits + self.reach_bits)) | (time << self.reach_bits) | reach
    }

    /// The result a key stands for (`reached_ms` rounded down to the layout's precision).
    pub fn decode(&self, key: u64) -> LeaderResult {
        let reach = key & ((1u64 << self.reach_bits) - 1);
        let time = (key >> self.reach_bits) & ((1u64 << self.time_bits) - 1);
        let score = key >> (self.time_bits + self.reach_bits);
        LeaderResult {
            score,
            total_ms: self.max_ms - time,
            reached_ms: self.starts_ms + ((self.max_reach - reach) << self.reach_shift) as Millis,
        }
    }

    /// Milliseconds per unit of `reached` (1 unless the campaign is very long).
    pub fn reach_precision_ms(&self) -> u64 {
        1 << self.reach_shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: Millis = 86_400_000;

    fn ten_day() -> LeaderLayout {
        LeaderLayout::new(100, 200_000, 1_000_000, 1_000_000 + 10 * DAY).unwrap()
    }

    #[test]
    fn ten_day_campaign_orders_reach_to_a_few_milliseconds() {
        assert_eq!(ten_day().reach_precision_ms(), 4);
        let short = LeaderLayout::new(100, 200_000, 0, DAY).unwrap();
        assert_eq!(short.reach_precision_ms(), 1);
        let long = LeaderLayout::new(100, 200_000, 0, 3650 * DAY).unwrap();
        assert!(long.reach_precision_ms() > 1);
    }

    #[test]
    fn refuses_layouts_that_cannot_be_exact() {
        assert!(LeaderLayout::new(u64::from(u32::MAX), u64::from(u32::MAX), 0, DAY).is_err());
    }

    #[test]
    fn order_is_score_then_time_then_reach() {
        let l = ten_day();
        let r = |score, total_ms, reached_ms| l.key(LeaderResult { score, total_ms, reached_ms });
        assert!(r(90, 199_000, 2_000_000) > r(80, 1_000, 1_000_000));
        assert!(r(80, 1_000, 9_000_000) > r(80, 1_001, 1_000_000));
        assert!(r(80, 1_000, 1_000_000) > r(80, 1_000, 1_000_004));
        assert_eq!(r(80, 1_000, 1_000_000), r(80, 1_000, 1_000_003));
    }

    proptest! {
        #[test]
        fn keys_are_exact_and_ordered(
            a in (0u64..=100, 0u64..=200_000, 0i64..10 * DAY),
            b in (0u64..=100, 0u64..=200_000, 0i64..10 * DAY),
        ) {
            let l = ten_day();
            // Results at the layout's precision (4 ms here) round-trip exactly.
            let ra = LeaderResult { score: a.0, total_ms: a.1, reached_ms: 1_000_000 + a.2 / 4 * 4 };
            let rb = LeaderResult { score: b.0, total_ms: b.1, reached_ms: 1_000_000 + b.2 / 4 * 4 };
            let (ka, kb) = (l.key(ra), l.key(rb));
            prop_assert!(ka < 1u64 << EXACT_BITS);
            // Exact in an f64, as Redis stores it.
            prop_assert_eq!((ka as f64) as u64, ka);
            prop_assert_eq!(l.decode(ka), ra);
            // Higher key = better by the published order.
            let better = (ra.score, std::cmp::Reverse(ra.total_ms), std::cmp::Reverse(ra.reached_ms))
                .cmp(&(rb.score, std::cmp::Reverse(rb.total_ms), std::cmp::Reverse(rb.reached_ms)));
            prop_assert_eq!(ka.cmp(&kb), better);
        }
    }
}
