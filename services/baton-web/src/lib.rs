//! The web apps, served by `baton serve`: the citizen H5 app (`web/citizen`, at `/` and
//! `/c/{campaign}/…`) and the organizer console (`web/console`, at `/console/`).
//!
//! The build script builds each app's `dist/` with npm when its sources are newer; the files
//! are embedded in release builds (debug builds read them from `web/*/dist` at run time, so a
//! rebuilt app is served without recompiling the server).
//!
//! Caching: the apps' files under `assets/` have content hashes in their names and are cached
//! for a year (`immutable`); the page shells (`index.html`) are `no-cache` (revalidated with
//! their `ETag`), so a new release reaches every phone at its next visit. Textual files of
//! 1 KiB or more are gzipped once, at first request, and kept.
//!
//! The citizen app's page is served by the relay role (`/c/{campaign}` carries the campaign's
//! share-card metadata, see `baton_relay::card`), from [`citizen_shell`]; this crate serves the
//! files.

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use baton_http::Problem;
use baton_http::gzip::{accepts_gzip, compressible, gzip};
use rust_embed::{EmbeddedFile, RustEmbed};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

#[derive(RustEmbed)]
#[folder = "../../web/citizen/dist"]
#[allow_missing = true]
struct CitizenDist;

#[derive(RustEmbed)]
#[folder = "../../web/console/dist"]
#[allow_missing = true]
struct ConsoleDist;

/// One of the two web apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebApp {
    Citizen,
    Console,
}

impl WebApp {
    fn file(self, path: &str) -> Option<EmbeddedFile> {
        match self {
            WebApp::Citizen => CitizenDist::get(path),
            WebApp::Console => ConsoleDist::get(path),
        }
    }

    /// Was the app built (is its `index.html` there)?
    pub fn is_built(self) -> bool {
        self.file("index.html").is_some()
    }

    fn dir(self) -> &'static str {
        match self {
            WebApp::Citizen => "web/citizen",
            WebApp::Console => "web/console",
        }
    }
}

/// Cache policy of a file.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The citizen app's page shell (its `index.html`), `None` when the app was not built.
pub fn citizen_shell() -> Option<Arc<str>> {
    let f = WebApp::Citizen.file("index.html")?;
    Some(Arc::from(String::from_utf8_lossy(&f.data).into_owned()))
}

/// Logs, once at start, which apps were not built.
pub fn warn_if_missing() {
    for app in [WebApp::Citizen, WebApp::Console] {
        if !app.is_built() {
            tracing::warn!(
                app = app.dir(),
                "web app not built: install Node.js 20.19+ and npm, then build baton again (its build script runs npm)"
            );
        }
    }
}

/// The citizen app's files under `/assets/` (its page is the relay role's: `/`, `/c/{cid}`).
pub fn configure_citizen(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{file:.*}", web::get().to(citizen_asset));
}

/// The console: `/console` (a redirect), `/console/` and its files.
pub fn configure_console(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(console_redirect))
        .route("/console/", web::get().to(console_index))
        .route("/console/{file:.*}", web::get().to(console_file));
}

async fn citizen_asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    serve_file(&req, WebApp::Citizen, &format!("assets/{file}"))
}

async fn console_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently().insert_header((header::LOCATION, "/console/")).finish()
}

async fn console_index(req: HttpRequest) -> HttpResponse {
    if !WebApp::Console.is_built() {
        return not_built(WebApp::Console);
    }
    serve_file(&req, WebApp::Console, "index.html")
}

async fn console_file(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    serve_file(&req, WebApp::Console, &file)
}

/// A file of `app`, with its cache policy, `ETag` and (when asked for and worth it) gzip.
fn serve_file(req: &HttpRequest, app: WebApp, path: &str) -> HttpResponse {
    let Some(f) = app.file(path) else {
        return actix_web::ResponseError::error_response(&Problem::not_found(
            "file_not_found",
            "There is no such file in the web app.",
        ));
    };
    let cache = if path.starts_with("assets/") { IMMUTABLE } else { REVALIDATE };
    let hash = f.metadata.sha256_hash();
    let etag = format!("\"{}\"", hash[..12].iter().map(|b| format!("{b:02x}")).collect::<String>());
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let mime = f.metadata.mimetype();
    let zip = compressible(mime) && f.data.len() >= baton_http::gzip::MIN_SIZE;
    let mut res = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    res.insert_header((header::CACHE_CONTROL, cache)).insert_header((header::ETAG, etag));
    if zip {
        res.insert_header((header::VARY, "accept-encoding"));
    }
    if fresh {
        return res.finish();
    }
    res.insert_header((header::CONTENT_TYPE, content_type(mime)));
    if zip && accepts_gzip(req.headers()) {
        res.insert_header((header::CONTENT_ENCODING, "gzip"));
        return res.body(gzipped(hash, &f.data));
    }
    res.body(f.data.into_owned())
}

/// Text types say they are UTF-8 (the apps' files are).
fn content_type(mime: &str) -> HeaderValue {
    let value = if mime.starts_with("text/") || mime == "application/javascript" || mime == "image/svg+xml" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// The gzipped form of a file, made once (best compression: it is kept) and shared.
fn gzipped(hash: [u8; 32], data: &[u8]) -> Bytes {
    static KEPT: LazyLock<Mutex<HashMap<[u8; 32], Bytes>>> = LazyLock::new(Default::default);
    if let Some(z) = KEPT.lock().expect("not poisoned").get(&hash) {
        return z.clone();
    }
    let z = Bytes::from(gzip(data, 9));
    KEPT.lock().expect("not poisoned").insert(hash, z.clone());
    z
}

/// A small page for a web app that was not built.
fn not_built(app: WebApp) -> HttpResponse {
    note_page(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "页面尚未构建",
        &format!("{} 尚未构建。", app.dir()),
        &format!(
            "The web app in {} was not built: install Node.js 20.19 or newer with npm and build baton again (its build script runs npm).",
            app.dir()
        ),
    )
}

fn note_page(status: actix_web::http::StatusCode, title: &str, zh: &str, en: &str) -> HttpResponse {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\" />\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" /><title>{}</title></head>\
             <body style=\"font-family:sans-serif;padding:1.5rem;line-height:1.6\"><h1>{}</h1><p>{}</p><p lang=\"en\">{}</p></body></html>\n",
            esc(title),
            esc(title),
            esc(zh),
            esc(en)
        ))
}
