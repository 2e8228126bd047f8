//! Database URLs: which engine a URL names, the defaults a SQLite URL gets, and a form of the
//! URL that is safe to print (no password).

use crate::{DbError, Engine};
use std::path::Path;

/// A database URL, understood.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub engine: Engine,
    /// The URL to connect with (for SQLite, with `mode=rwc` added when no mode was given).
    pub url: String,
    /// The URL with any password replaced by `***`.
    pub redacted: String,
    /// A SQLite database that lives only in memory.
    pub in_memory: bool,
    /// A SQLite database opened with `mode=ro`.
    pub read_only: bool,
}

impl Target {
    /// Parses `postgres://…`, `postgresql://…` or `sqlite:…`. For a SQLite file, makes sure its
    /// directory exists.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let redacted = redact(url);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                engine: Engine::Postgres,
                url: url.to_owned(),
                redacted,
                in_memory: false,
                read_only: false,
            });
        }
        let Some(rest) = url.strip_prefix("sqlite:") else {
            return Err(DbError::UnsupportedUrl { url: redacted });
        };
        // sqlx reads `sqlite://PATH` and `sqlite:PATH` alike.
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mode = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("mode=")));
        let in_memory = path == ":memory:" || mode == Some("memory");
        let url = match (query, mode) {
            _ if in_memory => url.to_owned(),
            (_, Some(_)) => url.to_owned(),
            (Some(_), None) => format!("{url}&mode=rwc"),
            (None, None) => format!("{url}?mode=rwc"),
        };
        if !in_memory && mode != Some("ro") && mode != Some("rw") {
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl { url: redacted });
            }
            // Percent-encoded paths are left to sqlx; everything else gets its directory made.
            if !path.contains('%')
                && let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|source| DbError::CreateDir { dir: dir.display().to_string(), source })?;
            }
        }
        Ok(Self { engine: Engine::Sqlite, url, redacted, in_memory, read_only: mode == Some("ro") })
    }
}

/// `url` with its password (in the user info, or a `password=` parameter as libpq allows)
/// replaced by `***`.
pub fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.find("://").map(|i| i + 3) {
        None => base.to_owned(),
        Some(scheme_end) => {
            let rest = &base[scheme_end..];
            let authority = &rest[..rest.find(['/', '#']).unwrap_or(rest.len())];
            match authority.rfind('@').and_then(|at| Some((at, authority[..at].split_once(':')?))) {
                Some((at, (user, _))) => {
                    format!("{}{user}:***{}", &base[..scheme_end], &rest[at..])
                }
                None => base.to_owned(),
            }
        }
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive() {
        assert_eq!(redact("postgres://baton:s3cret@db:5432/baton"), "postgres://baton:***@db:5432/baton");
        assert_eq!(redact("postgres://baton@db/baton"), "postgres://baton@db/baton");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(
            redact("postgres://u@h/db?sslmode=require&password=pw&x=1"),
            "postgres://u@h/db?sslmode=require&password=***&x=1"
        );
        assert_eq!(redact("sqlite://a.db?mode=rwc"), "sqlite://a.db?mode=rwc");
        let t = Target::parse("postgres://u:p%40ss@h/db?sslmode=disable").unwrap();
        assert!(!t.redacted.contains("p%40ss"), "{}", t.redacted);
    }

    #[test]
    fn engines_by_scheme() {
        assert_eq!(Target::parse("postgresql://h/db").unwrap().engine, Engine::Postgres);
        assert!(
            matches!(Target::parse("mysql://u:pw@h/db"), Err(DbError::UnsupportedUrl { url }) if !url.contains("pw"))
        );
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir();
        let file = dir.join("baton-url-test.db");
        let t = Target::parse(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(t.url, format!("sqlite://{}?mode=rwc", file.display()));
        let t = Target::parse(&format!("sqlite://{}?cache=shared", file.display())).unwrap();
        assert!(t.url.ends_with("?cache=shared&mode=rwc"));
        let t = Target::parse(&format!("sqlite://{}?mode=ro", file.display())).unwrap();
        assert!(t.url.ends_with("?mode=ro"));
        assert!(Target::parse("sqlite::memory:").unwrap().in_memory);
        assert!(Target::parse("sqlite://").is_err());
    }
}
