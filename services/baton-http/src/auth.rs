//! Tokens: HS256 JWTs with `iss`, `aud`, `sub`, `iat` and `exp` required and checked (and `nbf`
//! when present), and a `kid` that picks the key from a configured set, so keys can rotate
//! without logging anyone out (sign with the first, accept all). Times are checked against the
//! injected clock with [`LEEWAY_SECS`] of tolerance for clock skew between pods.
//!
//! Every token kind is signed and checked here ([`Tokens::sign`], [`Tokens::check`]), told
//! apart by its audience: participant tokens ([`PARTICIPANT_AUDIENCE`]) below, organizer tokens
//! (`baton:console`) in `baton_console::tokens`. A token of one kind is never one of the other.
//! A header without a `kid`, a `kid` the key set does not have, any algorithm but HS256
//! (`none` included) and a bad signature are all refused alike.
//!
//! Keys come from configuration or, when none is configured, from a key generated once and
//! kept in the database; either way every pod and every restart accepts the same tokens.

use crate::problem::Problem;
use actix_web::{FromRequest, HttpRequest, web};
use baton_core::ids::{CampaignId, ParticipantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
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
    /// Not before (optional; Baton issues none, but one in a token is honoured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// The times of a token's claims, which [`Tokens::check`] holds against the clock.
pub trait TokenTimes {
    /// Issued at (seconds since the epoch).
    fn iat(&self) -> i64;
    /// Expires at.
    fn exp(&self) -> i64;
    /// Not valid before, if the token says.
    fn nbf(&self) -> Option<i64>;
}

impl TokenTimes for ParticipantClaims {
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

/// Whether claims with these times are valid at `now_secs`: not expired, issued and valid
/// already, each with [`LEEWAY_SECS`] of tolerance.
pub fn valid_at(t: &impl TokenTimes, now_secs: i64) -> bool {
    let leeway = LEEWAY_SECS as i64;
    now_secs < t.exp().saturating_add(leeway)
        && t.iat() <= now_secs.saturating_add(leeway)
        && t.nbf().is_none_or(|nbf| nbf <= now_secs.saturating_add(leeway))
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

    /// The key id tokens are signed with now.
    pub fn current_kid(&self) -> &str {
        &self.current.0
    }

    /// Signs `claims` (HS256) with the current key, naming it in the header's `kid`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.0.clone());
        jsonwebtoken::encode(&header, claims, &self.current.1).expect("HS256 signing does not fail")
    }

    /// The claims of a token of `audience` if it is good at `now_secs`: HS256 only, signed by
    /// the key its `kid` names in this set, `iss` [`ISSUER`], `aud` exactly `audience`, `sub`,
    /// `iat` and `exp` present, and its times valid ([`valid_at`], against the injected clock,
    /// not the library's). `None` otherwise, whatever the reason: callers answer one `401`.
    pub fn check<C: DeserializeOwned + TokenTimes>(&self, token: &str, audience: &str, now_secs: i64) -> Option<C> {
        // `alg: none` (or any name jsonwebtoken does not know) fails here already.
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.keys.get(header.kid.as_deref()?)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[audience]);
        // Times are checked by `valid_at` against the injected clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        let claims = jsonwebtoken::decode::<C>(token, key, &v).ok()?.claims;
        valid_at(&claims, now_secs).then_some(claims)
    }

    pub fn issue_participant(&self, campaign: &CampaignId, participant: &ParticipantId, now_secs: i64) -> String {
        self.sign(&ParticipantClaims {
            iss: ISSUER.into(),
            aud: PARTICIPANT_AUDIENCE.into(),
            sub: participant.to_string(),
            cid: campaign.to_string(),
            iat: now_secs,
            exp: now_secs + PARTICIPANT_TTL_SECS,
            nbf: None,
        })
    }

    /// Checks a participant token ([`Tokens::check`] with [`PARTICIPANT_AUDIENCE`]) and reads
    /// its campaign and participant.
    pub fn verify_participant(&self, token: &str, now_secs: i64) -> Result<(CampaignId, ParticipantId), Problem> {
        let bad = || {
            Problem::unauthorized("The token is missing, invalid or expired. Join the campaign again to get a new one.")
        };
        let c: ParticipantClaims = self.check(token, PARTICIPANT_AUDIENCE, now_secs).ok_or_else(bad)?;
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

    const NOW: i64 = 1_800_000_000;
    const LEEWAY: i64 = LEEWAY_SECS as i64;

    /// The claims of a good participant token at [`NOW`], to change one thing in.
    fn claims() -> serde_json::Value {
        serde_json::json!({"iss": ISSUER, "aud": PARTICIPANT_AUDIENCE, "sub": "abc", "cid": "demo",
            "iat": NOW, "exp": NOW + 3600})
    }

    /// `claims` signed (HS256) with `key`'s secret, naming `kid` in the header.
    fn forge(claims: &serde_json::Value, kid: Option<&str>) -> String {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(&[7u8; 32]).unwrap()).unwrap()
    }

    fn tokens() -> Tokens {
        Tokens::new(&[key("k1")]).unwrap()
    }

    #[track_caller]
    fn refused(token: &str, now: i64) {
        let e = tokens().verify_participant(token, now).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "unauthorized"), "{token}");
    }

    #[test]
    fn a_good_token_verifies() {
        let (c, p) = tokens().verify_participant(&forge(&claims(), Some("k1")), NOW).unwrap();
        assert_eq!((c.as_str(), p.as_str()), ("demo", "abc"));
    }

    #[test]
    fn expired_tokens_are_refused_after_the_leeway() {
        let t = forge(&claims(), Some("k1"));
        assert!(tokens().verify_participant(&t, NOW + 3600 + LEEWAY - 1).is_ok(), "within the leeway");
        refused(&t, NOW + 3600 + LEEWAY);
        refused(&t, NOW + 10 * 365 * 24 * 3600);
    }

    #[test]
    fn tokens_not_yet_valid_are_refused_beyond_the_leeway() {
        // Issued in the future (`iat`).
        let mut c = claims();
        c["iat"] = (NOW + LEEWAY).into();
        assert!(tokens().verify_participant(&forge(&c, Some("k1")), NOW).is_ok(), "skew within the leeway");
        c["iat"] = (NOW + LEEWAY + 1).into();
        refused(&forge(&c, Some("k1")), NOW);
        // Valid only later (`nbf`).
        let mut c = claims();
        c["nbf"] = (NOW + LEEWAY).into();
        assert!(tokens().verify_participant(&forge(&c, Some("k1")), NOW).is_ok(), "skew within the leeway");
        c["nbf"] = (NOW + LEEWAY + 1).into();
        refused(&forge(&c, Some("k1")), NOW);
        assert!(tokens().verify_participant(&forge(&c, Some("k1")), NOW + 1).is_ok(), "and valid once it is time");
    }

    #[test]
    fn a_wrong_audience_is_refused() {
        for aud in [serde_json::json!("baton:console"), serde_json::json!("baton"), serde_json::json!(["other"])] {
            let mut c = claims();
            c["aud"] = aud;
            refused(&forge(&c, Some("k1")), NOW);
        }
    }

    #[test]
    fn a_wrong_issuer_is_refused() {
        for iss in ["someone", "Baton", ""] {
            let mut c = claims();
            c["iss"] = iss.into();
            refused(&forge(&c, Some("k1")), NOW);
        }
    }

    #[test]
    fn an_unknown_or_missing_kid_is_refused() {
        // Signed with the right secret, but naming a key the set does not have, or none.
        refused(&forge(&claims(), Some("k2")), NOW);
        refused(&forge(&claims(), Some("")), NOW);
        refused(&forge(&claims(), None), NOW);
    }

    #[test]
    fn alg_none_is_refused() {
        assert_eq!(base64_url(br#"{"alg":"HS256"}"#), "eyJhbGciOiJIUzI1NiJ9", "the helper writes JWT base64");
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"none","kid":"k1"}"#, r#"{"alg":"None","kid":"k1"}"#]
        {
            let unsigned =
                format!("{}.{}.", base64_url(header.as_bytes()), base64_url(claims().to_string().as_bytes()));
            refused(&unsigned, NOW);
        }
        // Nor another HMAC with the same secret.
        let mut h = Header::new(Algorithm::HS512);
        h.kid = Some("k1".into());
        refused(&jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(&[7u8; 32]).unwrap()).unwrap(), NOW);
    }

    #[test]
    fn required_claims_must_be_there() {
        for missing in ["iss", "aud", "sub", "cid", "iat", "exp"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(missing);
            refused(&forge(&c, Some("k1")), NOW);
        }
    }

    /// Unpadded base64url, as JWTs are written.
    fn base64_url(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn short_keys_and_secrets_in_debug_are_refused() {
        assert!(SigningKey::parse("k1=short").is_err());
        let k = SigningKey::parse("k1=0123456789abcdef0123456789abcdef").unwrap();
        assert!(!format!("{k:?}").contains("0123"));
    }
}
