//! The `lianxin` command line: `serve`, `migrate`, `token create`, `members import`, ….

use std::process::ExitCode;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use clap::{Parser, Subcommand};
use domain::{Role, Timestamp};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::bench;
use crate::bulk::BulkPlan;
use crate::demo;
use crate::members;
use crate::scale;
use service::access::tokens::{self, NewToken};
use service::app::{self, Application};
use service::audit;
use service::config::{ServeSettings, StoreSettings};
use service::read::Projector;
use service::telemetry::{self, LogFormat};
use service::write::engine::{Clock, Engine};

#[derive(Debug, Parser)]
#[command(
    name = "lianxin",
    version,
    about = "连心: case workflow engine for a political consultative conference"
)]
pub struct Cli {
    #[command(flatten)]
    store: StoreSettings,
    /// Log format on stderr.
    #[arg(long, env = "LIANXIN_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (migrations are applied first).
    Serve(ServeSettings),
    /// Apply the store's schema migrations and exit.
    Migrate,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the event log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Demonstration data.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Run the benchmark workloads against the configured store.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The member registry.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Rebuild projections from the start of the log (all of them when none is named).
    Replay {
        /// Projections to rebuild: case_summaries, member_records.
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Write a realistic year of cases through the real command path (deterministic per seed).
    Seed {
        #[arg(long, default_value_t = 600)]
        cases: usize,
        #[arg(long, default_value_t = 2026)]
        year: i32,
        #[arg(long, default_value_t = 20_260_101)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum MembersCommand {
    /// Register the members of a roster (CSV, UTF-8, with the header
    /// `member_id,name,sector,level,jurisdiction,term_start,term_end`; level `city`/`市` or
    /// `district`/`旗区`). A file with a bad line writes nothing; members already registered
    /// are skipped.
    Import { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Suggestions driven from submission to closed, five commands each.
    Lifecycle {
        #[arg(long, default_value_t = 2_000)]
        cases: usize,
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Drive a running service at this base URL instead of the engine in this process.
        #[arg(long, requires = "token")]
        http: Option<String>,
        /// A staff token of that service.
        #[arg(long)]
        token: Option<String>,
    },
    /// Read every event back in global order and rebuild an outcome summary in memory.
    Replay,
    /// A multi-year log from the bulk generator (written straight into the events table, not
    /// through the engine's command path; needs an empty store), then every projection rebuilt,
    /// every chain verified and the dashboard's reads timed: one JSON line per read, then a summary.
    Scale {
        #[arg(long, default_value_t = 1_000_000)]
        cases: usize,
        #[arg(long, default_value_t = 5)]
        years: u32,
        #[arg(long, default_value_t = 20_260_101)]
        seed: u64,
        /// The day the log ends (UTC, exclusive); cases still in progress then stay open.
        #[arg(long, default_value = "2026-11-01")]
        until: NaiveDate,
        /// Repetitions of each dashboard read.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Seconds each read may take in all; a slow one stops short of `--samples`.
        #[arg(long, default_value_t = 30)]
        read_budget: u64,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every case's hash chain; print the report as JSON and fail if a link is broken.
    Verify,
}

/// The log failed verification: the report says where.
#[derive(Debug, thiserror::Error)]
#[error("{0} broken link(s) in the event log")]
struct BrokenLog(usize);

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; the secret is printed once, alone on the last line.
    Create {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The member id, for a member token.
        #[arg(long)]
        member: Option<String>,
        /// The unit's id: for a department token (its subject), or for staff of one department.
        #[arg(long)]
        department: Option<String>,
        /// Staff and members: the banner or district the holder acts in (none: the city level).
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Who holds the token: a label for `token list`. What the token does is recorded under
        /// its subject, never under this name.
        #[arg(long)]
        name: String,
        /// Not for member or department tokens: take over the subject of an earlier token of the same role
        /// (a holder whose token is replaced keeps their cases); a new subject when absent.
        #[arg(long)]
        subject: Option<String>,
        /// When the token stops being accepted: a number of days (`90d`) or an RFC 3339 time.
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<Timestamp>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token at once.
    Revoke {
        /// The token's id, as `create` and `list` show it.
        id: String,
    },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value
        .parse()
        .map_err(|_| "expected one of citizen, member, staff, auditor, admin, department".to_owned())
}

/// `90d` (days from now) or an RFC 3339 time; either must lie in the future.
fn parse_expiry(value: &str) -> Result<Timestamp, String> {
    let now = chrono::Utc::now();
    let at = match value.strip_suffix('d').map(str::parse::<u32>) {
        Some(Ok(days)) => now + chrono::Duration::days(i64::from(days)),
        _ => chrono::DateTime::parse_from_rfc3339(value)
            .map_err(|_| "expected a number of days (`90d`) or an RFC 3339 time".to_owned())?
            .with_timezone(&chrono::Utc),
    };
    if at <= now {
        return Err("the expiry must lie in the future".to_owned());
    }
    Ok(at)
}

type Failure = Box<dyn std::error::Error>;

/// Parses the command line and runs it; failures are printed with their causes.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(settings) => {
            let store = cli.store.open().await?;
            let application = Application::build(store, settings.options()?, settings.listen).await?;
            application.run_until(app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            let store = cli.store.open().await?;
            println!("migrations applied to the {} store", store.backend());
        }
        Command::Token(TokenCommand::Create {
            role,
            member,
            department,
            jurisdiction,
            name,
            subject,
            expires,
        }) => {
            let store = cli.store.open().await?;
            let token = NewToken {
                name,
                role,
                member_id: member,
                department_id: department,
                jurisdiction,
                subject,
                expires_at: expires,
            };
            let issued = tokens::create(&store, &token).await?;
            println!(
                "created {} token {} for {} (subject {}); keep the secret below, it is not shown again",
                token.role, issued.id, token.name, issued.subject
            );
            println!("{}", issued.secret);
        }
        Command::Members(MembersCommand::Import { file }) => {
            let store = cli.store.open().await?;
            // Registering reads no deadline, calendar or time zone: the default policy serves.
            let engine = Engine::new(store, domain::Policy::default(), Clock::System);
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template("registering {bar:40} {pos}/{len} members ({eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let imported = members::import(&engine, &file, bar).await?;
            println!("{}", serde_json::to_string(&imported)?);
        }
        Command::Replay { names } => {
            let store = cli.store.open().await?;
            let projector = Projector::new(store.clone());
            let names = if names.is_empty() {
                service::read::names().iter().map(|name| (*name).to_owned()).collect()
            } else {
                names
            };
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let bar = ProgressBar::new(store.count_events().await?).with_style(
                ProgressStyle::with_template("rebuild {bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let rebuilt = projector.rebuild(&names, |events| bar.set_position(events)).await?;
            bar.finish_and_clear();
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{}: rebuilt from {} events in {seconds:.2} s ({:.0} events/s), up to position {}",
                names.join(", "),
                rebuilt.events,
                rebuilt.events as f64 / seconds.max(f64::EPSILON),
                rebuilt.position
            );
        }
        Command::Token(TokenCommand::List) => {
            let store = cli.store.open().await?;
            for token in tokens::list(&store).await? {
                println!("{}", serde_json::to_string(&token)?);
            }
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            let store = cli.store.open().await?;
            tokens::revoke(&store, &id).await?;
            println!("revoked token {id}");
        }
        Command::Bench(BenchCommand::Lifecycle {
            cases,
            workers,
            http,
            token,
        }) => {
            let store = cli.store.open().await?;
            let target = match (http, token) {
                (Some(base_url), Some(token)) => bench::Target::Http {
                    base_url: base_url.trim_end_matches('/').to_owned(),
                    token,
                },
                _ => bench::Target::Engine,
            };
            let bar = ProgressBar::new((cases * 5) as u64).with_style(
                ProgressStyle::with_template("lifecycle {bar:40} {pos}/{len} commands ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let report = bench::lifecycle(store, target, cases, workers, bar).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Demo(DemoCommand::Seed { cases, year, seed }) => {
            let store = cli.store.open().await?;
            let bar = ProgressBar::new(cases as u64).with_style(
                ProgressStyle::with_template("seeding {bar:40} {pos}/{len} cases ({eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let seeded = demo::seed(store, cases, year, seed, bar).await?;
            println!("{}", serde_json::to_string(&seeded)?);
        }
        Command::Bench(BenchCommand::Replay) => {
            let store = cli.store.open().await?;
            let bar = ProgressBar::new(store.count_events().await?).with_style(
                ProgressStyle::with_template("replay {bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let report = bench::replay(&store, bar).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Bench(BenchCommand::Scale {
            cases,
            years,
            seed,
            until,
            samples,
            read_budget,
        }) => {
            let store = cli.store.open().await?;
            let settings = scale::ScaleSettings {
                plan: BulkPlan {
                    cases,
                    years,
                    until: until.and_time(NaiveTime::MIN).and_utc(),
                    seed,
                },
                samples,
                read_budget: Duration::from_secs(read_budget),
            };
            scale::run(&store, &settings, &MultiProgress::new(), &mut std::io::stdout()).await?;
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = cli.store.open().await?;
            let total = store.count_events().await?;
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template("verifying {bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let report = audit::verify(&store, |checked| bar.set_position(checked)).await?;
            bar.finish_and_clear();
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.broken.is_empty() {
                return Err(BrokenLog(report.broken.len()).into());
            }
        }
    }
    Ok(())
}
