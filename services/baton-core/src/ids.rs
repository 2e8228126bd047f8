//! Identifiers. Every id that crosses a module boundary is one of these types, parsed once at the
//! edge ("parse, don't validate"), so nothing downstream sees an id that could name a key or SQL
//! text it should not.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// The characters every id is made of: lowercase ASCII letters, digits and `-`, 1 to 48 long.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 48 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses an id: lowercase ASCII letters, digits and `-`, 1 to 48 characters.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_slug(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError(format!(
                        "{} id {:?} must be 1-48 lowercase letters, digits or '-'",
                        $what, s
                    )))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

slug_id!(
    /// A campaign, e.g. `demo`.
    CampaignId, "campaign"
);
slug_id!(
    /// A place of the campaign's place tree (city, county, township).
    PlaceId, "place"
);
slug_id!(
    /// A unit (school, company, community) hanging from a place.
    UnitId, "unit"
);
slug_id!(
    /// A question of the bank, e.g. `law-001`.
    QuestionId, "question"
);
slug_id!(
    /// A participant. Derived from the campaign and the device ([`ParticipantId::for_device`]),
    /// so joining twice from one device is the same participant by construction.
    ParticipantId, "participant"
);
slug_id!(
    /// An attempt of one participant.
    AttemptId, "attempt"
);

/// Crockford's base32 alphabet, lowercase: no `i`, `l`, `o` or `u`, so a code read aloud or
/// copied by hand is not misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Base32 in [`ALPHABET`].
fn base32(bytes: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut acc: u64 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 && out.len() < len {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        if out.len() == len {
            break;
        }
    }
    out
}

impl ParticipantId {
    /// The participant id of a device in a campaign: 16 characters (80 bits) of a SHA-256 of
    /// both. The device id itself is never stored.
    pub fn for_device(campaign: &CampaignId, device_id: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"baton/participant/v1\0");
        h.update(campaign.as_str().as_bytes());
        h.update(b"\0");
        h.update(device_id.as_bytes());
        Self(base32(&h.finalize(), 16))
    }

    /// The participant id of a WeChat user (by `openid`) in a campaign: one person is one
    /// participant whichever device they use. The openid itself is never stored.
    pub fn for_wechat(campaign: &CampaignId, openid: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"baton/participant/wechat/v1\0");
        h.update(campaign.as_str().as_bytes());
        h.update(b"\0");
        h.update(openid.as_bytes());
        Self(base32(&h.finalize(), 16))
    }

    /// Which of `shards` hot-store shards holds this participant's keys.
    pub fn shard(&self, shards: u16) -> u16 {
        let h = Sha256::digest(self.0.as_bytes());
        (u16::from_be_bytes([h[0], h[1]])) % shards.max(1)
    }
}

impl AttemptId {
    /// A fresh random attempt id (16 characters, 80 bits).
    pub fn random<R: rand::Rng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 10];
        rng.fill(&mut bytes);
        Self(base32(&bytes, 16))
    }
}

/// A client-made device id: 8 to 64 visible ASCII characters (normally a UUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if (8..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError("device_id must be 8-64 visible ASCII characters (a UUID made by the client)".into()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A nickname: 1 to 20 characters (Unicode scalar values, counted after trimming), no control
/// characters and no invisible formatting characters (zero-width spaces, direction overrides,
/// line separators), which could make one nickname look like another's or scramble a list.
/// Emoji are characters like any other — `小明😀` is 3 — including emoji sequences joined by a
/// zero-width joiner (`👨‍👩‍👧`, 5): a joiner is allowed between two pictographs, nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Nickname(String);

/// Characters emoji are drawn from (and the variation selector that asks for emoji style), the
/// only neighbours a zero-width joiner may have in a nickname.
fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{2190}'..='\u{2bff}' | '\u{fe0f}' | '\u{1f000}'..='\u{1faff}')
}

impl Nickname {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        let chars: Vec<char> = t.chars().collect();
        if chars.is_empty() || chars.len() > 20 {
            return Err(IdError("nickname must be 1-20 characters after trimming".into()));
        }
        let invisible = |i: usize, c: char| match c {
            '\u{200d}' => {
                !(i > 0 && is_pictograph(chars[i - 1]) && chars.get(i + 1).is_some_and(|&n| is_pictograph(n)))
            }
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' => true,
            c => c.is_control(),
        };
        if chars.iter().enumerate().any(|(i, &c)| invisible(i, c)) {
            return Err(IdError("nickname must not contain control or invisible formatting characters".into()));
        }
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(PlaceId::parse("hetang-yuetang").is_ok());
        for bad in ["", "Hetang", "a b", "x/y", "é", &"a".repeat(49)] {
            assert!(PlaceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn participant_ids_are_stable_and_per_campaign() {
        let a = CampaignId::parse("a").unwrap();
        let b = CampaignId::parse("b").unwrap();
        let p1 = ParticipantId::for_device(&a, "device-0001");
        assert_eq!(p1, ParticipantId::for_device(&a, "device-0001"));
        assert_ne!(p1, ParticipantId::for_device(&b, "device-0001"));
        assert_ne!(p1, ParticipantId::for_device(&a, "device-0002"));
        assert_eq!(p1.as_str().len(), 16);
        assert!(ParticipantId::parse(p1.as_str()).is_ok());
        assert!(p1.shard(4) < 4);
        assert_eq!(p1.shard(1), 0);
    }

    #[test]
    fn nicknames() {
        assert_eq!(Nickname::parse("  小明 ").unwrap().as_str(), "小明");
        assert!(Nickname::parse("   ").is_err());
        assert!(Nickname::parse(&"禁".repeat(21)).is_err());
        assert!(Nickname::parse(&"禁".repeat(20)).is_ok());
        assert!(Nickname::parse("a\u{0007}b").is_err());
        assert!(Nickname::parse("a\u{202e}b").is_err());
    }

    #[test]
    fn emoji_in_nicknames_count_as_characters() {
        assert_eq!(Nickname::parse("小明😀").unwrap().as_str(), "小明😀");
        assert!(Nickname::parse(&"😀".repeat(20)).is_ok(), "20 emoji are 20 characters");
        assert!(Nickname::parse(&"😀".repeat(21)).is_err());
        // Sequences joined by a zero-width joiner, with skin tones and the emoji-style selector.
        for ok in ["👨\u{200d}👩\u{200d}👧", "❤\u{fe0f}\u{200d}🔥", "👍🏽", "禁毒🚫💊"] {
            assert!(Nickname::parse(ok).is_ok(), "{ok:?}");
        }
        // A joiner anywhere else is an invisible character.
        for bad in ["a\u{200d}b", "\u{200d}😀", "😀\u{200d}", "小\u{200d}明", "😀\u{200d}\u{200d}😀"] {
            assert!(Nickname::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_ids() {
        assert!(DeviceId::parse("3f2b6c1e-8a1d-4c2e-9b7a-1234567890ab").is_ok());
        assert!(DeviceId::parse("short").is_err());
        assert!(DeviceId::parse("has space inside").is_err());
    }
}
