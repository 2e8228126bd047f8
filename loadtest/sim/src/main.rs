//! `baton-sim`: the campaign simulator, the benchmark phases, the SQL check, and the trivial
//! actix-web server that gives the ceiling. See `loadtest/README.md`.

use baton_sim::{RunConfig, Thresholds, bench, check, citizen::Behavior, shape::Shape};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The simulator allocates for every request and reply (URLs, headers, JSON), on two worker
/// threads; glibc's allocator took about a third of its CPU in a replay (`docs/PERFORMANCE.md`).
/// Baton runs on the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "baton-sim", version, about = "Plays a Baton campaign over HTTP and measures it.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plays citizens' journeys and organizers' dashboards on the seed campaign's curve.
    Run(RunArgs),
    /// Checks that SQL holds exactly what a run's citizens were told (its ledger.csv).
    Check {
        #[arg(long, env = "BATON_DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value = "demo")]
        campaign: String,
        /// The run's ledger.csv.
        #[arg(long)]
        ledger: PathBuf,
        /// Also compare the hot store's score board with the ledger, through this Baton.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Measures joins, starts, answers, finishes and board reads at full speed, each as a ratio
    /// of a trivial actix-web route's rate.
    Bench {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
        #[arg(long, default_value = "demo")]
        campaign: String,
        #[arg(long, default_value_t = 20_000)]
        participants: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// A `baton-sim ceiling` server.
        #[arg(long)]
        ceiling_url: Option<String>,
        #[arg(long, default_value_t = 200_000)]
        ceiling_requests: usize,
        /// Writes the phases as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only join and start, then write the answers to make to this file (`token attempt
        /// question` lines) for wrk (`loadtest/answers.lua`).
        #[arg(long)]
        answers_file: Option<PathBuf>,
    },
    /// Serves `GET /` → `ok` with actix-web, the ceiling for `bench`.
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: String,
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long, default_value = "demo")]
    campaign: String,
    /// Participants over the whole campaign.
    #[arg(long, default_value_t = 2_520_000)]
    participants: u64,
    #[arg(long, default_value_t = 10)]
    days: u32,
    /// Campaign seconds per real second (500: ten days in 29 minutes).
    #[arg(long, default_value_t = 500.0)]
    speed: f64,
    /// Play only campaign hours [from, to) (e.g. --from-hour 212 --to-hour 216: the last
    /// evening's peak).
    #[arg(long, default_value_t = 0.0)]
    from_hour: f64,
    #[arg(long)]
    to_hour: Option<f64>,
    /// No flash crowds: the daily curve only.
    #[arg(long)]
    no_flash_crowds: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 2)]
    organizers: u32,
    /// An organizer's `user:password` (`baton organizer add`).
    #[arg(long, env = "BATON_SIM_ORGANIZER")]
    organizer: Option<String>,
    /// Seconds between an organizer dashboard's polls (real time).
    #[arg(long, default_value_t = 5.0)]
    console_poll_s: f64,
    #[arg(long, default_value_t = 20_000)]
    max_active: usize,
    /// The archiver's /metrics, scraped for its backlog and lag.
    #[arg(long)]
    archiver_metrics: Option<String>,
    /// Median seconds per question (campaign time).
    #[arg(long, default_value_t = 6.0)]
    think_s: f64,
    /// Share of citizens (outside flash crowds) who come through a relay link.
    #[arg(long, default_value_t = 0.5)]
    relayed: f64,
    /// Share of finishers who pass the baton.
    #[arg(long, default_value_t = 0.6)]
    share: f64,
    /// Where report.json, timeseries.csv and ledger.csv go.
    #[arg(long, default_value = "loadtest/results/latest")]
    out: PathBuf,
    /// Fail if any participant request kind's p99 (over the run or at its peak, the busiest 10 s) is above.
    #[arg(long)]
    max_p99_ms: Option<f64>,
    /// Fail if more than this share of requests fail.
    #[arg(long, default_value_t = 0.001)]
    max_error_rate: f64,
    /// Fail if the archiver is ever this many seconds behind.
    #[arg(long)]
    max_archiver_lag_s: Option<f64>,
    /// Makes device ids unique to this run (default: the time).
    #[arg(long)]
    tag: Option<String>,
    /// Seconds between progress lines (0: none).
    #[arg(long, default_value_t = 10)]
    progress_s: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    match real_main().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("baton-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn real_main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Run(a) => run(a).await,
        Command::Check { database_url, campaign, ledger, base_url } => {
            let told = check::read_ledger(&ledger)?;
            let c = check::against_sql(&database_url, &campaign, &told).await?;
            print!("{}", check::render(&c));
            let mut ok = c.ok();
            if let Some(base) = base_url {
                let url =
                    format!("{}/api/v1/campaigns/{campaign}/leaderboards/score?limit=1", base.trim_end_matches('/'));
                let v: serde_json::Value = reqwest::get(&url).await?.json().await?;
                let total = v["total"].as_u64().unwrap_or(0);
                println!("score board (hot store): {total} entries, {} participants finished", c.with_best);
                ok &= total == c.with_best;
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench {
            base_url,
            campaign,
            participants,
            concurrency,
            ceiling_url,
            ceiling_requests,
            out,
            answers_file,
        } => {
            let tag = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
            let cfg = bench::BenchConfig {
                base_url,
                campaign,
                participants,
                concurrency,
                ceiling_url,
                ceiling_requests,
                tag,
                answers_file,
            };
            let phases = bench::bench(&cfg).await?;
            for p in &phases {
                println!("{}", p.line());
            }
            if let Some(path) = out {
                std::fs::write(&path, serde_json::to_string_pretty(&phases)?)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            }
            let failed = phases.iter().any(|p| p.errors > 0);
            Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Ceiling { listen, workers } => {
            bench::ceiling(&listen, workers).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.speed > 0.0, "--speed must be above 0");
    anyhow::ensure!(a.participants > 0, "--participants must be above 0");
    let mut shape = Shape::seed_campaign(a.participants, a.seed);
    shape.days = a.days;
    if a.no_flash_crowds {
        shape.flashes.clear();
    }
    let to_minute = a.to_hour.map_or(shape.minutes(), |h| (h * 60.0) as u64);
    let from_minute = (a.from_hour * 60.0) as u64;
    anyhow::ensure!(from_minute < to_minute, "--from-hour must be before --to-hour");
    let tag = a.tag.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        format!("{}", now.as_secs())
    });
    let cfg = RunConfig {
        base_url: a.base_url,
        campaign: a.campaign,
        shape,
        from_minute,
        to_minute,
        speed: a.speed,
        behavior: Behavior { think_s: a.think_s, relayed: a.relayed, share: a.share, ..Behavior::default() },
        organizers: a.organizers,
        organizer_login: a.organizer,
        console_poll: Duration::from_secs_f64(a.console_poll_s),
        max_active: a.max_active,
        archiver_metrics: a.archiver_metrics,
        tag,
        timeout: Duration::from_secs(30),
        progress_every: Duration::from_secs(a.progress_s),
    };
    let limits = Thresholds {
        max_p99_ms: a.max_p99_ms,
        max_error_rate: Some(a.max_error_rate),
        max_archiver_lag_s: a.max_archiver_lag_s,
    };
    let (report, world, seconds) = baton_sim::run(&cfg, &limits).await?;
    baton_sim::write_outputs(&a.out, &report, &world, &seconds)?;
    print!("{}", baton_sim::render(&report));
    println!("wrote {}/report.json, timeseries.csv, ledger.csv", a.out.display());
    Ok(if report.failed_thresholds.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
