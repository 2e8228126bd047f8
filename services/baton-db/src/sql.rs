//! Multi-row statements: one round trip for hundreds of rows instead of one per row.
//!
//! A statement is `head` + `VALUES ($1, …), (…)` + `tail`, so the same helper writes a multi-row
//! `INSERT`, an `UPDATE … FROM (VALUES …) AS v` and a `SELECT … JOIN (VALUES …) AS v`. The
//! columns of such a `VALUES` list are named `column1`, `column2`, … on both engines. The SQL
//! text is built only from constant fragments; every value is bound as `$n`, which both engines
//! accept (sqlx's `QueryBuilder` cannot be used here: through `Any` it writes `?` placeholders,
//! which PostgreSQL rejects). On PostgreSQL sqlx sends the type of every bound value, so the
//! columns of a `VALUES` list in `FROM` are typed too.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, FromRow};

/// One bound value of a row.
pub(crate) enum Val<'a> {
    Str(&'a str),
    Owned(String),
    OptStr(Option<&'a str>),
    OptOwned(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

/// Most bound parameters in one statement: below SQLite's historic limit of 999. The bundled
/// SQLite allows far more, but bigger statements measured slower there (5,000 events in one
/// call: 250 ms at 900, 830 ms at 4,000, 5 s at 32,000 parameters) and no faster on PostgreSQL.
pub(crate) const MAX_PARAMS: usize = 900;

/// Binds every value of `rows`, in order, to a query or query_as.
macro_rules! bind_rows {
    ($q:ident, $rows:expr, $width:expr) => {
        for row in $rows {
            debug_assert_eq!(row.len(), $width);
            for v in row {
                $q = match v {
                    Val::Str(s) => $q.bind(*s),
                    Val::Owned(s) => $q.bind(s.as_str()),
                    Val::OptStr(s) => $q.bind(*s),
                    Val::OptOwned(s) => $q.bind(s.as_deref()),
                    Val::Int(i) => $q.bind(*i),
                    Val::OptInt(i) => $q.bind(*i),
                };
            }
        }
    };
}

/// A statement wrapped around a `VALUES` list of rows `width` values wide.
#[derive(Clone, Copy)]
pub(crate) struct Values<'s> {
    pub head: &'s str,
    pub tail: &'s str,
    pub width: usize,
}

impl Values<'_> {
    /// How many rows one statement carries.
    fn rows_per_statement(&self) -> usize {
        (MAX_PARAMS / self.width).max(1)
    }

    fn sql(&self, rows: usize) -> String {
        let mut sql = String::with_capacity(self.head.len() + self.tail.len() + 8 + rows * self.width * 6);
        sql.push_str(self.head);
        sql.push_str("VALUES ");
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..self.width {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&(r * self.width + c + 1).to_string());
            }
            sql.push(')');
        }
        sql.push_str(self.tail);
        sql
    }

    /// Runs the statement over `rows`, as many statements as needed; returns the rows affected.
    pub(crate) async fn execute(&self, conn: &mut AnyConnection, rows: &[Vec<Val<'_>>]) -> Result<u64, sqlx::Error> {
        let mut affected = 0;
        for chunk in rows.chunks(self.rows_per_statement()) {
            let mut q = sqlx::query::<Any>(AssertSqlSafe(self.sql(chunk.len())));
            bind_rows!(q, chunk, self.width);
            affected += q.execute(&mut *conn).await?.rows_affected();
        }
        Ok(affected)
    }

    /// Runs the statement over `rows` and collects what it returns (a `SELECT`, or `RETURNING`).
    pub(crate) async fn fetch<T>(&self, conn: &mut AnyConnection, rows: &[Vec<Val<'_>>]) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let mut out = Vec::new();
        for chunk in rows.chunks(self.rows_per_statement()) {
            let mut q = sqlx::query_as::<Any, T>(AssertSqlSafe(self.sql(chunk.len())));
            bind_rows!(q, chunk, self.width);
            out.extend(q.fetch_all(&mut *conn).await?);
        }
        Ok(out)
    }
}
