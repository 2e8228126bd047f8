//! Anti-cheat signals: what counts as suspicious, as constants and pure functions. The archiver
//! applies them in SQL as events arrive (`baton_db::anticheat`); the console lists the
//! participants they flag, and an organizer may hide one from the public boards. A signal
//! *flags*, it never punishes: every one of them has honest explanations (a quick guess, a
//! school behind one NAT address, two classmates answering side by side), so nothing here
//! changes a score, a rank or an attempt.
//!
//! The signals (reason codes as the console shows them):
//! - `fast_answers`: at least [`FAST_ANSWERS_MIN`] answers given faster than a person can read
//!   the question ([`reading_floor_ms`]). A timed-out answer is never fast (its time is the
//!   limit).
//! - `same_timing`: a finished attempt whose answering times, quantized to
//!   [`TIMING_QUANTUM_MS`], are exactly those of attempts of at least
//!   [`SAME_TIMING_MIN_PARTICIPANTS`] participants in all ([`timing_print`]: only attempts with
//!   every one of at least [`TIMING_MIN_QUESTIONS`] questions answered in time take part, so
//!   abandoned attempts, whose times are all the limit, never match each other).
//! - `shared_device`: at least [`SHARED_DEVICE_MIN_PARTICIPANTS`] participants joined from one
//!   client ([`client_fingerprint`]: the same network and User-Agent), i.e. one phone rotating
//!   device ids — or a school's NAT full of identical phones, which is why it only flags.

use crate::campaign::QuestionKind;
use crate::ids::CampaignId;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Below this, nobody read a single- or multiple-choice question (stem and options).
pub const READING_FLOOR_MS: u64 = 1_000;
/// Below this, nobody read a true/false statement (a short stem, two fixed options).
pub const JUDGE_READING_FLOOR_MS: u64 = 500;
/// Fast answers that flag a participant: a few quick guesses are human.
pub const FAST_ANSWERS_MIN: u64 = 5;
/// Answering times are compared in steps of this many milliseconds.
pub const TIMING_QUANTUM_MS: u64 = 100;
/// Attempts with fewer questions take no part in `same_timing` (short prints match by chance).
pub const TIMING_MIN_QUESTIONS: usize = 5;
/// Participants whose attempts share one timing print before all of them are flagged.
pub const SAME_TIMING_MIN_PARTICIPANTS: u64 = 3;
/// Participants behind one client fingerprint before all of them are flagged.
pub const SHARED_DEVICE_MIN_PARTICIPANTS: u64 = 10;

/// A signal's reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    FastAnswers,
    SameTiming,
    SharedDevice,
}

impl Reason {
    pub const ALL: [Reason; 3] = [Reason::FastAnswers, Reason::SameTiming, Reason::SharedDevice];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::FastAnswers => "fast_answers",
            Reason::SameTiming => "same_timing",
            Reason::SharedDevice => "shared_device",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The reading floor of a question of `kind`.
pub fn reading_floor_ms(kind: QuestionKind) -> u64 {
    match kind {
        QuestionKind::Judge => JUDGE_READING_FLOOR_MS,
        QuestionKind::Single | QuestionKind::Multi => READING_FLOOR_MS,
    }
}

/// Whether an answer was faster than anybody reads.
pub fn is_fast(kind: QuestionKind, elapsed_ms: u64, timed_out: bool) -> bool {
    !timed_out && elapsed_ms < reading_floor_ms(kind)
}

/// The timing print of a finished attempt: its answering times in question order, quantized,
/// or `None` when the attempt takes no part in `same_timing` (fewer than
/// [`TIMING_MIN_QUESTIONS`] questions, a question unanswered or timed out). `answers` holds one
/// slot per question: `(elapsed_ms, timed_out)` if answered.
pub fn timing_print(answers: &[Option<(u64, bool)>]) -> Option<String> {
    if answers.len() < TIMING_MIN_QUESTIONS {
        return None;
    }
    let mut out = String::with_capacity(answers.len() * 4);
    for (i, a) in answers.iter().enumerate() {
        let (elapsed, timed_out) = (*a)?;
        if timed_out {
            return None;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(&(elapsed / TIMING_QUANTUM_MS).to_string());
    }
    Some(out)
}

/// The fingerprint of the client a participant joined from: 16 hex digits of SHA-256 over a
/// per-deployment `salt`, the campaign, the client's network (an IPv4 address's /24, an IPv6
/// address's /64) and its User-Agent. The address itself is never stored: without the salt
/// the fingerprint cannot be tested against guessed networks. `None` when the address is
/// unknown.
pub fn client_fingerprint(salt: &[u8], campaign: &CampaignId, ip: Option<IpAddr>, user_agent: &str) -> Option<String> {
    let network = match ip?.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    };
    let mut h = Sha256::new();
    for part in [b"baton:client:v1".as_slice(), salt, campaign.as_str().as_bytes(), network.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(user_agent.as_bytes());
    Some(h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_answers_depend_on_the_kind_and_never_time_out() {
        assert!(is_fast(QuestionKind::Single, 999, false));
        assert!(!is_fast(QuestionKind::Single, 1_000, false));
        assert!(is_fast(QuestionKind::Judge, 499, false));
        assert!(!is_fast(QuestionKind::Judge, 700, false));
        assert!(!is_fast(QuestionKind::Multi, 0, true));
    }

    #[test]
    fn timing_prints_are_quantized_and_only_for_complete_attempts() {
        let all = |ms: &[u64]| ms.iter().map(|&m| Some((m, false))).collect::<Vec<_>>();
        assert_eq!(timing_print(&all(&[200, 250, 1_999, 2_000, 0])).as_deref(), Some("2.2.19.20.0"));
        assert_eq!(timing_print(&all(&[210, 290, 1_950, 2_099, 99])), timing_print(&all(&[200, 250, 1_999, 2_000, 0])));
        assert_eq!(timing_print(&all(&[200, 250, 1_999, 2_000])), None);
        let mut gap = all(&[200, 250, 1_999, 2_000, 0]);
        gap[2] = None;
        assert_eq!(timing_print(&gap), None);
        gap[2] = Some((20_000, true));
        assert_eq!(timing_print(&gap), None);
    }

    #[test]
    fn fingerprints_hide_the_address_and_group_a_network_and_agent() {
        let c = CampaignId::parse("demo").unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let f = |salt: &[u8], a: &str, ua: &str| client_fingerprint(salt, &c, ip(a), ua).unwrap();
        let one = f(b"salt", "203.0.113.7", "WeChat");
        assert_eq!(one.len(), 16);
        assert!(!one.contains("203"));
        assert_eq!(one, f(b"salt", "203.0.113.200", "WeChat"));
        assert_eq!(one, f(b"salt", "::ffff:203.0.113.9", "WeChat"));
        assert_ne!(one, f(b"salt", "203.0.114.7", "WeChat"));
        assert_ne!(one, f(b"salt", "203.0.113.7", "Safari"));
        assert_ne!(one, f(b"pepper", "203.0.113.7", "WeChat"));
        assert_ne!(
            one,
            client_fingerprint(b"salt", &CampaignId::parse("other").unwrap(), ip("203.0.113.7"), "WeChat").unwrap()
        );
        assert_eq!(f(b"s", "2001:db8:1:2::1", "x"), f(b"s", "2001:db8:1:2:ffff::9", "x"));
        assert_ne!(f(b"s", "2001:db8:1:2::1", "x"), f(b"s", "2001:db8:1:3::1", "x"));
        assert_eq!(client_fingerprint(b"s", &c, None, "x"), None);
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }
}
