//! Wiring: what `baton serve` runs, built by one function that tests call too.
//!
//! [`Services::connect`] opens the database (migrating it), chooses the hot store (Redis when a
//! URL is given, the embedded store otherwise), loads signing keys and campaigns.
//! [`app`] builds the actix app: every role's route table (each handler registered through
//! `utoipa-actix-web`, so the OpenAPI document is generated from the same registrations),
//! health, metrics, the problem-document extractors. [`serve`] runs it on a listener the caller
//! provides (port 0 in tests) until shut down.

use crate::roles::{Role, Roles};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, get, web};
use anyhow::Context;
use baton_archiver::committer::GroupCommitter;
use baton_archiver::metrics::ArchiverMetrics;
use baton_archiver::rebuild::rebuild;
use baton_archiver::redis::{Archiver, ArchiverConfig};
use baton_core::campaign::Campaign;
use baton_db::Db;
use baton_hot::HotStore;
use baton_hot::conn::RedisTarget;
use baton_hot::embedded::EmbeddedStore;
use baton_hot::redis::RedisStore;
use baton_http::Problem;
use baton_http::auth::{SigningKey, Tokens};
use baton_http::campaigns::{Campaigns, Version, retained_from};
use baton_http::clock::Clock;
use baton_http::extract::{BodyLimit, path_config, payload_config, query_config};
use baton_http::metrics::{Metrics, track};
use baton_http::problem::ProblemDoc;
use baton_http::request_id::request_span;
use baton_quiz::Quiz;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};

/// What `baton serve` is told.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub roles: Roles,
    pub database_url: String,
    /// `None`: the embedded hot store.
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub redis_shards: u16,
    /// `redis_url` names a Redis Cluster's seed nodes (comma-separated).
    pub redis_cluster: bool,
    /// Signing keys for tokens, current first; empty: the key kept in the database.
    pub jwt_keys: Vec<SigningKey>,
    pub body_limit: usize,
    /// Where citizens reach the service, for share links (no trailing slash).
    pub public_url: String,
    /// Load the demo campaign if it is not in the database yet.
    pub demo: bool,
    /// How often campaigns are reloaded from the database.
    pub campaign_refresh: Duration,
    /// WeChat, when configured.
    pub wechat: Option<WeChatSettings>,
    /// `/metrics` is served on its own listener (`--metrics-listen`), not with the API.
    pub separate_metrics: bool,
    /// Rate limits (`--rate-limits`; see docs/limits.md).
    pub limits: baton_http::limits::LimitsConfig,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`): the ingress.
    pub trusted_proxies: baton_http::client::TrustedProxies,
}

/// A WeChat official account. `Debug` never shows the secret.
#[derive(Clone)]
pub struct WeChatSettings {
    pub app_id: String,
    pub app_secret: String,
    pub api_base: String,
}

impl std::fmt::Debug for WeChatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChatSettings")
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// Everything the app is built from. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub config: ServeConfig,
    pub db: Db,
    pub store: Arc<dyn HotStore>,
    pub campaigns: Campaigns,
    pub tokens: Tokens,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub archiver_metrics: ArchiverMetrics,
    pub wechat: Option<baton_wechat::WeChat>,
    pub console: baton_console::Console,
    /// The process's rate limits, shared by every role.
    pub limiter: baton_http::limits::Limiter,
    /// The salt of client fingerprints (`baton_core::anticheat`): the current signing key.
    client_salt: Arc<[u8]>,
    openapi_json: Arc<String>,
    route_table: Arc<RouteTable>,
    /// The participant counters' readings, shared by the workers.
    stats: baton_quiz::stats::StatsCache,
    /// The citizen web app's page shell, when it was built.
    app_shell: Option<Arc<str>>,
}

impl Services {
    /// Connects and prepares everything `serve` needs.
    pub async fn connect(config: ServeConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        if config.demo {
            let demo = crate::demo::doc();
            if db.campaign(&demo.id).await?.is_none() {
                Campaign::from_doc(demo.clone()).context("the demo campaign shipped in this binary")?;
                db.put_campaign(&demo).await.context("loading the demo campaign")?;
                tracing::info!(campaign.id = %demo.id, questions = demo.questions.len(), "demo campaign loaded");
            }
        }
        let process_metrics = Metrics::new();
        let archiver_metrics = ArchiverMetrics::new(&process_metrics.registry);
        let store: Arc<dyn HotStore> = match &config.redis_url {
            Some(url) => {
                let target = RedisTarget::new(url, config.redis_cluster);
                if config.redis_cluster && config.redis_shards < 16 {
                    tracing::warn!(
                        shards = config.redis_shards,
                        "few hash tags on a Redis Cluster: participants sit on at most that many masters (set --redis-shards, e.g. 64)"
                    );
                }
                Arc::new(RedisStore::connect_to(&target, &config.redis_prefix, config.redis_shards).await.with_context(
                    || "connecting to Redis (is it running? check --redis-url / BATON_REDIS_URL, and --redis-cluster for a cluster)".to_owned(),
                )?)
            }
            // The embedded store commits every change's event to SQL before acknowledging it.
            None => Arc::new(EmbeddedStore::with_sink(Arc::new(GroupCommitter::start(
                db.clone(),
                archiver_metrics.clone(),
            )))),
        };
        // Every operation timed: `baton_hot_store_seconds{op}` (see `baton_hot::metered`).
        let store: Arc<dyn HotStore> = Arc::new(baton_hot::metered::Metered::new(
            store,
            baton_hot::metered::HotStoreMetrics::new(&process_metrics.registry, {
                let clock = clock.clone();
                Arc::new(move || clock.now_ms())
            }),
        ));
        let keys = if config.jwt_keys.is_empty() {
            let (kid, secret) = db.signing_key().await?;
            vec![SigningKey::new(kid, secret).map_err(anyhow::Error::msg)?]
        } else {
            config.jwt_keys.clone()
        };
        let tokens = Tokens::new(&keys).map_err(anyhow::Error::msg)?;
        let organizer_tokens =
            baton_console::OrganizerTokens::new(&keys.iter().map(|k| (k.kid.as_str(), k.secret())).collect::<Vec<_>>())
                .map_err(anyhow::Error::msg)?;
        let campaigns = Campaigns::default();
        let limiter = baton_http::limits::Limiter::new(
            config.limits.clone(),
            config.trusted_proxies.clone(),
            Some(baton_http::metrics::RateLimited::register(&process_metrics.registry)),
        );
        let console =
            baton_console::Console::new(db.clone(), store.clone(), campaigns.clone(), clock.clone(), organizer_tokens)
                .with_trusted_proxies(config.trusted_proxies.clone())
                .with_rate_limits(limiter.clone());
        let wechat = match &config.wechat {
            Some(w) => {
                let cfg =
                    baton_wechat::WeChatConfig::new(w.app_id.clone(), w.app_secret.clone()).with_api_base(&w.api_base);
                Some(baton_wechat::WeChat::new(cfg, store.clone()).map_err(|e| anyhow::anyhow!("{e}"))?)
            }
            None => None,
        };
        let doc = openapi_of(&config.roles, !config.separate_metrics);
        let route_table = Arc::new(RouteTable::of(&doc));
        let openapi_json = Arc::new(doc.to_json().context("rendering the OpenAPI document")?);
        let s = Self {
            config,
            db,
            store,
            campaigns,
            tokens,
            clock,
            metrics: process_metrics,
            archiver_metrics,
            wechat,
            console,
            limiter,
            client_salt: Arc::from(keys[0].secret()),
            openapi_json,
            route_table,
            app_shell: baton_web::citizen_shell(),
            stats: Default::default(),
        };
        baton_web::warn_if_missing();
        s.reload_campaigns().await?;
        if s.config.redis_url.is_none() {
            // The embedded store starts empty: put every campaign's hot state back from SQL.
            for id in s.campaigns.ids() {
                let c = s.campaigns.get(&id).expect("just loaded");
                let summary = rebuild(&s.db, &*s.store, &c, s.clock.now_ms(), |_| {}).await?;
                tracing::info!(campaign.id = %id, participants = summary.participants, attempts = summary.attempts, "hot state rebuilt from the database");
            }
        }
        Ok(s)
    }

    /// Loads every campaign's recent versions from the database (those an attempt may still
    /// use: see [`baton_http::campaigns::RETAIN_MS`]). Versions never change once written, so
    /// one already loaded is kept as it is and only new ones are read. A version that does not
    /// validate is left out (and logged); a campaign none of whose versions validate keeps what
    /// was loaded before, so a bad edit cannot take a live campaign down.
    pub async fn reload_campaigns(&self) -> anyhow::Result<usize> {
        let now = self.clock.now_ms();
        let mut loaded = std::collections::HashMap::new();
        for id in self.db.campaign_ids().await? {
            let had = self.campaigns.versions(&id);
            let had = had.as_deref().unwrap_or_default();
            let listed = self.db.campaign_versions(&id).await?;
            let mut versions = Vec::new();
            if listed.is_empty() {
                // Stored before versions were kept: the stored document is version 1.
                if let Some(doc) = self.db.campaign(&id).await? {
                    match Campaign::from_doc(doc) {
                        Ok(c) => versions.push(Version { number: 1, valid_from: 0, campaign: Arc::new(c) }),
                        Err(e) => {
                            tracing::error!(campaign.id = %id, error = %e, "campaign in the database does not validate")
                        }
                    }
                }
            } else {
                let from: Vec<i64> = listed.iter().map(|v| v.valid_from_ms).collect();
                for v in &listed[retained_from(&from, now)..] {
                    if let Some(known) = had.iter().find(|h| h.number == v.version) {
                        versions.push(known.clone());
                        continue;
                    }
                    let Some(doc) = self.db.campaign_version(&id, v.version).await? else { continue };
                    match Campaign::from_doc(doc) {
                        Ok(c) => versions.push(Version {
                            number: v.version,
                            valid_from: v.valid_from_ms,
                            campaign: Arc::new(c),
                        }),
                        Err(e) => {
                            tracing::error!(campaign.id = %id, version = v.version, error = %e, "campaign version in the database does not validate; leaving it out")
                        }
                    }
                }
            }
            if versions.is_empty() {
                tracing::error!(campaign.id = %id, "no version of the campaign validates; keeping the ones loaded before");
                versions = had.to_vec();
            }
            if !versions.is_empty() {
                loaded.insert(id, versions);
            }
        }
        let n = loaded.len();
        self.campaigns.replace_versions(loaded);
        Ok(n)
    }
}

/// The longest interval between reloads of campaigns: well within
/// [`baton_db::campaigns::SWITCH_DELAY_MS`], so every process knows a new version of a campaign
/// before attempts draw from it.
pub const MAX_CAMPAIGN_REFRESH: Duration = Duration::from_secs(20);
const _: () = assert!(MAX_CAMPAIGN_REFRESH.as_millis() as i64 * 2 <= baton_db::campaigns::SWITCH_DELAY_MS);

#[derive(OpenApi)]
#[openapi(
    info(title = "Baton API", version = "1", description = "Mass-participation quiz relay campaigns. Errors are RFC 9457 problem documents."),
    modifiers(&Security),
    components(schemas(ProblemDoc))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        for scheme in ["participant", "organizer"] {
            c.add_security_scheme(
                scheme,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
            );
        }
    }
}

/// Every route of the roles, registered once: this is both the route table and the source of
/// the OpenAPI document.
/// `/metrics` is among them unless it is served on its own listener.
fn routes<T>(app: UtoipaApp<T>, roles: &Roles, with_metrics: bool) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    let mut app = app.service(healthz).service(readyz).service(openapi_doc);
    if with_metrics {
        app = app.service(metrics);
    }
    if roles.has(Role::Quiz) {
        app = app.configure(baton_quiz::routes::configure);
    }
    if roles.has(Role::Relay) {
        app = app.configure(baton_relay::routes::configure).configure(baton_wechat::routes::configure);
    }
    if roles.has(Role::Console) {
        app = app.configure(baton_console::routes::configure);
    }
    app
}

/// The OpenAPI document of the routes `roles` serve (with `/metrics`).
pub fn openapi(roles: &Roles) -> utoipa::openapi::OpenApi {
    openapi_of(roles, true)
}

fn openapi_of(roles: &Roles, with_metrics: bool) -> utoipa::openapi::OpenApi {
    routes(App::new().into_utoipa_app().openapi(ApiDoc::openapi()), roles, with_metrics).split_for_parts().1
}

/// The actix app.
pub fn app(
    s: Services,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // This worker's copy of the store: on Redis, a connection of the worker's own (the
    // participant routes are the hot path; the rest share the process's connection).
    let store = s.store.for_worker().unwrap_or_else(|| s.store.clone());
    let quiz = Quiz {
        store: store.clone(),
        campaigns: s.campaigns.clone(),
        clock: s.clock.clone(),
        tokens: s.tokens.clone(),
        public_url: s.config.public_url.clone(),
        wechat: s.wechat.clone(),
        db: s.db.clone(),
        limits: s.limiter.clone(),
        client_salt: s.client_salt.clone(),
        stats: s.stats.clone(),
    };
    let relay = baton_relay::Relay {
        store,
        db: s.db.clone(),
        campaigns: s.campaigns.clone(),
        clock: s.clock.clone(),
        public_url: s.config.public_url.clone(),
        limits: s.limiter.clone(),
        app_shell: s.app_shell.clone(),
    };
    let (app, _) = routes(App::new().into_utoipa_app(), &s.config.roles, !s.config.separate_metrics).split_for_parts();
    // The web apps' pages and files: not API, so not in the OpenAPI document.
    let roles = s.config.roles.clone();
    let app = app.configure(|cfg| {
        if roles.has(Role::Relay) {
            baton_web::configure_citizen(cfg);
        }
        if roles.has(Role::Console) {
            baton_web::configure_console(cfg);
        }
    });
    app.app_data(web::Data::new(quiz))
        .app_data(web::Data::new(relay))
        .app_data(web::Data::new(s.wechat.clone()))
        .app_data(web::Data::new(s.console.clone()))
        .app_data(web::Data::new(s.tokens.clone()))
        .app_data(web::Data::new(s.clock.clone()))
        .app_data(web::Data::new(s.metrics.clone()))
        .app_data(web::Data::new(Readiness { db: s.db.clone(), store: s.store.clone() }))
        .app_data(web::Data::new(OpenApiJson(s.openapi_json.clone())))
        .app_data(payload_config(s.config.body_limit))
        .app_data(BodyLimit(s.config.body_limit))
        .app_data(query_config())
        .app_data(path_config())
        .app_data(web::Data::new(s.route_table.clone()))
        .default_service(web::to(not_routed))
        .wrap(from_fn(baton_http::gzip::compress))
        .wrap(from_fn(track))
        // Outermost: everything below runs inside the request's span (its id on every log line).
        .wrap(from_fn(request_span))
}

/// How long requests in flight get to finish after the process is told to stop.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How long the archiver then gets to finish its batch (commit and acknowledge).
pub const ARCHIVER_GRACE: Duration = Duration::from_secs(10);

/// Serves `s` on `listener` (and `/metrics` on `metrics_listener` when metrics are served
/// apart) until the process gets SIGTERM or SIGINT; see [`serve_until`].
pub async fn serve(
    s: Services,
    listener: std::net::TcpListener,
    metrics_listener: Option<std::net::TcpListener>,
) -> anyhow::Result<()> {
    serve_until(s, listener, metrics_listener, stop_signal()).await
}

/// Resolves at SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the process"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("SIGINT received");
}

/// Serves `s` until `shutdown` resolves, reloading campaigns from the database in the
/// background. Then, in order: the API stops accepting connections and the requests in flight
/// finish (up to [`SHUTDOWN_GRACE`]); the archiver finishes the batch it is on — committed and
/// acknowledged — and stops (up to [`ARCHIVER_GRACE`]); background workers stop; the metrics
/// listener closes last, so scrapes see the drain.
pub async fn serve_until(
    s: Services,
    listener: std::net::TcpListener,
    metrics_listener: Option<std::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        s.config.separate_metrics == metrics_listener.is_some(),
        "a metrics listener is given exactly when metrics are served apart (--metrics-listen)"
    );
    let addr = listener.local_addr()?;
    let refresher = {
        let s = s.clone();
        tokio::spawn(async move {
            let every = s.config.campaign_refresh.min(MAX_CAMPAIGN_REFRESH);
            if every < s.config.campaign_refresh {
                tracing::warn!(
                    asked_secs = s.config.campaign_refresh.as_secs(),
                    secs = every.as_secs(),
                    "campaigns are reloaded more often than asked, so that new versions reach every process before they take effect"
                );
            }
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = s.reload_campaigns().await {
                    tracing::warn!(error = %e, "reloading campaigns failed; serving the ones loaded before");
                }
            }
        })
    };
    tracing::info!(listen = %addr, roles = %s.config.roles, campaigns = s.campaigns.ids().len(), "baton serving");
    let (stop_archiver, archiver_stopped) = tokio::sync::watch::channel(false);
    let archiver = match (&s.config.redis_url, s.config.roles.has(Role::Archiver)) {
        (Some(url), true) => {
            let archiver = start_archiver(&s, url, ArchiverConfig::new(consumer_name())).await?;
            let mut stopped = archiver_stopped.clone();
            Some(tokio::spawn(archiver.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })))
        }
        _ => None,
    };
    let relay_worker = s
        .config
        .roles
        .has(Role::Relay)
        .then(|| tokio::spawn(baton_relay::worker::run(s.db.clone(), s.campaigns.clone(), Duration::from_secs(1))));
    // Rate-limit keys that went quiet are dropped, so their memory stays bounded.
    let sweeper = tokio::spawn(s.limiter.clone().run_sweeper(baton_http::limits::SWEEP_EVERY));
    let app_services = s.clone();
    let server = actix_web::HttpServer::new(move || app(app_services.clone()))
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .listen(listener)?
        .run();
    let metrics_server = match metrics_listener {
        Some(l) => {
            tracing::info!(listen = %l.local_addr()?, "metrics served apart");
            let m = s.metrics.clone();
            let server = actix_web::HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(m.clone()))
                    .route("/metrics", web::get().to(baton_http::metrics::endpoint))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(l)?
            .run();
            let handle = server.handle();
            Some((handle, tokio::spawn(server)))
        }
        None => None,
    };
    let api = server.handle();
    let stopper = tokio::spawn(async move {
        shutdown.await;
        tracing::info!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "stopping: no new connections, finishing requests in flight"
        );
        api.stop(true).await;
    });
    let result = server.await;
    stopper.abort();
    let _ = stop_archiver.send(true);
    if let Some(a) = archiver {
        // The archiver stops between batches; if it is stuck (SQL or Redis hanging) it is
        // dropped, which is safe: what was not acknowledged is delivered again.
        let abort = a.abort_handle();
        match tokio::time::timeout(ARCHIVER_GRACE, a).await {
            Ok(_) => tracing::info!("archiver finished its batch"),
            Err(_) => {
                tracing::warn!("archiver did not finish its batch in time; its entries will be delivered again");
                abort.abort();
            }
        }
    }
    refresher.abort();
    sweeper.abort();
    if let Some(w) = relay_worker {
        w.abort();
    }
    if let Some((handle, task)) = metrics_server {
        handle.stop(true).await;
        let _ = task.await;
    }
    tracing::info!("baton stopped");
    result.context("HTTP server failed")
}

/// Path templates and their methods, from the OpenAPI document (that is, from the route
/// registrations), so a request for a known path with another method gets `405` and an `Allow`
/// header instead of "no such endpoint".
#[derive(Debug, Default)]
struct RouteTable(Vec<(Vec<String>, Vec<String>)>);

impl RouteTable {
    fn of(doc: &utoipa::openapi::OpenApi) -> Self {
        let v = serde_json::to_value(doc).unwrap_or_default();
        let verbs = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
        let routes = v["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .map(|(path, item)| {
                        let segments = path.split('/').map(str::to_owned).collect();
                        let methods =
                            verbs.iter().filter(|m| item.get(**m).is_some()).map(|m| m.to_ascii_uppercase()).collect();
                        (segments, methods)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self(routes)
    }

    /// The methods a path is served with, if any route template matches it.
    fn methods(&self, path: &str) -> Option<&[String]> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0.iter().find_map(|(segments, methods)| {
            let fits = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| s == p || (s.starts_with('{') && !p.is_empty()));
            fits.then_some(methods.as_slice())
        })
    }
}

/// Requests no route took: a known path with another method is `405`, anything else `404`.
async fn not_routed(req: actix_web::HttpRequest, table: web::Data<Arc<RouteTable>>) -> Result<HttpResponse, Problem> {
    if let Some(methods) = table.methods(req.path()) {
        let allow = methods.join(", ");
        return Err(Problem::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            format!("{} is not served with {}; use {allow}.", req.path(), req.method()),
        )
        .with_header(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_str(&allow)
                .unwrap_or(actix_web::http::header::HeaderValue::from_static("GET")),
        ));
    }
    baton_http::problem::route_not_found().await
}

/// This process's name as an archiver consumer: host and process id.
pub fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "baton".into());
    format!("{host}-{}", std::process::id())
}

/// An archiver consumer reading the streams of every campaign `s` serves.
pub async fn start_archiver(s: &Services, redis_url: &str, config: ArchiverConfig) -> anyhow::Result<Archiver> {
    let campaigns = s.campaigns.clone();
    let keys = baton_hot::keys::Keys::new(&s.config.redis_prefix, s.config.redis_shards);
    Archiver::connect(
        &RedisTarget::new(redis_url, s.config.redis_cluster),
        keys,
        s.db.clone(),
        s.archiver_metrics.clone(),
        config,
        Arc::new(move || campaigns.ids()),
    )
    .await
    .context("starting the archiver (check --redis-url)")
}

struct Readiness {
    db: Db,
    store: Arc<dyn HotStore>,
}

struct OpenApiJson(Arc<String>);

/// The process is alive.
#[utoipa::path(tag = "operations", responses((status = 200, description = "alive")))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The hot store and the database answer.
#[utoipa::path(tag = "operations", responses((status = 200, description = "ready"), (status = 503, description = "a backend is down", body = ProblemDoc, content_type = "application/problem+json")))]
#[get("/readyz")]
async fn readyz(r: web::Data<Readiness>) -> Result<HttpResponse, Problem> {
    // Both asked at once, each given READY_TIMEOUT: a backend that hangs is as down as one that
    // refuses, and the probe answers well within its own timeout.
    let (store, db) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, r.store.ping()),
        tokio::time::timeout(READY_TIMEOUT, r.db.ping())
    );
    match store {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Problem::unavailable(format!("readiness: hot store: {e}"))),
        Err(_) => {
            return Err(Problem::unavailable(format!("readiness: hot store: no answer within {READY_TIMEOUT:?}")));
        }
    }
    match db {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Problem::unavailable(format!("readiness: database: {e}"))),
        Err(_) => return Err(Problem::unavailable(format!("readiness: database: no answer within {READY_TIMEOUT:?}"))),
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

/// How long `/readyz` waits for each backend.
pub const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Prometheus metrics (text format).
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
async fn metrics(m: web::Data<Metrics>) -> HttpResponse {
    baton_http::metrics::endpoint(m).await
}

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
#[get("/api/v1/openapi.json")]
async fn openapi_doc(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.0.as_str().to_owned())
}
