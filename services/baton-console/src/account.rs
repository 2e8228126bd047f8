//! Organizer accounts: who may use the console ([`Username`]), as what ([`Role`]) and over what
//! ([`Scope`]), and how an account is made ([`create_organizer`], which `baton organizer add`
//! calls, with the password from [`read_password`]).
//!
//! A role fixes the shape of its scope, decided once in [`Scope::for_role`]: an admin sees
//! every campaign; an organizer one campaign; a viewer one campaign, optionally only one region
//! and everything under it. Accounts, tokens and stored rows all go through it, so no account,
//! token or row can hold a scope its role does not allow.

use crate::password::{MIN_PASSWORD_CHARS, hash_password};
use baton_core::campaign::PlaceDoc;
use baton_core::ids::{CampaignId, PlaceId};
use baton_db::organizers::{AuditEntry, NewOrganizer, OrganizerRow};
use baton_db::{Db, DbError, PutOutcome};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{BufRead, IsTerminal};

/// The environment variable `baton organizer add` reads the password from.
pub const PASSWORD_ENV: &str = "BATON_ORGANIZER_PASSWORD";

/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every campaign.
    Admin,
    /// One campaign.
    Organizer,
    /// One campaign, read only, optionally one region and everything under it.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Organizer => "organizer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "organizer" => Some(Role::Organizer),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = ConsoleError;

    fn from_str(s: &str) -> Result<Self, ConsoleError> {
        Role::parse(s).ok_or_else(|| ConsoleError::InvalidRole(s.to_owned()))
    }
}

/// What an account sees: `None` is "no limit" at that level. Accounts, tokens and stored rows
/// make theirs through [`Scope::for_role`], so its shape fits its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub campaign: Option<CampaignId>,
    pub region: Option<PlaceId>,
}

impl Scope {
    /// The scope of an account of `role`, if the role allows it: an admin has no campaign and
    /// no region; an organizer a campaign and no region; a viewer a campaign and perhaps a
    /// region.
    pub fn for_role(role: Role, campaign: Option<CampaignId>, region: Option<PlaceId>) -> Result<Self, ConsoleError> {
        let fail = |why: &str| Err(ConsoleError::ScopeMismatch(why.to_owned()));
        match (role, &campaign, &region) {
            (Role::Admin, None, None) => {}
            (Role::Admin, _, _) => return fail("an admin sees every campaign: give it no --campaign and no --region"),
            (Role::Organizer | Role::Viewer, None, _) => {
                return fail("an organizer or viewer belongs to one campaign: give --campaign ID");
            }
            (Role::Organizer, Some(_), Some(_)) => {
                return fail("an organizer runs a whole campaign: limit a viewer (--role viewer) to a region instead");
            }
            (Role::Organizer, Some(_), None) | (Role::Viewer, Some(_), _) => {}
        }
        Ok(Scope { campaign, region })
    }
}

/// A console username: 1 to 64 of `a-z`, `0-9`, `.`, `_`, `-`, `@`, starting with a letter or
/// digit. Usernames are case-insensitive: [`Username::parse`] lowercases ASCII letters, and the
/// lowercase form is what is stored and compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, ConsoleError> {
        let lower = s.to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= MAX_USERNAME_CHARS
            && lower.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && lower.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b));
        if ok { Ok(Username(lower)) } else { Err(ConsoleError::InvalidUsername(s.chars().take(80).collect())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored account, checked: its username, role and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: Username,
    pub role: Role,
    pub scope: Scope,
    pub disabled: bool,
}

impl Account {
    /// Reads a stored row. A row that does not check out is corrupt (the table's CHECK should
    /// have kept it out).
    pub fn from_row(row: &OrganizerRow) -> Result<Self, ConsoleError> {
        let corrupt = |why: String| ConsoleError::Db(DbError::Corrupt(format!("organizer {:?}: {why}", row.username)));
        let username = Username::parse(&row.username).map_err(|e| corrupt(e.to_string()))?;
        let role = Role::parse(&row.role).ok_or_else(|| corrupt(format!("unknown role {:?}", row.role)))?;
        let scope = Scope::for_role(role, row.campaign_id.clone(), row.region_id.clone())
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Account { username, role, scope, disabled: row.disabled })
    }
}

/// Why an account could not be made, or a password read. Messages tell an operator what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(
        "username {0:?} is not valid: use 1-{MAX_USERNAME_CHARS} letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
    )]
    InvalidUsername(String),
    #[error("role {0:?} is not one of admin, organizer, viewer")]
    InvalidRole(String),
    #[error("{0}")]
    InvalidId(String),
    #[error("{0}")]
    ScopeMismatch(String),
    #[error("no campaign {0}; import it first with baton campaign import")]
    UnknownCampaign(CampaignId),
    #[error("region {region} is not a place of campaign {campaign}")]
    UnknownRegion { campaign: CampaignId, region: PlaceId },
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("no password: set {PASSWORD_ENV} or give it on standard input")]
    NoPassword,
    #[error("the two passwords differ")]
    PasswordMismatch,
    #[error("cannot read the password")]
    ReadPassword(#[source] std::io::Error),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for ConsoleError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::UnknownCampaign(c) => ConsoleError::UnknownCampaign(c),
            other => ConsoleError::Db(other),
        }
    }
}

/// Whether `id` is a place of the tree `roots`.
fn has_place(roots: &[PlaceDoc], id: &PlaceId) -> bool {
    roots.iter().any(|p| &p.id == id || has_place(&p.children, id))
}

/// Creates an account, or gives an existing one a new role, scope and password: what
/// `baton organizer add USERNAME --role … [--campaign ID] [--region ID]` does. The campaign
/// must be stored (else "no campaign X; import it first with baton campaign import"), a viewer's
/// region must be one of its places, and the password at least [`MIN_PASSWORD_CHARS`]
/// characters. Written to the audit log.
pub async fn create_organizer(
    db: &Db,
    username: &str,
    role: Role,
    campaign: Option<&str>,
    region: Option<&str>,
    password: &str,
) -> Result<PutOutcome, ConsoleError> {
    let username = Username::parse(username)?;
    let campaign = campaign.map(CampaignId::parse).transpose().map_err(|e| ConsoleError::InvalidId(e.0))?;
    let region = region.map(PlaceId::parse).transpose().map_err(|e| ConsoleError::InvalidId(e.0))?;
    let scope = Scope::for_role(role, campaign, region)?;
    if let Some(cid) = &scope.campaign {
        let doc = db.campaign(cid).await?.ok_or_else(|| ConsoleError::UnknownCampaign(cid.clone()))?;
        if let Some(rid) = &scope.region
            && !has_place(&doc.regions, rid)
        {
            return Err(ConsoleError::UnknownRegion { campaign: cid.clone(), region: rid.clone() });
        }
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ConsoleError::Hash(e.to_string()))??;
    let now = chrono::Utc::now().timestamp_millis();
    let outcome = db
        .put_organizer(&NewOrganizer {
            username: username.to_string(),
            password_hash: hash,
            role: role.as_str().to_owned(),
            campaign_id: scope.campaign.clone(),
            region_id: scope.region.clone(),
            created_at_ms: now,
        })
        .await?;
    let what = match outcome {
        PutOutcome::Created => "account_created",
        PutOutcome::Updated => "account_updated",
    };
    let mut detail = format!("from the command line: role {role}");
    if let Some(r) = &scope.region {
        detail.push_str(&format!(", region {r}"));
    }
    db.audit(&AuditEntry {
        at_ms: now,
        username: username.to_string(),
        action: what.to_owned(),
        campaign_id: scope.campaign,
        detail,
    })
    .await?;
    Ok(outcome)
}

/// The password for `baton organizer add`: from [`PASSWORD_ENV`] if set, else from standard
/// input — typed twice without echo on a terminal, or one line when piped. Never from a flag,
/// where it would show in the process list and the shell history.
pub fn read_password() -> Result<String, ConsoleError> {
    match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => return Ok(p),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(ConsoleError::ReadPassword(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{PASSWORD_ENV} is not UTF-8"),
            )));
        }
        _ => {}
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("Password ({MIN_PASSWORD_CHARS}+ characters): "))
            .map_err(ConsoleError::ReadPassword)?;
        let again = rpassword::prompt_password("The same password again: ").map_err(ConsoleError::ReadPassword)?;
        if first != again {
            return Err(ConsoleError::PasswordMismatch);
        }
        if first.is_empty() {
            return Err(ConsoleError::NoPassword);
        }
        Ok(first)
    } else {
        password_line(stdin.lock())
    }
}

/// The first line of `input`, without its line ending; nothing at all is [`ConsoleError::NoPassword`].
fn password_line(mut input: impl BufRead) -> Result<String, ConsoleError> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(ConsoleError::ReadPassword)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(ConsoleError::NoPassword);
    }
    Ok(line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(s: &str) -> CampaignId {
        CampaignId::parse(s).unwrap()
    }

    fn pid(s: &str) -> PlaceId {
        PlaceId::parse(s).unwrap()
    }

    #[test]
    fn roles_fix_the_shape_of_their_scope() {
        assert!(Scope::for_role(Role::Admin, None, None).is_ok());
        assert!(Scope::for_role(Role::Admin, Some(cid("demo")), None).is_err());
        assert!(Scope::for_role(Role::Admin, None, Some(pid("north"))).is_err());
        assert!(Scope::for_role(Role::Organizer, Some(cid("demo")), None).is_ok());
        assert!(Scope::for_role(Role::Organizer, None, None).is_err());
        assert!(Scope::for_role(Role::Organizer, Some(cid("demo")), Some(pid("north"))).is_err());
        assert!(Scope::for_role(Role::Viewer, Some(cid("demo")), None).is_ok());
        assert!(Scope::for_role(Role::Viewer, Some(cid("demo")), Some(pid("north"))).is_ok());
        assert!(Scope::for_role(Role::Viewer, None, Some(pid("north"))).is_err());
        assert!(Scope::for_role(Role::Viewer, None, None).is_err());
    }

    #[test]
    fn roles_parse_and_print() {
        for r in [Role::Admin, Role::Organizer, Role::Viewer] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert!(matches!("root".parse::<Role>(), Err(ConsoleError::InvalidRole(_))));
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn usernames_are_lowercase_slugs() {
        assert_eq!(Username::parse("Zhang.Wei@office-1").unwrap().as_str(), "zhang.wei@office-1");
        assert_eq!(Username::parse("a").unwrap().as_str(), "a");
        assert!(Username::parse(&"a".repeat(MAX_USERNAME_CHARS)).is_ok());
        for bad in ["", " admin", "admin ", "-admin", ".x", "ad min", "张伟", "a/b", "a:b", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_password_is_one_line_of_input() {
        assert_eq!(password_line(&b"correct horse\n"[..]).unwrap(), "correct horse");
        assert_eq!(password_line(&b"with windows ending\r\nnext"[..]).unwrap(), "with windows ending");
        assert_eq!(password_line(&b"no newline at all"[..]).unwrap(), "no newline at all");
        assert_eq!(password_line(&b"  spaces are kept  \n"[..]).unwrap(), "  spaces are kept  ");
        assert!(matches!(password_line(&b""[..]), Err(ConsoleError::NoPassword)));
        assert!(matches!(password_line(&b"\n"[..]), Err(ConsoleError::NoPassword)));
    }

    #[test]
    fn an_unknown_campaign_says_to_import_it() {
        let e = ConsoleError::from(DbError::UnknownCampaign(cid("spring")));
        assert_eq!(e.to_string(), "no campaign spring; import it first with baton campaign import");
    }
}
