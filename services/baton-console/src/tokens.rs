//! Organizer tokens: HS256 JWTs signed and checked by the same code and key set as participant
//! tokens ([`baton_http::auth::Tokens`]: sign with the first key, accept any by `kid`, so keys
//! rotate without logging anyone out), told apart by their audience, `baton:console`, so a
//! participant token is never an organizer token nor the other way round. Short-lived (two
//! hours): a token carries its role and scope, and a changed or disabled account takes effect
//! at the latest when the token expires.
//!
//! Claims: `iss` (`baton`), `aud`, `sub` (the username), `role`, `cid` (campaign, or null),
//! `rid` (region, or null), `iat`, `exp` — all required and checked, times against the injected
//! clock with the same leeway as participant tokens (and `nbf`, if a token has one).

use crate::account::{Role, Scope, Username};
use baton_core::ids::{CampaignId, PlaceId};
use baton_http::Problem;
use baton_http::auth::{ISSUER, SigningKey, TokenTimes, Tokens};
use serde::{Deserialize, Serialize};

/// Audience of organizer tokens.
pub const CONSOLE_AUDIENCE: &str = "baton:console";
/// How long an organizer token is valid.
pub const ORGANIZER_TTL_SECS: i64 = 2 * 3600;

/// What an organizer token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizerClaims {
    pub iss: String,
    pub aud: String,
    /// The username.
    pub sub: String,
    pub role: Role,
    /// The campaign the account is limited to; null for an admin.
    pub cid: Option<String>,
    /// The region a viewer is limited to; null otherwise.
    pub rid: Option<String>,
    pub iat: i64,
    pub exp: i64,
    /// Not before (optional; Baton issues none, but one in a token is honoured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

impl TokenTimes for OrganizerClaims {
    fn iat(&self) -> i64 {
        self.iat
    }
    fn exp(&self) -> i64 {
        self.exp
    }
    fn nbf(&self) -> Option<i64> {
        self.nbf
    }
}

/// Who a valid organizer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer {
    pub username: Username,
    pub role: Role,
    pub scope: Scope,
    /// When the token expires (seconds since the epoch).
    pub expires_at: i64,
}

/// Issues and checks organizer tokens. Cheap to clone.
#[derive(Clone)]
pub struct OrganizerTokens {
    tokens: Tokens,
}

impl std::fmt::Debug for OrganizerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizerTokens").field("current_kid", &self.tokens.current_kid()).finish_non_exhaustive()
    }
}

impl OrganizerTokens {
    /// From the deployment's signing keys as `(kid, secret)`, current first: the same set
    /// participant tokens use, with the same rules ([`SigningKey::new`]: a kid of 1-64
    /// characters, a secret of 32 bytes or more). Signs with the first; accepts tokens signed
    /// with any.
    pub fn new(keys: &[(&str, &[u8])]) -> Result<Self, String> {
        let keys =
            keys.iter().map(|(kid, secret)| SigningKey::new(*kid, secret.to_vec())).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { tokens: Tokens::new(&keys)? })
    }

    /// A token for `username` with `role` and `scope`, issued at `now_secs`; and when it expires.
    pub fn issue(&self, username: &Username, role: Role, scope: &Scope, now_secs: i64) -> (String, i64) {
        let exp = now_secs + ORGANIZER_TTL_SECS;
        let claims = OrganizerClaims {
            iss: ISSUER.into(),
            aud: CONSOLE_AUDIENCE.into(),
            sub: username.to_string(),
            role,
            cid: scope.campaign.as_ref().map(ToString::to_string),
            rid: scope.region.as_ref().map(ToString::to_string),
            iat: now_secs,
            exp,
            nbf: None,
        };
        (self.tokens.sign(&claims), exp)
    }

    /// Checks a token ([`Tokens::check`] with [`CONSOLE_AUDIENCE`]: signature by a known `kid`,
    /// algorithm, issuer, audience, times with the leeway), and that its role and scope go
    /// together.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Organizer, Problem> {
        let bad = || Problem::unauthorized("The organizer token is invalid or expired. Log in to the console again.");
        let c: OrganizerClaims = self.tokens.check(token, CONSOLE_AUDIENCE, now_secs).ok_or_else(bad)?;
        let username = Username::parse(&c.sub).map_err(|_| bad())?;
        let campaign = c.cid.as_deref().map(CampaignId::parse).transpose().map_err(|_| bad())?;
        let region = c.rid.as_deref().map(PlaceId::parse).transpose().map_err(|_| bad())?;
        let scope = Scope::for_role(c.role, campaign, region).map_err(|_| bad())?;
        Ok(Organizer { username, role: c.role, scope, expires_at: c.exp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::ids::ParticipantId;
    use baton_http::auth::LEEWAY_SECS;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const NOW: i64 = 1_800_000_000;
    const LEEWAY: i64 = LEEWAY_SECS as i64;

    /// The claims of a good admin token at [`NOW`], to change one thing in.
    fn admin_claims() -> serde_json::Value {
        serde_json::json!({"iss": "baton", "aud": CONSOLE_AUDIENCE, "sub": "city-office", "role": "admin",
            "cid": null, "rid": null, "iat": NOW, "exp": NOW + 600})
    }

    /// `claims` signed (HS256) with the secret `[7; 32]`, naming `kid`.
    fn forge(claims: &serde_json::Value, kid: Option<&str>) -> String {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(&[7u8; 32]).unwrap()).unwrap()
    }

    #[track_caller]
    fn refused(token: &str, now: i64) {
        let e = tokens(&[("k1", &[7u8; 32])]).verify(token, now).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "unauthorized"), "{token}");
    }

    #[test]
    fn organizer_tokens_not_yet_valid_are_refused_beyond_the_leeway() {
        let t = tokens(&[("k1", &[7u8; 32])]);
        for claim in ["iat", "nbf"] {
            let mut c = admin_claims();
            c[claim] = (NOW + LEEWAY).into();
            assert!(t.verify(&forge(&c, Some("k1")), NOW).is_ok(), "{claim}: skew within the leeway");
            c[claim] = (NOW + LEEWAY + 1).into();
            refused(&forge(&c, Some("k1")), NOW);
        }
    }

    #[test]
    fn organizer_tokens_of_another_audience_are_refused() {
        for aud in ["baton:participant", "baton", "console"] {
            let mut c = admin_claims();
            c["aud"] = aud.into();
            refused(&forge(&c, Some("k1")), NOW);
        }
    }

    #[test]
    fn organizer_tokens_of_another_issuer_are_refused() {
        for iss in ["someone", "BATON", ""] {
            let mut c = admin_claims();
            c["iss"] = iss.into();
            refused(&forge(&c, Some("k1")), NOW);
        }
    }

    #[test]
    fn organizer_tokens_with_an_unknown_or_missing_kid_are_refused() {
        assert!(tokens(&[("k1", &[7u8; 32])]).verify(&forge(&admin_claims(), Some("k1")), NOW).is_ok());
        refused(&forge(&admin_claims(), Some("k9")), NOW);
        refused(&forge(&admin_claims(), None), NOW);
    }

    #[test]
    fn organizer_tokens_with_alg_none_are_refused() {
        let b64 = |s: &str| {
            // Unpadded base64url, as JWTs are written.
            const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in s.as_bytes().chunks(3) {
                let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
                for i in 0..=chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                }
            }
            out
        };
        assert_eq!(b64(r#"{"alg":"HS256"}"#), "eyJhbGciOiJIUzI1NiJ9");
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"none","kid":"k1"}"#] {
            refused(&format!("{}.{}.", b64(header), b64(&admin_claims().to_string())), NOW);
        }
    }

    fn tokens(keys: &[(&str, &[u8])]) -> OrganizerTokens {
        OrganizerTokens::new(keys).unwrap()
    }

    fn viewer() -> (Username, Role, Scope) {
        let scope = Scope::for_role(
            Role::Viewer,
            Some(CampaignId::parse("demo").unwrap()),
            Some(PlaceId::parse("north").unwrap()),
        )
        .unwrap();
        (Username::parse("north-office").unwrap(), Role::Viewer, scope)
    }

    #[test]
    fn tokens_round_trip_and_rotate() {
        let (u, role, scope) = viewer();
        let old = tokens(&[("k1", &[7u8; 32])]);
        let (t, exp) = old.issue(&u, role, &scope, NOW);
        assert_eq!(exp, NOW + ORGANIZER_TTL_SECS);
        let who = old.verify(&t, NOW + 10).unwrap();
        assert_eq!(who, Organizer { username: u.clone(), role, scope: scope.clone(), expires_at: exp });
        // A new current key still accepts tokens of the old one; without it they are refused.
        assert!(tokens(&[("k2", &[9u8; 32]), ("k1", &[7u8; 32])]).verify(&t, NOW).is_ok());
        assert_eq!(tokens(&[("k2", &[9u8; 32])]).verify(&t, NOW).unwrap_err().code, "unauthorized");
        // The same kid with another secret is refused too.
        assert!(tokens(&[("k1", &[8u8; 32])]).verify(&t, NOW).is_err());
    }

    #[test]
    fn tokens_expire_after_two_hours() {
        let (u, role, scope) = viewer();
        let t = tokens(&[("k1", &[7u8; 32])]);
        let (token, _) = t.issue(&u, role, &scope, NOW);
        let leeway = LEEWAY;
        assert!(t.verify(&token, NOW + ORGANIZER_TTL_SECS + leeway - 1).is_ok());
        assert!(t.verify(&token, NOW + ORGANIZER_TTL_SECS + leeway).is_err());
        // Not yet issued.
        assert!(t.verify(&token, NOW - leeway - 1).is_err());
    }

    #[test]
    fn participant_tokens_are_not_organizer_tokens() {
        let secret = [7u8; 32];
        let participants = Tokens::new(&[SigningKey::new("k1", secret.to_vec()).unwrap()]).unwrap();
        let t = participants.issue_participant(
            &CampaignId::parse("demo").unwrap(),
            &ParticipantId::parse("p1").unwrap(),
            NOW,
        );
        assert!(tokens(&[("k1", &secret)]).verify(&t, NOW).is_err());
        // Nor the other way round.
        let (u, role, scope) = viewer();
        let (org, _) = tokens(&[("k1", &secret)]).issue(&u, role, &scope, NOW);
        assert!(participants.verify_participant(&org, NOW).is_err());
    }

    #[test]
    fn tampered_or_inconsistent_tokens_are_refused() {
        let key = [7u8; 32];
        let t = tokens(&[("k1", &key)]);
        let (u, role, scope) = viewer();
        let (token, _) = t.issue(&u, role, &scope, NOW);
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 2, 'x');
        assert!(t.verify(&tampered, NOW).is_err());
        assert!(t.verify("", NOW).is_err());
        assert!(t.verify("not.a.jwt", NOW).is_err());

        // Validly signed, but an admin limited to a region is not a scope any account has.
        let sign = |claims: serde_json::Value| {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&key).unwrap()).unwrap()
        };
        let base = serde_json::json!({"iss": "baton", "aud": CONSOLE_AUDIENCE, "sub": "x", "role": "admin",
            "cid": null, "rid": null, "iat": NOW, "exp": NOW + 60});
        assert!(t.verify(&sign(base.clone()), NOW).is_ok());
        for (field, value) in [
            ("rid", serde_json::json!("north")),
            ("role", serde_json::json!("root")),
            ("aud", serde_json::json!("baton:participant")),
            ("iss", serde_json::json!("someone")),
            ("sub", serde_json::json!("Not A Username!")),
        ] {
            let mut claims = base.clone();
            claims[field] = value;
            assert!(t.verify(&sign(claims), NOW).is_err(), "{field}");
        }
        // Another algorithm with the same secret is refused.
        let mut h = Header::new(Algorithm::HS512);
        h.kid = Some("k1".into());
        let hs512 = jsonwebtoken::encode(&h, &base, &EncodingKey::from_secret(&key).unwrap()).unwrap();
        assert!(t.verify(&hs512, NOW).is_err());
    }

    #[test]
    fn keys_are_checked() {
        assert!(OrganizerTokens::new(&[]).is_err());
        assert!(OrganizerTokens::new(&[("k1", &[1u8; 31])]).is_err());
        assert!(OrganizerTokens::new(&[("", &[1u8; 32])]).is_err());
        assert!(!format!("{:?}", tokens(&[("k1", &[1u8; 32])])).contains("[1"));
    }
}
