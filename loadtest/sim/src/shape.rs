//! The traffic shape of the seed campaign: how many citizens arrive in each minute of a
//! ten-day campaign, compressible in time.
//!
//! The seed campaign drew 2.52 million participants in ten days. Its days were not alike: a
//! slow first day while the notice went down the work units, a build-up, a plateau, and a push
//! on the last day. Within a day (Beijing time) citizens came at breakfast, over lunch and above
//! all in the evening, 19:00–22:00. On top of that came flash crowds: a whole school district
//! or a county's offices told to take part *tonight*, arriving within half an hour, most in the
//! first ten minutes.
//!
//! [`Shape::arrivals`] turns that into arrival times, minute by minute, without holding the
//! whole campaign in memory. The count is exact (the expected arrivals are accumulated and
//! rounded as they go), and the same seed gives the same arrivals.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The share of the campaign's participants arriving on each of its days (sums to 1).
const DAYS: [f64; 10] = [0.05, 0.08, 0.10, 0.11, 0.12, 0.12, 0.11, 0.10, 0.09, 0.12];

/// The relative weight of each hour of a local day (00:00–01:00 first).
const HOURS: [f64; 24] = [
    0.8, 0.4, 0.2, 0.15, 0.15, 0.3, 1.0, 2.5, 4.0, 5.0, 5.0, 4.5, //
    5.5, 4.5, 4.5, 4.5, 4.5, 4.5, 5.0, 7.0, 9.5, 10.0, 7.0, 3.0,
];

/// A flash crowd: a share of one day's participants told to take part at once, all in one
/// county.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    /// Campaign day, 0-based.
    pub day: u32,
    /// Local hour of the call (e.g. 19.5 = 19:30).
    pub hour: f64,
    /// The share of that day's participants who come in this crowd.
    pub share: f64,
    /// Arrivals decay exponentially with this mean, in minutes; the crowd lasts 3 means.
    pub mean_minutes: f64,
}

/// The seed campaign's flash crowds: a school district one evening, a county's offices one
/// morning, and the last evening's push.
pub fn seed_flashes() -> Vec<Flash> {
    vec![
        Flash { day: 2, hour: 19.5, share: 0.15, mean_minutes: 8.0 },
        Flash { day: 5, hour: 10.0, share: 0.10, mean_minutes: 10.0 },
        Flash { day: 9, hour: 20.0, share: 0.15, mean_minutes: 8.0 },
    ]
}

/// The shape of a campaign's arrivals.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Participants over the whole campaign.
    pub participants: u64,
    /// Campaign days (the daily shares repeat past ten days and are renormalized).
    pub days: u32,
    pub flashes: Vec<Flash>,
    pub seed: u64,
}

/// One citizen's arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Seconds since the campaign's first local midnight, in campaign time.
    pub at: f64,
    /// The flash crowd this citizen came with, if any.
    pub flash: Option<usize>,
}

impl Shape {
    /// The seed campaign: `participants` over ten days with its flash crowds.
    pub fn seed_campaign(participants: u64, seed: u64) -> Self {
        Self { participants, days: 10, flashes: seed_flashes(), seed }
    }

    fn day_share(&self, day: u32) -> f64 {
        let total: f64 = (0..self.days).map(|d| DAYS[d as usize % DAYS.len()]).sum();
        DAYS[day as usize % DAYS.len()] / total
    }

    /// The expected arrivals in campaign minute `m`, apart (steady) and per flash crowd.
    fn expected(&self, m: u64) -> (f64, Vec<f64>) {
        let day = (m / 1440) as u32;
        let minute_of_day = (m % 1440) as f64;
        let today = self.participants as f64 * self.day_share(day);
        let flash_share: f64 = self.flashes.iter().filter(|f| f.day == day).map(|f| f.share).sum();
        let hour_total: f64 = HOURS.iter().sum();
        let steady = today * (1.0 - flash_share) * HOURS[(minute_of_day / 60.0) as usize] / hour_total / 60.0;
        let flashes = self
            .flashes
            .iter()
            .map(|f| {
                let since = minute_of_day - f.hour * 60.0;
                if f.day != day || since < 0.0 || since >= 3.0 * f.mean_minutes {
                    return 0.0;
                }
                // The share of an exponential arrival (truncated at 3 means) in this minute.
                let cdf = |x: f64| (1.0 - (-x / f.mean_minutes).exp()) / (1.0 - (-3.0f64).exp());
                today * f.share * (cdf((since + 1.0).min(3.0 * f.mean_minutes)) - cdf(since))
            })
            .collect();
        (steady, flashes)
    }

    /// Minutes in the campaign.
    pub fn minutes(&self) -> u64 {
        u64::from(self.days) * 1440
    }

    /// The arrivals, in time order, of campaign minutes `from..to`. Counts are rounded as they
    /// accumulate from the campaign's start, so any window gets the same arrivals the whole
    /// campaign would have there, and the whole campaign gets exactly `participants`.
    pub fn arrivals(&self, from: u64, to: u64) -> Arrivals<'_> {
        Arrivals {
            shape: self,
            minute: 0,
            from,
            to: to.min(self.minutes()),
            owed: vec![0.0; self.flashes.len() + 1],
            emitted: 0,
            pending: Vec::new(),
            rng: StdRng::seed_from_u64(self.seed),
        }
    }
}

/// The arrivals of a window of the campaign, minute by minute.
pub struct Arrivals<'a> {
    shape: &'a Shape,
    minute: u64,
    from: u64,
    to: u64,
    /// Expected arrivals accumulated and not yet emitted: steady, then each flash crowd.
    owed: Vec<f64>,
    emitted: u64,
    /// This minute's arrivals, latest first (popped from the end).
    pending: Vec<Arrival>,
    rng: StdRng,
}

impl Iterator for Arrivals<'_> {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        while self.pending.is_empty() {
            if self.minute >= self.to {
                return None;
            }
            let m = self.minute;
            self.minute += 1;
            let (steady, flashes) = self.shape.expected(m);
            let last = m + 1 == self.shape.minutes();
            let mut counts = Vec::with_capacity(self.owed.len());
            for (owed, add) in self.owed.iter_mut().zip(std::iter::once(steady).chain(flashes)) {
                *owed += add;
                let n = owed.floor();
                *owed -= n;
                counts.push(n as u64);
            }
            if last {
                // Whatever rounding left over arrives in the campaign's last minute.
                let all: u64 = counts.iter().sum::<u64>() + self.emitted;
                counts[0] += self.shape.participants.saturating_sub(all);
            }
            self.emitted += counts.iter().sum::<u64>();
            if m < self.from {
                continue;
            }
            for (i, &n) in counts.iter().enumerate() {
                for _ in 0..n {
                    let at = (m as f64 + self.rng.random::<f64>()) * 60.0;
                    self.pending.push(Arrival { at, flash: i.checked_sub(1) });
                }
            }
            self.pending.sort_by(|a, b| b.at.total_cmp(&a.at));
        }
        self.pending.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_campaign_has_exactly_its_participants() {
        let s = Shape::seed_campaign(2_520_000, 7);
        let mut n = 0u64;
        let mut last = 0.0;
        let mut per_day = [0u64; 10];
        for a in s.arrivals(0, s.minutes()) {
            assert!(a.at >= last, "arrivals come in time order");
            last = a.at;
            per_day[(a.at / 86_400.0) as usize] += 1;
            n += 1;
        }
        assert_eq!(n, 2_520_000);
        // Day 5 (12 %) is larger than day 1 (5 %).
        assert!(per_day[4] > 2 * per_day[0], "{per_day:?}");
    }

    #[test]
    fn evenings_peak_and_flash_crowds_stand_out() {
        let s = Shape::seed_campaign(2_520_000, 1);
        let per_minute = |day: u64, hour: f64| {
            let m = day * 1440 + (hour * 60.0) as u64;
            s.arrivals(m, m + 1).count()
        };
        assert!(per_minute(3, 21.0) > 20 * per_minute(3, 3.0));
        // Day 3 (index 2) at 19:30: a school district's crowd on top of the evening.
        assert!(per_minute(2, 19.5) > 3 * per_minute(3, 19.5), "{} {}", per_minute(2, 19.5), per_minute(3, 19.5));
        assert!(s.arrivals(2 * 1440 + 1170, 2 * 1440 + 1171).any(|a| a.flash == Some(0)));
    }

    #[test]
    fn a_window_has_what_the_campaign_has_there() {
        let s = Shape::seed_campaign(100_000, 3);
        let whole = s.arrivals(0, s.minutes()).filter(|a| (600.0 * 60.0..700.0 * 60.0).contains(&a.at)).count();
        let window = s.arrivals(600, 700).count();
        assert_eq!(whole, window);
    }
}
