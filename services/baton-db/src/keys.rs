//! The key that signs participant and console tokens. It lives in the database so that every
//! process of a deployment (every pod, every restart) signs and verifies with the same key, and
//! nobody has to generate or distribute one by hand.

use crate::error::{self, DbError};
use crate::{Db, Engine, now_ms};
use rand::Rng;

impl Db {
    /// The signing key `(kid, secret)`, creating it (32 random bytes; kid `k-<8 hex>`) if the
    /// database has none. Processes racing to create it all end up with the same key: creation
    /// is serialized (a table lock on PostgreSQL, the write lock on SQLite), inserts only when
    /// the table is empty, and everybody then reads the oldest key.
    pub async fn signing_key(&self) -> Result<(String, Vec<u8>), DbError> {
        if let Some(key) = self.oldest_key().await? {
            return Ok(key);
        }
        let action = "creating the signing key";
        let mut secret = [0u8; 32];
        rand::rng().fill(&mut secret);
        let mut tag = [0u8; 4];
        rand::rng().fill(&mut tag);
        let kid = format!("k-{}", hex(&tag));

        let mut tx = self.write_tx().await.map_err(error::query(action))?;
        if self.engine == Engine::Postgres {
            // Conflicts with itself, so a second creator waits here and then sees the first key.
            sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(error::query(action))?;
        }
        let created = sqlx::query(
            "INSERT INTO signing_keys (kid, secret, created_at_ms) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(kid.as_str())
        .bind(hex(&secret))
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(error::query(action))?
        .rows_affected()
            == 1;
        tx.commit().await.map_err(error::query(action))?;
        if created {
            tracing::info!(key.kid = %kid, "created the token signing key");
        }
        self.oldest_key()
            .await?
            .ok_or_else(|| DbError::Corrupt("signing_keys is empty right after creating a key".into()))
    }

    async fn oldest_key(&self) -> Result<Option<(String, Vec<u8>)>, DbError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT kid, secret FROM signing_keys ORDER BY created_at_ms, kid LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(error::query("reading the signing key"))?;
        row.map(|(kid, secret)| {
            let secret = unhex(&secret)
                .filter(|s| s.len() >= 16)
                .ok_or_else(|| DbError::Corrupt(format!("signing key {kid}: secret is not hex of 16+ bytes")))?;
            Ok((kid, secret))
        })
        .transpose()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex("0001abff").unwrap(), bytes);
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }
}
