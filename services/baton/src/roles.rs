//! Roles are data, decided here and nowhere else: `--role all` runs every role this version
//! has; a comma-separated list runs some of them (one role per pod when split).

use std::fmt;
use std::str::FromStr;

/// A role a process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The participant API: join, attempts, answers, finish, leaderboards.
    Quiz,
    /// Events from the hot store's streams into SQL (with Redis; the embedded store commits
    /// its events itself).
    Archiver,
    /// Short share links, relay stats, share intents, cards and posters, chain roll-ups.
    Relay,
    /// The organizer console: accounts, login, scoped figures.
    Console,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Quiz, Role::Archiver, Role::Relay, Role::Console];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Quiz => "quiz",
            Role::Archiver => "archiver",
            Role::Relay => "relay",
            Role::Console => "console",
        }
    }
}

/// The set of roles one process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn all() -> Self {
        Self(Role::ALL.to_vec())
    }
    pub fn has(&self, r: Role) -> bool {
        self.0.contains(&r)
    }
}

impl FromStr for Roles {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "all" {
            return Ok(Self::all());
        }
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            let r = Role::ALL.into_iter().find(|r| r.as_str() == part).ok_or_else(|| {
                format!("unknown role {part:?}: this version has {} (or all)", Role::ALL.map(Role::as_str).join(", "))
            })?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.is_empty() {
            return Err("name at least one role".into());
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_roles() {
        assert_eq!("all".parse::<Roles>().unwrap(), Roles::all());
        assert!("quiz".parse::<Roles>().unwrap().has(Role::Quiz));
        let split = "archiver".parse::<Roles>().unwrap();
        assert!(split.has(Role::Archiver) && !split.has(Role::Quiz));
        let e = "quiz,nope".parse::<Roles>().unwrap_err();
        assert!(e.contains("unknown role \"nope\""), "{e}");
        assert!("".parse::<Roles>().is_err());
    }
}
