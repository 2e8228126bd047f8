//! The campaign day: the daily attempt limit resets at midnight in the campaign's time zone
//! (Asia/Shanghai unless the campaign says otherwise), not at midnight UTC.

use crate::Millis;
use chrono::{Datelike, TimeZone};

/// The campaign day of an instant: days since 1970-01-01 of the local date in `tz`.
pub fn day_number(tz: chrono_tz::Tz, now: Millis) -> i32 {
    let local = tz.timestamp_millis_opt(now).single().expect("a UTC instant maps to one local time");
    local.date_naive().num_days_from_ce() - 719_163
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn ms(s: &str) -> Millis {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn day_turns_at_local_midnight() {
        let sh = chrono_tz::Asia::Shanghai;
        // 15:59:59 UTC is 23:59:59 in Shanghai; a second later it is the next day there.
        assert_eq!(day_number(sh, ms("2026-06-01T15:59:59Z")) + 1, day_number(sh, ms("2026-06-01T16:00:00Z")));
        assert_eq!(day_number(sh, ms("2026-06-01T16:00:00Z")), day_number(sh, ms("2026-06-02T15:59:59Z")));
        assert_eq!(day_number(chrono_tz::UTC, 0), 0);
        assert_eq!(day_number(chrono_tz::UTC, 86_400_000), 1);
    }
}
