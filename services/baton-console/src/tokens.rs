//! Organizer tokens: HS256 JWTs signed with the same key set as participant tokens
//! (`baton_http::auth`: sign with the first key, accept any by `kid`), told apart by their
//! audience, `baton:console`, so a participant token is never an organizer token nor the other
//! way round. Short-lived (two hours): a token carries its role and scope, and a changed or
//! disabled account takes effect at the latest when the token expires.
//!
//! Claims: `iss` (`baton`), `aud`, `sub` (the username), `role`, `cid` (campaign, or null),
//! `rid` (region, or null), `iat`, `exp` — all required and checked, expiry against the
//! injected clock with the same leeway as participant tokens.

use crate::account::{Role, Scope, Username};
use baton_core::ids::{CampaignId, PlaceId};
use baton_http::Problem;
use baton_http::auth::{ISSUER, LEEWAY_SECS};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Audience of organizer tokens.
pub const CONSOLE_AUDIENCE: &str = "baton:console";
/// How long an organizer token is valid.
pub const ORGANIZER_TTL_SECS: i64 = 2 * 3600;
/// Shortest secret accepted (the rule `baton_http::auth::SigningKey` applies too).
const MIN_SECRET_BYTES: usize = 32;

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
    current: (String, Arc<EncodingKey>),
    keys: Arc<HashMap<String, DecodingKey>>,
}

impl std::fmt::Debug for OrganizerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizerTokens").field("current_kid", &self.current.0).finish_non_exhaustive()
    }
}

impl OrganizerTokens {
    /// From the deployment's signing keys as `(kid, secret)`, current first: the same set
    /// participant tokens use. Signs with the first; accepts tokens signed with any.
    pub fn new(keys: &[(&str, &[u8])]) -> Result<Self, String> {
        let (kid, secret) = keys.first().ok_or("at least one signing key is needed")?;
        for (kid, secret) in keys {
            if kid.is_empty() || secret.len() < MIN_SECRET_BYTES {
                return Err(format!("signing key {kid:?} needs a kid and a secret of {MIN_SECRET_BYTES}+ bytes"));
            }
        }
        let enc = EncodingKey::from_secret(secret).map_err(|e| e.to_string())?;
        let mut map = HashMap::new();
        for (k, s) in keys {
            map.insert((*k).to_owned(), DecodingKey::from_secret(s).map_err(|e| e.to_string())?);
        }
        Ok(Self { current: ((*kid).to_owned(), Arc::new(enc)), keys: Arc::new(map) })
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
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.0.clone());
        (jsonwebtoken::encode(&header, &claims, &self.current.1).expect("HS256 signing does not fail"), exp)
    }

    /// Checks a token: signature by a known `kid`, algorithm, issuer, audience, expiry and
    /// issue time (with the leeway), and that its role and scope go together.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Organizer, Problem> {
        let bad = || Problem::unauthorized("The organizer token is invalid or expired. Log in to the console again.");
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad())?;
        let key = header.kid.as_ref().and_then(|k| self.keys.get(k)).ok_or_else(bad)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[CONSOLE_AUDIENCE]);
        // Expiry is checked below against the injected clock.
        v.validate_exp = false;
        let c = jsonwebtoken::decode::<OrganizerClaims>(token, key, &v).map_err(|_| bad())?.claims;
        let leeway = LEEWAY_SECS as i64;
        if c.exp + leeway <= now_secs || c.iat > now_secs + leeway {
            return Err(bad());
        }
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
    use baton_http::auth::{SigningKey, Tokens};

    const NOW: i64 = 1_800_000_000;

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
        let leeway = LEEWAY_SECS as i64;
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
