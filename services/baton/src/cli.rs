//! Commands and flags. Every flag also reads an environment variable (`BATON_` + the flag name
//! in upper snake case); `--database-url` and `--redis-url` are accepted by every subcommand.

use crate::app::{ServeConfig, Services, WeChatSettings};
use crate::roles::Roles;
use anyhow::Context;
use baton_db::{Db, PutOutcome};
use baton_http::auth::SigningKey;
use baton_http::clock::SystemClock;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "baton", version, about = "Mass-participation quiz relay campaigns.")]
pub struct Cli {
    /// The system of record: postgres://… or sqlite://FILE (created if missing).
    #[arg(
        long,
        global = true,
        env = "BATON_DATABASE_URL",
        default_value = "sqlite://baton.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// The hot store on Redis (redis://…). Without it, the embedded in-process store.
    #[arg(long, global = true, env = "BATON_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key.
    #[arg(long, global = true, env = "BATON_REDIS_PREFIX", default_value = "baton:")]
    pub redis_prefix: String,
    /// Hash tags participants are spread over (1 on a single Redis; on a cluster many more
    /// than its masters, e.g. 64, so that every master holds some).
    #[arg(long, global = true, env = "BATON_REDIS_SHARDS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub redis_shards: u16,
    /// Redis is a Redis Cluster: --redis-url then lists seed nodes, comma-separated
    /// (redis://host1:6379,redis://host2:6379).
    #[arg(long, global = true, env = "BATON_REDIS_CLUSTER")]
    pub redis_cluster: bool,
    /// Log format: text or json (one JSON object a line; a request's lines carry its
    /// request_id).
    #[arg(long, global = true, env = "BATON_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (every role by default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Import or export campaigns.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Rebuild a campaign's state in Redis from the database (the embedded store rebuilds
    /// itself at every start), or with `--tallies` the console's counters from the event log.
    Rebuild {
        /// The campaign id.
        #[arg(long)]
        campaign: String,
        /// Count the console's tallies again from the campaign's event log instead (any store;
        /// archiving waits meanwhile, nothing is lost).
        #[arg(long)]
        tallies: bool,
    },
    /// Organizer console accounts.
    #[command(subcommand)]
    Organizer(OrganizerCommand),
    /// Write a campaign's participants, results or units as CSV (UTF-8 with BOM) to stdout.
    /// Nicknames have phone-number-like digits masked, as in the console's exports.
    Export {
        /// participants, results or units.
        kind: String,
        /// The campaign id.
        #[arg(long)]
        campaign: String,
        /// Only this place and everything under it (as the console's region-limited exports).
        #[arg(long)]
        region: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Roles to run: all, or a comma-separated list of quiz, archiver, relay, console.
    #[arg(long, env = "BATON_ROLE", default_value = "all")]
    pub role: Roles,
    /// Address to listen on.
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Serve /metrics on this address instead of with the API (e.g. 0.0.0.0:9090, a port
    /// the ingress does not expose).
    #[arg(long, env = "BATON_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Public base URL for share links (default: http://LISTEN).
    #[arg(long, env = "BATON_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Load the demo campaign (id demo) if it is not there yet.
    #[arg(long, env = "BATON_DEMO")]
    pub demo: bool,
    /// Token signing keys, current first: kid=secret,… (secrets of 32+ bytes). Default: a key
    /// generated once and kept in the database.
    #[arg(long, env = "BATON_JWT_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub jwt_keys: Vec<String>,
    /// Largest request body, in bytes.
    #[arg(long, env = "BATON_BODY_LIMIT", default_value_t = baton_http::extract::DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// WeChat official account app id: turns on the JS-SDK config and silent sign-in.
    #[arg(long, env = "BATON_WECHAT_APP_ID")]
    pub wechat_app_id: Option<String>,
    /// WeChat app secret (give it through the environment in practice; never logged).
    #[arg(long, env = "BATON_WECHAT_APP_SECRET", hide_env_values = true)]
    pub wechat_app_secret: Option<String>,
    /// WeChat API base URL.
    #[arg(long, env = "BATON_WECHAT_API_BASE", default_value = baton_wechat::DEFAULT_API_BASE)]
    pub wechat_api_base: String,
    /// Seconds between reloads of campaigns from the database (at most 20, so that every
    /// process knows a new version of a campaign before attempts draw from it).
    #[arg(long, env = "BATON_CAMPAIGN_REFRESH_SECS", default_value_t = 10)]
    pub campaign_refresh_secs: u64,
    /// Rate limits over the defaults: NAME=COUNT/PERIOD[:BURST] or NAME=off, comma-separated
    /// (join_ip, join_device, start, answer, share, login_ip; relay_code=COUNT/PERIOD), or
    /// off for none. See docs/limits.md.
    #[arg(long, env = "BATON_RATE_LIMITS", value_delimiter = ',')]
    pub rate_limits: Vec<String>,
    /// Proxies whose X-Forwarded-For names the client (the ingress): addresses or CIDR blocks,
    /// comma-separated. Without it the peer address is the client and the header is ignored.
    #[arg(long, env = "BATON_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrganizerCommand {
    /// Create an account, or give an existing one a new role, scope and password. The password
    /// comes from BATON_ORGANIZER_PASSWORD or standard input, never from a flag.
    Add {
        username: String,
        /// admin (every campaign), organizer (one campaign) or viewer (one campaign, optionally
        /// one region).
        #[arg(long)]
        role: baton_console::Role,
        /// The campaign of an organizer or viewer.
        #[arg(long)]
        campaign: Option<String>,
        /// The place a viewer is limited to, with everything under it.
        #[arg(long)]
        region: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create or update a campaign (places, units, rules, questions) from a JSON file.
    Import { file: PathBuf },
    /// Print a campaign in the import format.
    Export { id: String },
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        // The fields of the spans an event is in go on its line: a request's `request_id`.
        b.json().with_current_span(true).with_span_list(true).init();
    } else {
        b.init();
    }
}

/// Runs the command line; the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(&cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(ref args) => {
            let jwt_keys = args
                .jwt_keys
                .iter()
                .map(|k| SigningKey::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--jwt-keys: {e}"))?;
            let mut limits = baton_http::limits::LimitsConfig::default();
            limits.apply(&args.rate_limits).map_err(|e| anyhow::anyhow!("--rate-limits (BATON_RATE_LIMITS): {e}"))?;
            let trusted_proxies = baton_http::client::TrustedProxies::parse(&args.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("--trusted-proxies (BATON_TRUSTED_PROXIES): {e}"))?;
            let listener = std::net::TcpListener::bind(&args.listen)
                .with_context(|| format!("cannot listen on {} (--listen / BATON_LISTEN)", args.listen))?;
            let metrics_listener = match &args.metrics_listen {
                Some(a) => Some(
                    std::net::TcpListener::bind(a)
                        .with_context(|| format!("cannot listen on {a} (--metrics-listen / BATON_METRICS_LISTEN)"))?,
                ),
                None => None,
            };
            let config = ServeConfig {
                roles: args.role.clone(),
                database_url: cli.database_url.clone(),
                redis_url: cli.redis_url.clone(),
                redis_prefix: cli.redis_prefix.clone(),
                redis_shards: cli.redis_shards,
                redis_cluster: cli.redis_cluster,
                jwt_keys,
                body_limit: args.body_limit,
                public_url: args
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}", args.listen))
                    .trim_end_matches('/')
                    .to_owned(),
                demo: args.demo,
                campaign_refresh: Duration::from_secs(args.campaign_refresh_secs.max(1)),
                wechat: match (&args.wechat_app_id, &args.wechat_app_secret) {
                    (Some(id), Some(secret)) => Some(WeChatSettings {
                        app_id: id.clone(),
                        app_secret: secret.clone(),
                        api_base: args.wechat_api_base.clone(),
                    }),
                    (None, None) => None,
                    _ => anyhow::bail!(
                        "--wechat-app-id and --wechat-app-secret go together (BATON_WECHAT_APP_ID, BATON_WECHAT_APP_SECRET)"
                    ),
                },
                limits,
                trusted_proxies,
                separate_metrics: metrics_listener.is_some(),
            };
            let services = Services::connect(config, Arc::new(SystemClock)).await?;
            crate::app::serve(services, listener, metrics_listener).await
        }
        Command::Migrate => {
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            println!("database {} is up to date", db.redacted_url());
            Ok(())
        }
        Command::Campaign(CampaignCommand::Import { file }) => {
            let c = crate::campaign_file::read(&file).map_err(anyhow::Error::msg)?;
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            let d = c.doc();
            // A new version, as the console's writes are: attempts already running keep theirs.
            let stored = db.store_campaign(d, chrono::Utc::now().timestamp_millis()).await?;
            let v = stored.version;
            println!(
                "{} campaign {}: {} places, {} units, {} questions in {} categories",
                match stored.outcome {
                    PutOutcome::Created => "created",
                    PutOutcome::Updated => "updated",
                },
                d.id,
                c.places().count(),
                d.units.len(),
                d.questions.len(),
                d.categories.len(),
            );
            match chrono::DateTime::from_timestamp_millis(v.valid_from_ms) {
                Some(t) if v.valid_from_ms > 0 => println!(
                    "version {}, in effect for attempts started from {} (attempts already running keep the version they started with)",
                    v.version,
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                _ => println!("version {}, in effect now", v.version),
            }
            Ok(())
        }
        Command::Organizer(OrganizerCommand::Add { username, role, campaign, region }) => {
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            let password = baton_console::read_password()?;
            let outcome = baton_console::create_organizer(
                &db,
                &username,
                role,
                campaign.as_deref(),
                region.as_deref(),
                &password,
            )
            .await?;
            println!(
                "{} organizer account {} ({role})",
                match outcome {
                    PutOutcome::Created => "created",
                    PutOutcome::Updated => "updated",
                },
                username.to_ascii_lowercase()
            );
            Ok(())
        }
        Command::Rebuild { campaign, tallies: true } => {
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            let c = load_campaign(&db, &campaign).await?;
            let started = std::time::Instant::now();
            let mut shown = 0;
            let counted = db
                .rebuild_tallies(c.id(), |n| {
                    if n >= shown + 100_000 {
                        shown = n;
                        eprintln!("… {n} events counted");
                    }
                })
                .await?;
            println!(
                "recounted the tallies of campaign {} from {counted} events in {:.1} s",
                c.id(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Rebuild { campaign, tallies: false } => {
            let url = cli.redis_url.as_deref().ok_or_else(|| {
                anyhow::anyhow!("rebuild works on Redis: give --redis-url (the embedded store rebuilds itself from the database at every start)")
            })?;
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            let c = load_campaign(&db, &campaign).await?;
            let target = baton_hot::conn::RedisTarget::new(url, cli.redis_cluster);
            let store = baton_hot::redis::RedisStore::connect_to(&target, &cli.redis_prefix, cli.redis_shards)
                .await
                .context("connecting to Redis (check --redis-url / BATON_REDIS_URL)")?;
            let now = chrono::Utc::now().timestamp_millis();
            let started = std::time::Instant::now();
            let summary =
                baton_archiver::rebuild::rebuild(&db, &store, &c, now, |n| eprintln!("… {n} participants restored"))
                    .await?;
            println!(
                "rebuilt campaign {}: {} participants ({} with a best result on the leaderboards), {} attempts of today or in progress, in {:.1} s",
                c.id(),
                summary.participants,
                summary.with_best,
                summary.attempts,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Export { kind, campaign, region } => {
            let kind: baton_db::export::ExportKind = kind
                .parse()
                .map_err(|_| anyhow::anyhow!("export takes participants, results or units (got {kind:?})"))?;
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            let c = load_campaign(&db, &campaign).await?;
            // The region and every place under it; the whole campaign without one.
            let places = match &region {
                None => None,
                Some(r) => {
                    let root = baton_core::ids::PlaceId::parse(r)
                        .ok()
                        .filter(|p| c.place(p).is_some())
                        .ok_or_else(|| anyhow::anyhow!("campaign {} has no place {r:?}", c.id()))?;
                    Some(c.places().filter(|p| c.is_within(&p.id, &root)).map(|p| p.id.clone()).collect::<Vec<_>>())
                }
            };
            let filter = baton_db::export::ExportFilter { places: places.as_deref() };
            let mut out = tokio::io::stdout();
            let rows = db.export_filtered(kind, &c, filter, &mut out, |n| eprintln!("… {n} rows")).await?;
            tokio::io::AsyncWriteExt::flush(&mut out).await?;
            eprintln!("exported {rows} rows of campaign {}", c.id());
            Ok(())
        }
        Command::Campaign(CampaignCommand::Export { id }) => {
            let db = Db::connect(&cli.database_url).await?;
            db.migrate().await?;
            let cid = baton_core::ids::CampaignId::parse(&id).map_err(|e| anyhow::anyhow!("{}", e.0))?;
            let doc = db
                .campaign(&cid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no campaign {id:?} in {}", db.redacted_url()))?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
    }
}

/// A campaign from the database, validated.
async fn load_campaign(db: &Db, id: &str) -> anyhow::Result<baton_core::campaign::Campaign> {
    let cid = baton_core::ids::CampaignId::parse(id).map_err(|e| anyhow::anyhow!("{}", e.0))?;
    let doc = db.campaign(&cid).await?.ok_or_else(|| anyhow::anyhow!("no campaign {id:?} in {}", db.redacted_url()))?;
    baton_core::campaign::Campaign::from_doc(doc)
        .map_err(|e| anyhow::anyhow!("campaign {id} in the database does not validate: {e}"))
}
