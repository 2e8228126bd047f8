//! The console's CSV downloads: `GET /api/v1/console/campaigns/{cid}/exports/{file}` with
//! `file` one of `participants.csv`, `results.csv`, `units.csv` — the files `baton export`
//! writes (`baton_db::export`: UTF-8 with a byte-order mark, CRLF, RFC 4180 quoting, formula
//! injection neutralised), limited to the caller's scope.
//!
//! # Scope
//! [`Console::scoped`] decides what the caller may see, as for every console answer. A
//! region-limited viewer (or anyone drilling down with `?region_id=`) gets only its subtree:
//! participants and results of participants whose place lies in it, units hanging from a place
//! in it (with all of their participants). In `results.csv`, `rank` is the campaign-wide
//! published rank, the number the public boards show; a filtered file adds `rank_in_region`.
//!
//! # Personal data
//! Exports show nicknames, masked: any run of digits that could be a phone number is masked
//! (`张三13812345678` → `张三138****5678`, other runs of seven or more digits keep only their
//! last two; full-width digits and digits split by spaces or hyphens count, see
//! `baton_db::export::mask`). Phone numbers and openids are never stored, so they cannot
//! appear: participant ids are hashes of the device id or of the WeChat openid.
//!
//! # Streaming
//! The rows are read from SQL as a stream and written, 64 KiB at a time, into a pipe (a tokio
//! duplex of [`PIPE`] bytes) whose other end is the HTTP body ([`ExportBody`], sent chunked):
//! when the client reads slowly, the pipe fills, the export waits, and the database cursor
//! waits with it, so a file of millions of rows takes a few hundred KiB of memory. The answer
//! starts once the first chunk is ready, so a failure before it (the database is down) is a
//! proper problem document. A failure after the status line has gone out cannot change the
//! status any more: the body then ends with an error, actix closes the connection without the
//! final chunk, and the client sees a broken download instead of a silently short file; the
//! failure is logged. A client that goes away stops the export (the pipe breaks).
//!
//! # Audit
//! Every export is recorded in the audit log before its first byte is sent (`export`: file and
//! region); when it ends, a second entry records the outcome (`export_finished` with the row
//! count, or `export_failed`). An export that cannot be recorded is not served.
//!
//! At most [`MAX_EXPORTS`] exports run at once in a process (each holds a database connection
//! for as long as the download lasts, and the pool is shared with everything else); another
//! waits up to 20 s for one of them to end, then gets `429 too_many_exports` with
//! `Retry-After`.

use crate::Console;
use crate::tokens::Organizer;
use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use baton_db::export::{ExportFilter, ExportKind};
use baton_db::{AuditEntry, DbError};
use baton_http::Problem;
use baton_http::problem::ProblemDoc;
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncReadExt, DuplexStream, ReadBuf};
use tokio::sync::oneshot;
use tracing::Instrument;
use utoipa::IntoParams;

/// Registers the exports' route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(download_export);
}

/// Bytes the pipe between the export and the HTTP body holds.
pub const PIPE: usize = 64 * 1024;
/// The most the body reads from the pipe at once (one HTTP chunk).
const CHUNK: usize = 32 * 1024;
/// Exports running at once in this process.
pub const MAX_EXPORTS: usize = 4;
/// How long an export waits for one of those to end before it is refused.
const QUEUE: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only this place and everything under it (within the caller's scope; `403` outside it).
    pub region_id: Option<String>,
}

/// Download a CSV export of a campaign, limited to the caller's scope.
///
/// `participants.csv`: everybody who joined, in join order. `results.csv`: everybody with a
/// best result, in the published order; `rank` is the campaign-wide rank the public boards
/// show, and a file limited to a region adds `rank_in_region`. `units.csv`: every unit with
/// participation, rate and average best score. UTF-8 with a byte-order mark, CRLF line ends,
/// RFC 4180 quoting; text starting with `=`, `+`, `-`, `@` gets a leading apostrophe. Streamed
/// as it is read from the database: a download that breaks off (the connection closes without
/// the final chunk) is incomplete and must be retried.
///
/// Personal data: nicknames appear with any run of digits that could be a phone number masked
/// (`张三13812345678` becomes `张三138****5678`; other runs of seven or more digits keep only
/// their last two; full-width digits and digits split by spaces or hyphens count). Phone
/// numbers and WeChat openids are never stored and never appear. Every export is recorded in
/// the audit log.
#[utoipa::path(tag = "console",
    params(
        ("cid" = String, Path, description = "The campaign"),
        ("file" = String, Path, description = "`participants.csv`, `results.csv` or `units.csv`"),
        ExportQuery,
    ),
    security(("organizer" = [])),
    responses(
        (status = 200, description = "The CSV file, streamed (chunked)", content_type = "text/csv; charset=utf-8", body = String,
            headers(("Content-Disposition" = String, description = "attachment; filename=\"<cid>-<kind>-<yyyymmdd-hhmm UTC>.csv\""))),
        (status = 400, description = "invalid_region, invalid_query", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "forbidden: the campaign or region is outside the caller's scope", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "campaign_not_found, export_not_found (file is not participants.csv, results.csv or units.csv)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "too_many_exports: this server has been running as many exports as it may for a while; see Retry-After", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = i64, description = "seconds to wait before trying again"))),
        (status = 503, description = "unavailable: the database could not be reached", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/console/campaigns/{cid}/exports/{file}")]
async fn download_export(
    c: web::Data<Console>,
    who: Organizer,
    path: web::Path<(String, String)>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, Problem> {
    let (cid, file) = path.into_inner();
    let scoped = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let kind: ExportKind = file.strip_suffix(".csv").and_then(|k| k.parse().ok()).ok_or_else(|| {
        Problem::not_found("export_not_found", "Exports are participants.csv, results.csv and units.csv.")
    })?;
    let permit =
        tokio::time::timeout(QUEUE, c.exports.clone().acquire_owned()).await.ok().and_then(Result::ok).ok_or_else(
            || {
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_exports",
                    "Too many exports",
                    "Other exports are running. Please try again in a moment.",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("30"))
            },
        )?;

    let campaign = scoped.campaign.clone();
    let places = scoped.places();
    let region = scoped.region().map(|r| r.to_string());
    let what = match &region {
        Some(r) => format!("{kind}.csv, region {r}"),
        None => format!("{kind}.csv, whole campaign"),
    };
    let started = c.clock.now_ms();
    let entry = AuditEntry {
        at_ms: started,
        username: who.username.to_string(),
        action: "export".to_owned(),
        campaign_id: Some(campaign.id().clone()),
        detail: what.clone(),
    };
    c.db.audit(&entry).await.map_err(Problem::unavailable)?;

    let (db, clock, username) = (c.db.clone(), c.clock.clone(), who.username.to_string());
    let task_campaign = campaign.clone();
    let span = tracing::info_span!("export", campaign.id = %campaign.id(), export.kind = %kind,
        export.region = region.as_deref().unwrap_or(""), organizer = %username);
    let body = ExportBody::spawn(move |pipe| {
        async move {
            let filter = ExportFilter { places: places.as_deref() };
            let result = db.export_filtered(kind, &task_campaign, filter, pipe, |_| {}).await;
            drop(permit);
            let (action, detail, outcome) = match result {
                Ok(rows) => {
                    tracing::info!(rows, "export finished");
                    ("export_finished", format!("{what}; rows: {rows}"), Ok(rows))
                }
                // Only the pipe fails to be written, and only when its reading end is gone.
                Err(DbError::Write(e)) => {
                    tracing::info!(error = %e, "export stopped: the client went away");
                    let p =
                        Problem::new(StatusCode::BAD_REQUEST, "client_gone", "Client gone", "The client went away.");
                    ("export_failed", format!("{what}; the client went away"), Err(p))
                }
                Err(e) => {
                    tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "export failed");
                    let p = match e {
                        DbError::Query { .. } | DbError::Connect { .. } => unavailable(),
                        _ => internal(),
                    };
                    ("export_failed", format!("{what}; failed: {e}"), Err(p))
                }
            };
            let entry = AuditEntry {
                at_ms: clock.now_ms(),
                username,
                action: action.to_owned(),
                campaign_id: Some(task_campaign.id().clone()),
                detail,
            };
            if let Err(e) = db.audit(&entry).await {
                tracing::error!(error = %e, "cannot record the end of an export in the audit log");
            }
            outcome
        }
        .instrument(span)
    });
    let body = body.started().await?;

    let stamp = chrono::DateTime::from_timestamp_millis(started).unwrap_or_default().format("%Y%m%d-%H%M");
    let filename = format!("{}-{kind}-{stamp}.csv", campaign.id());
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}

/// `503 unavailable`, for a failure already logged (`Problem::unavailable` would log it again).
fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Service unavailable",
        "The service is busy or briefly unavailable. Please try again in a moment.",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
}

/// `500 internal`, for a failure already logged.
fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "The service could not complete the request. Please try again.",
    )
}

/// An HTTP body fed by a task writing into a pipe: the bytes as they come, then the task's
/// outcome. A task that fails (or dies) ends the body with an error, so the server aborts the
/// response instead of ending it normally.
pub struct ExportBody {
    pipe: DuplexStream,
    outcome: oneshot::Receiver<Result<u64, Problem>>,
    /// Bytes read before the answer started ([`ExportBody::started`]).
    first: Option<Bytes>,
    buf: Box<[u8]>,
    /// The outcome has been seen: nothing more to send.
    ended: bool,
}

impl ExportBody {
    /// Runs `write` with the writing end of a fresh pipe in its own task. The task's outcome
    /// (a row count, or the problem that stopped it) must come after it has dropped the pipe.
    pub fn spawn<F, Fut>(write: F) -> Self
    where
        F: FnOnce(DuplexStream) -> Fut,
        Fut: Future<Output = Result<u64, Problem>> + Send + 'static,
    {
        let (writer, reader) = tokio::io::duplex(PIPE);
        let (tx, rx) = oneshot::channel();
        let task = write(writer);
        tokio::spawn(async move {
            let _ = tx.send(task.await);
        });
        ExportBody { pipe: reader, outcome: rx, first: None, buf: vec![0; CHUNK].into_boxed_slice(), ended: false }
    }

    /// Waits for the first bytes, or for the end of an export that wrote none: its problem, if
    /// it failed.
    pub async fn started(mut self) -> Result<Self, Problem> {
        let n = self.pipe.read(&mut self.buf).await.map_err(Problem::internal)?;
        if n > 0 {
            self.first = Some(Bytes::copy_from_slice(&self.buf[..n]));
            return Ok(self);
        }
        self.ended = true;
        match (&mut self.outcome).await {
            Ok(Ok(_)) => Ok(self),
            Ok(Err(p)) => Err(p),
            Err(_) => Err(Problem::internal("the export task ended without an outcome")),
        }
    }
}

impl MessageBody for ExportBody {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        let mut read = ReadBuf::new(&mut this.buf);
        ready!(Pin::new(&mut this.pipe).poll_read(cx, &mut read))?;
        if !read.filled().is_empty() {
            return Poll::Ready(Some(Ok(Bytes::copy_from_slice(read.filled()))));
        }
        // The writing end is gone: the export ended. Whether the file is whole is its outcome.
        let outcome = ready!(Pin::new(&mut this.outcome).poll(cx));
        this.ended = true;
        Poll::Ready(match outcome {
            Ok(Ok(_)) => None,
            Ok(Err(p)) => Some(Err(std::io::Error::other(format!("export incomplete: {}", p.detail)))),
            Err(_) => Some(Err(std::io::Error::other("export incomplete: the export task stopped"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A body whose task writes `chunks` (waiting for the reader in between) and then ends
    /// with `outcome`.
    fn body(chunks: Vec<Vec<u8>>, outcome: Result<u64, Problem>) -> ExportBody {
        ExportBody::spawn(move |mut pipe| async move {
            for c in chunks {
                pipe.write_all(&c).await.map_err(Problem::internal)?;
            }
            drop(pipe);
            outcome
        })
    }

    #[tokio::test]
    async fn a_whole_export_is_the_whole_body() {
        let big = vec![b'x'; 3 * PIPE + 17];
        let b = body(vec![b"a,b\r\n".to_vec(), big.clone()], Ok(2)).started().await.unwrap();
        let bytes = actix_web::body::to_bytes(b).await.unwrap();
        assert_eq!(bytes.len(), 5 + big.len());
        assert!(bytes.starts_with(b"a,b\r\n"));
    }

    #[tokio::test]
    async fn a_failure_after_the_first_bytes_ends_the_body_with_an_error() {
        let failed = Problem::unavailable("the database went away");
        let b = body(vec![b"a,b\r\n".to_vec(), vec![b'x'; 2 * PIPE]], Err(failed)).started().await.unwrap();
        let err = actix_web::body::to_bytes(b).await.expect_err("an incomplete body is an error");
        assert!(err.to_string().contains("export incomplete"), "{err}");
    }

    #[tokio::test]
    async fn a_failure_before_any_byte_is_the_answer() {
        let p = body(Vec::new(), Err(Problem::unavailable("down"))).started().await.err().unwrap();
        assert_eq!((p.status.as_u16(), p.code), (503, "unavailable"));
        // A task that dies is an error too, never a short file.
        let b = ExportBody::spawn(|mut pipe| async move {
            pipe.write_all(b"a,b\r\n").await.unwrap();
            panic!("the export task dies");
        });
        let b = b.started().await.unwrap();
        assert!(actix_web::body::to_bytes(b).await.is_err());
    }

    /// Over real HTTP/1.1: a body that fails after its first chunk makes actix close the
    /// connection without the final zero-length chunk, so no client takes it for a whole file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_export_aborts_the_connection() {
        async fn failing() -> HttpResponse {
            // Enough rows before the failure that the start of the answer has gone out.
            let rows = b"1,2\r\n".repeat(PIPE);
            let b = body(vec![b"\xef\xbb\xbfa,b\r\n".to_vec(), rows], Err(Problem::unavailable("gone mid-export")));
            HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(b.started().await.unwrap())
        }
        async fn whole() -> HttpResponse {
            let b = body(vec![b"\xef\xbb\xbfa,b\r\n1,2\r\n".to_vec()], Ok(1));
            HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(b.started().await.unwrap())
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = actix_web::HttpServer::new(|| {
            actix_web::App::new().route("/failing", web::get().to(failing)).route("/whole", web::get().to(whole))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        let fetch = |path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            tokio::io::AsyncWriteExt::write_all(&mut s, req.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            // The server keeps a whole answer's connection alive: read until the final chunk.
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout_at(deadline, s.read(&mut chunk)).await.expect("in time").unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if n == 0 || buf.ends_with(b"\r\n0\r\n\r\n") {
                    return (String::from_utf8_lossy(&buf).into_owned(), n == 0);
                }
            }
        };
        let (text, closed) = fetch("/whole").await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains("transfer-encoding: chunked"), "{text}");
        assert!(text.ends_with("\r\n0\r\n\r\n") && !closed, "a whole file ends with the final chunk: {text:?}");
        let (text, closed) = fetch("/failing").await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(closed, "the connection is closed");
        assert!(text.len() > 1024, "the start of the file went out: {}", text.len());
        assert!(!text.ends_with("\r\n0\r\n\r\n"), "no final chunk after a failure: {:?}", &text[text.len() - 20..]);
        handle.stop(false).await;
    }
}
