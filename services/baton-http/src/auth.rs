//! Participant tokens: HS256 JWTs with `iss`, `aud`, `sub`, `iat` and `exp` required and checked,
//! and a `kid` that picks the key from a configured set, so keys can rotate without logging
//! anyone out (sign with the first, accept all).
//!
//! Keys come from configuration or, when none is configured, from a key generated once and
//! kept in the database; either way every pod and every restart accepts the same tokens.

use crate::problem::Problem;
use actix_web::{FromRequest, HttpRequest, web};
use baton_core::ids::{CampaignId, ParticipantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::Arc;

/// Issuer of every Baton token.
pub const ISSUER: &str = "baton";
/// Audience of participant tokens.
pub const PARTICIPANT_AUDIENCE: &str = "baton:participant";
/// How long a participant token is valid: a whole campaign, comfortably.
pub const PARTICIPANT_TTL_SECS: i64 = 45 * 24 * 3600;
/// Clock skew tolerated between pods.
pub const LEEWAY_SECS: u64 = 60;

/// One HMAC key. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("secret", &"<redacted>").finish()
    }
}

impl SigningKey {
    /// A key of at least 32 bytes.
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> Result<Self, String> {
        let kid = kid.into();
        if kid.is_empty() || kid.len() > 64 {
            return Err("a signing key id must be 1-64 characters".into());
        }
        if secret.len() < 32 {
            return Err(format!("signing key {kid:?} is shorter than 32 bytes"));
        }
        Ok(Self { kid, secret })
    }

    /// The secret, for other token kinds signed with the same key set (organizer tokens).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Parses `kid=secret` (the secret as text, at least 32 bytes).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (kid, secret) = s.split_once('=').ok_or("a signing key is written kid=secret")?;
        Self::new(kid.trim(), secret.trim().as_bytes().to_vec())
    }
}

/// What a participant token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantClaims {
    pub iss: String,
    pub aud: String,
    /// The participant id.
    pub sub: String,
    /// The campaign id.
    pub cid: String,
    pub iat: i64,
    pub exp: i64,
}

/// Issues and checks tokens.
#[derive(Clone)]
pub struct Tokens {
    current: (String, Arc<EncodingKey>),
    keys: Arc<HashMap<String, DecodingKey>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("current_kid", &self.current.0).finish_non_exhaustive()
    }
}

impl Tokens {
    /// Signs with the first key; accepts tokens signed with any of them.
    pub fn new(keys: &[SigningKey]) -> Result<Self, String> {
        let first = keys.first().ok_or("at least one signing key is needed")?;
        let enc = EncodingKey::from_secret(&first.secret).map_err(|e| e.to_string())?;
        let mut map = HashMap::new();
        for k in keys {
            map.insert(k.kid.clone(), DecodingKey::from_secret(&k.secret).map_err(|e| e.to_string())?);
        }
        Ok(Self { current: (first.kid.clone(), Arc::new(enc)), keys: Arc::new(map) })
    }

    pub fn issue_participant(&self, campaign: &CampaignId, participant: &ParticipantId, now_secs: i64) -> String {
        let claims = ParticipantClaims {
            iss: ISSUER.into(),
            aud: PARTICIPANT_AUDIENCE.into(),
            sub: participant.to_string(),
            cid: campaign.to_string(),
            iat: now_secs,
            exp: now_secs + PARTICIPANT_TTL_SECS,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.0.clone());
        jsonwebtoken::encode(&header, &claims, &self.current.1).expect("HS256 signing does not fail")
    }

    /// Checks a participant token: signature by a known `kid`, algorithm, issuer, audience,
    /// expiry and issue time (with [`LEEWAY_SECS`]).
    pub fn verify_participant(&self, token: &str, now_secs: i64) -> Result<(CampaignId, ParticipantId), Problem> {
        let bad = || {
            Problem::unauthorized("The token is missing, invalid or expired. Join the campaign again to get a new one.")
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad())?;
        let key = header.kid.as_ref().and_then(|k| self.keys.get(k)).ok_or_else(bad)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[PARTICIPANT_AUDIENCE]);
        // Expiry is checked below against the injected clock, not the library's own.
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<ParticipantClaims>(token, key, &v).map_err(|_| bad())?;
        let c = data.claims;
        let leeway = LEEWAY_SECS as i64;
        if c.exp + leeway <= now_secs || c.iat > now_secs + leeway {
            return Err(bad());
        }
        let campaign = CampaignId::parse(&c.cid).map_err(|_| bad())?;
        let participant = ParticipantId::parse(&c.sub).map_err(|_| bad())?;
        Ok((campaign, participant))
    }
}

/// The participant a request is made by, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct ParticipantAuth {
    pub campaign: CampaignId,
    pub participant: ParticipantId,
}

/// Reads the bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let h = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

impl ParticipantAuth {
    pub fn from_req(req: &HttpRequest) -> Result<Self, Problem> {
        let tokens =
            req.app_data::<web::Data<Tokens>>().ok_or_else(|| Problem::internal("Tokens missing from app data"))?;
        let clock = req
            .app_data::<web::Data<Arc<dyn crate::clock::Clock>>>()
            .ok_or_else(|| Problem::internal("Clock missing from app data"))?;
        let token = bearer(req).ok_or_else(|| {
            Problem::unauthorized("This call needs the token you got when joining (Authorization: Bearer …).")
        })?;
        let (campaign, participant) = tokens.verify_participant(token, clock.now_ms() / 1000)?;
        Ok(Self { campaign, participant })
    }
}

impl FromRequest for ParticipantAuth {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Self::from_req(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str) -> SigningKey {
        SigningKey::new(kid, vec![7u8; 32]).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_rotate() {
        let c = CampaignId::parse("demo").unwrap();
        let p = ParticipantId::parse("abc").unwrap();
        let old = Tokens::new(&[key("k1")]).unwrap();
        let t = old.issue_participant(&c, &p, 1_000_000);
        assert_eq!(old.verify_participant(&t, 1_000_100).unwrap(), (c.clone(), p.clone()));
        // A new current key still accepts tokens of the old one.
        let rotated = Tokens::new(&[SigningKey::new("k2", vec![9u8; 32]).unwrap(), key("k1")]).unwrap();
        assert!(rotated.verify_participant(&t, 1_000_100).is_ok());
        // Without the old key they are refused.
        let only_new = Tokens::new(&[SigningKey::new("k2", vec![9u8; 32]).unwrap()]).unwrap();
        assert_eq!(only_new.verify_participant(&t, 1_000_100).unwrap_err().code, "unauthorized");
        // Expired, not yet issued, tampered.
        assert!(old.verify_participant(&t, 1_000_000 + PARTICIPANT_TTL_SECS + 61).is_err());
        assert!(old.verify_participant(&t, 1_000_000 - 3_600).is_err());
        let mut tampered = t.clone();
        tampered.insert(tampered.len() - 2, 'x');
        assert!(old.verify_participant(&tampered, 1_000_100).is_err());
    }

    #[test]
    fn short_keys_and_secrets_in_debug_are_refused() {
        assert!(SigningKey::parse("k1=short").is_err());
        let k = SigningKey::parse("k1=0123456789abcdef0123456789abcdef").unwrap();
        assert!(!format!("{k:?}").contains("0123"));
    }
}
