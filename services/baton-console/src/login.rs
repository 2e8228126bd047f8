//! Logging in: [`Console::login`] turns a username and password into an organizer token.
//!
//! 1. Take the username's lease (one login per username at a time, across pods; `429` with
//!    `Retry-After: 1` while another is in progress), then refuse with `429` if the username or
//!    the client address is past its failed-login limit ([`crate::throttle`]).
//! 2. Read the account and check the password — against the account's hash, or against a
//!    dummy hash when there is no such account, so that unknown usernames cost the same time.
//! 3. A wrong password, an unknown username and a disabled account all answer the same
//!    `401 invalid_credentials` and count one failure for the username and the address.
//! 4. Every success and every failure is written to the audit log, with the reason a failure
//!    had (for the log's readers only). A login refused by the throttle is not checked and not
//!    written one by one (the failure that reached the limit says so): otherwise a locked
//!    username would turn each refused request into a database write.

use crate::Console;
use crate::account::{Account, Role, Scope, Username};
use crate::password::{dummy_hash, verify_password};
use crate::throttle::{Counter, LOGIN_LEASE_MS, address_key, lease_name, username_key};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use baton_db::organizers::AuditEntry;
use baton_http::Problem;
use std::net::IpAddr;

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub token: String,
    pub username: Username,
    pub role: Role,
    pub scope: Scope,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// The one answer to wrong credentials, whatever was wrong.
pub fn invalid_credentials() -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Unauthorized", "The username or password is wrong.")
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

fn too_many(retry_after_secs: i64) -> Problem {
    let wait = match retry_after_secs {
        120.. => format!("{} minutes", retry_after_secs.div_euclid(60)),
        2.. => format!("{retry_after_secs} seconds"),
        _ => "a moment".to_owned(),
    };
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_logins",
        "Too many requests",
        format!("Too many failed logins. Try again in {wait}."),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs))
}

/// A username as typed, fit for the audit log: the normalized form when valid, otherwise at
/// most 64 characters with control characters replaced.
fn audit_name(typed: &str, parsed: Option<&Username>) -> String {
    match parsed {
        Some(u) => u.to_string(),
        None => typed.chars().take(64).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect(),
    }
}

impl Console {
    /// Logs `username` in with `password` from `client`: a token, or `401 invalid_credentials`,
    /// `429 too_many_logins` (with `Retry-After`), `503` when a store is down.
    pub async fn login(&self, username: &str, password: &str, client: Option<IpAddr>) -> Result<LoggedIn, Problem> {
        let key = username_key(username);
        let holder = format!("{:016x}", rand::random::<u64>());
        let lease = lease_name(&key);
        if !self.store.shared_lease(&lease, &holder, LOGIN_LEASE_MS).await.map_err(Problem::from)? {
            return Err(too_many(1));
        }
        let result = self.login_leased(username, password, &key, client).await;
        if let Err(e) = self.store.shared_release(&lease, &holder).await {
            // It expires by itself within LOGIN_LEASE_MS.
            tracing::warn!(error = %e, "could not release a console login lease");
        }
        result
    }

    async fn login_leased(
        &self,
        typed: &str,
        password: &str,
        key: &str,
        client: Option<IpAddr>,
    ) -> Result<LoggedIn, Problem> {
        let now = self.clock.now_ms();
        let per_user = Counter::new("u", key, self.limits.per_username, now);
        let per_addr = Counter::new("a", &address_key(client), self.limits.per_address, now);
        let user_fails = per_user.count(&*self.store).await.map_err(Problem::from)?;
        let addr_fails = per_addr.count(&*self.store).await.map_err(Problem::from)?;
        if per_user.exceeded(user_fails) {
            return Err(too_many(per_user.retry_after_secs(now)));
        }
        if per_addr.exceeded(addr_fails) {
            return Err(too_many(per_addr.retry_after_secs(now)));
        }

        let name = Username::parse(typed).ok();
        let row = match &name {
            Some(n) => self.db.organizer(n.as_str()).await.map_err(Problem::unavailable)?,
            None => None,
        };
        let account = row.as_ref().map(Account::from_row).transpose().map_err(Problem::internal)?;
        let verified = self.check_password(password, row.map(|r| r.password_hash)).await?;

        let failure = match &account {
            None => Some("unknown username"),
            Some(_) if !verified => Some("wrong password"),
            Some(a) if a.disabled => Some("account disabled"),
            Some(_) => None,
        };
        let campaign = account.as_ref().and_then(|a| a.scope.campaign.clone());
        let client_text = client.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        let Some(reason) = failure else {
            let a = account.expect("a login succeeds only for an account");
            if user_fails > 0 {
                per_user.set(&*self.store, 0, now).await.map_err(Problem::from)?;
            }
            // No login that the audit log does not show.
            self.db
                .audit(&AuditEntry {
                    at_ms: now,
                    username: a.username.to_string(),
                    action: "login".into(),
                    campaign_id: campaign,
                    detail: format!("from {client_text} as {}", a.role),
                })
                .await
                .map_err(Problem::unavailable)?;
            let (token, expires_at) = self.tokens.issue(&a.username, a.role, &a.scope, now.div_euclid(1000));
            tracing::info!(organizer.username = %a.username, organizer.role = %a.role, "organizer logged in");
            return Ok(LoggedIn { token, username: a.username, role: a.role, scope: a.scope, expires_at });
        };

        per_user.set(&*self.store, user_fails + 1, now).await.map_err(Problem::from)?;
        per_addr.set(&*self.store, addr_fails + 1, now).await.map_err(Problem::from)?;
        let mut detail = format!("{reason}, from {client_text}");
        if per_user.exceeded(user_fails + 1) {
            detail.push_str("; the username is now locked until its window ends");
        } else if per_addr.exceeded(addr_fails + 1) {
            detail.push_str("; the address is now locked until its window ends");
        }
        let entry = AuditEntry {
            at_ms: now,
            username: audit_name(typed, name.as_ref()),
            action: "login_failed".into(),
            campaign_id: campaign,
            detail,
        };
        if let Err(e) = self.db.audit(&entry).await {
            // The caller still learns nothing but "wrong credentials"; the log shows the gap.
            tracing::error!(error = %e, "could not write a failed console login to the audit log");
        }
        tracing::info!(reason, "console login failed");
        Err(invalid_credentials())
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is no account,
    /// off the async executor and at most a few at a time.
    async fn check_password(&self, password: &str, hash: Option<String>) -> Result<bool, Problem> {
        let _permit = self.hashing.clone().acquire_owned().await.map_err(Problem::internal)?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref().unwrap_or_else(|| dummy_hash())))
            .await
            .map_err(Problem::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_names_are_tame() {
        let u = Username::parse("Office").unwrap();
        assert_eq!(audit_name("Office", Some(&u)), "office");
        assert_eq!(audit_name("bad\nname\u{7}", None), "bad\u{fffd}name\u{fffd}");
        assert_eq!(audit_name(&"x".repeat(500), None).chars().count(), 64);
    }

    #[test]
    fn throttled_answers_say_when_to_come_back() {
        let p = too_many(840);
        assert_eq!((p.status.as_u16(), p.code), (429, "too_many_logins"));
        assert!(p.detail.contains("14 minutes"), "{}", p.detail);
        assert!(p.headers.iter().any(|(k, v)| k == header::RETRY_AFTER && v == "840"));
        assert!(too_many(90).detail.contains("90 seconds"));
        assert!(too_many(1).detail.contains("a moment"));
    }
}
