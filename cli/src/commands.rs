//! The `lianxin` command line: `serve`, `migrate`, `token`, `unit`, `name`, `members`, `keys`, `audit`, `demo`, `bench`, `replay`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use clap::{Parser, Subcommand};
use domain::{HandlingLevel, Role, Timestamp};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::bench;
use crate::bulk::BulkPlan;
use crate::demo;
use crate::members;
use crate::scale;
use serde::Serialize;
use serde_json::Value;
use service::access::names;
use service::access::tokens::{self, NewToken};
use service::access::units::{self, Unit};
use service::app::{self, Application};
use service::audit::witness::{self, WitnessError};
use service::audit::{self, LogSigner, LogVerifier, TransparencyLog};
use service::config::{PolicySettings, ServeSettings, StoreSettings};
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
    /// Run the HTTP service (migrations are applied first, unless all are applied already:
    /// then it may run as a role that cannot change the schema).
    Serve {
        #[command(flatten)]
        settings: ServeSettings,
        #[command(flatten)]
        checkpoints: CheckpointSettings,
    },
    /// Apply the store's schema migrations and exit.
    Migrate,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the handling units 承办单位 cases are assigned to.
    #[command(subcommand)]
    Unit(UnitCommand),
    /// Check the event log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the log's signing key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Demonstration data.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Run the benchmark workloads against the configured store.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The member registry.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Name an actor the member registry and the units list do not hold (a staff member, an
    /// auditor), by the subject its token acts as, for pages and exports to show.
    Name { subject: String, name: String },
    /// Rebuild projections from the start of the log (all of them when none is named).
    Replay {
        /// Projections to rebuild: case_summaries, member_records.
        names: Vec<String>,
        /// The deployment's settings `serve` runs with: the figures' days and working days
        /// are rebuilt in its time zone and calendar.
        #[command(flatten)]
        policy: PolicySettings,
    },
}

#[derive(Debug, Subcommand)]
enum UnitCommand {
    /// Add a handling unit; its id is what cases are assigned to and a department token acts as.
    Add {
        #[arg(long)]
        id: String,
        /// The name people read.
        #[arg(long)]
        name: String,
        /// `city` 市, or `local` 旗区 (a banner's or district's unit, which names its --jurisdiction).
        #[arg(long, value_parser = parse_level, default_value = "city")]
        level: HandlingLevel,
        #[arg(long)]
        jurisdiction: Option<String>,
        /// A category the unit handles; repeat for each.
        #[arg(long = "category")]
        categories: Vec<String>,
    },
    /// Give a unit a new name; its id, and every case assigned to it, stay.
    Rename { id: String, name: String },
    /// List the units, one JSON line each.
    List,
}

fn parse_level(value: &str) -> Result<HandlingLevel, String> {
    match value {
        "city" => Ok(HandlingLevel::City),
        "local" => Ok(HandlingLevel::Local),
        _ => Err("expected city or local".to_owned()),
    }
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Write a realistic year of cases through the real command path: the twelve months before
    /// `--until`, nothing after it (deterministic per seed and end).
    Seed {
        #[arg(long, default_value_t = 600)]
        cases: usize,
        /// The year's end, an RFC 3339 time (default: now); it may not lie in the future.
        #[arg(long, value_parser = parse_past)]
        until: Option<Timestamp>,
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
        /// Grow the log's Merkle tree alongside, as `serve` does (what it costs).
        #[arg(long, conflicts_with = "http")]
        tree: bool,
        /// Leave the projections unapplied while the commands run (what they cost).
        #[arg(long, conflicts_with = "http")]
        without_projections: bool,
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
        /// Only time the reads, over the log an earlier run of the same plan (`--cases`,
        /// `--years`, `--seed`, `--until`) left in the store: no generation, rebuild or verify.
        #[arg(long)]
        reads_only: bool,
        /// Time only this read (by the name its line reports, e.g.
        /// `outcomes_any_period_by_member`); may be repeated.
        #[arg(long = "read")]
        reads: Vec<String>,
    },
}

/// The signed checkpoints `serve` cuts.
#[derive(Debug, Clone, clap::Args)]
struct CheckpointSettings {
    /// The log's signing key, as `lianxin keys create` wrote it; without one the Merkle tree is
    /// kept but no checkpoint is signed.
    #[arg(long, env = "LIANXIN_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// Seconds between checkpoints while the log grows.
    #[arg(long, env = "LIANXIN_CHECKPOINT_SECONDS", default_value_t = 5)]
    checkpoint_seconds: u64,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every case's hash chain, and the log against its latest checkpoint; print the
    /// report as JSON and fail if anything is broken.
    Verify {
        /// The log's verifier key (`name+hash+base64`): the checkpoint's signature is checked too.
        #[arg(long)]
        key: Option<LogVerifier>,
    },
    /// Fetch the log's latest checkpoint, check its signature and that it extends the one kept
    /// in the state file, then keep it; fail loudly on a fork or a rollback.
    Witness {
        /// The service's base URL.
        #[arg(long)]
        url: String,
        /// The log's verifier key (`name+hash+base64`), as `keys create` printed it.
        #[arg(long)]
        key: LogVerifier,
        /// The file that keeps the last accepted checkpoint (created on the first run).
        #[arg(long)]
        state: PathBuf,
        /// Also check that the event at this position is in the checkpoint.
        #[arg(long)]
        event: Option<i64>,
        /// An auditor token of that service.
        #[arg(long, env = "LIANXIN_TOKEN", hide_env_values = true)]
        token: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create the log's Ed25519 signing key in a new file (mode 0600) and print its verifier
    /// key, for auditors to pin.
    Create {
        /// The log's name: every checkpoint's origin line (no spaces or `+`).
        #[arg(long, default_value = "lianxin/log")]
        name: String,
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long, env = "LIANXIN_SIGNING_KEY")]
        out: PathBuf,
    },
}

/// The log failed verification: the report says where.
#[derive(Debug, thiserror::Error)]
#[error("{0} broken link(s) and {1} problem(s) against the latest checkpoint in the event log")]
struct BrokenLog(usize, usize);

/// Why a witness run failed.
#[derive(Debug, thiserror::Error)]
pub enum WitnessFailure {
    #[error(transparent)]
    Witness(#[from] WitnessError),
    #[error("cannot reach the log")]
    Unreachable(#[from] reqwest::Error),
    #[error("the log answered {status} to {what}: {body}")]
    Refused { what: String, status: u16, body: String },
    #[error("the state file {path} cannot be used")]
    State {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a witness run accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Witnessed {
    pub tree_size: u64,
    pub root: String,
    /// The size of the checkpoint kept before; none on the first run.
    pub previous_size: Option<u64>,
    /// The event whose inclusion was checked.
    pub event: Option<i64>,
}

async fn fetch(client: &reqwest::Client, url: String, token: &str) -> Result<reqwest::Response, WitnessFailure> {
    let response = client.get(&url).bearer_auth(token).send().await?;
    if !response.status().is_success() {
        return Err(WitnessFailure::Refused {
            what: url,
            status: response.status().as_u16(),
            body: response.text().await.unwrap_or_default(),
        });
    }
    Ok(response)
}

/// One witness run against the log at `base_url` (see `lianxin audit witness`).
pub async fn witness(
    base_url: &str,
    token: &str,
    verifier: &LogVerifier,
    state: &Path,
    event: Option<i64>,
) -> Result<Witnessed, WitnessFailure> {
    let base_url = base_url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let state_error = |source| WitnessFailure::State {
        path: state.display().to_string(),
        source,
    };
    let note = fetch(&client, format!("{base_url}/api/v1/audit/checkpoint"), token)
        .await?
        .text()
        .await?;
    let new = witness::open_new(verifier, &note)?;
    let kept = match std::fs::read_to_string(state) {
        Ok(kept) => Some(witness::open_kept(verifier, &kept)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(state_error(error)),
    };
    if let Some(kept) = &kept {
        let mut proof = Vec::new();
        if kept.size > 0 && kept.size < new.size {
            let url = format!(
                "{base_url}/api/v1/audit/proof/consistency?first={}&second={}",
                kept.size, new.size
            );
            let answer: Value = fetch(&client, url, token).await?.json().await?;
            let path: Vec<String> = serde_json::from_value(answer["consistency_path"].clone())
                .map_err(|error| WitnessError::Malformed(error.to_string()))?;
            proof = witness::decode_hashes(&path)?;
        }
        witness::check_extends(kept, &new, &proof)?;
    }
    if let Some(position) = event {
        let url = format!(
            "{base_url}/api/v1/audit/proof/inclusion?position={position}&tree_size={}",
            new.size
        );
        let answer: Value = fetch(&client, url, token).await?.json().await?;
        let path: Vec<String> = serde_json::from_value(answer["inclusion_path"].clone())
            .map_err(|error| WitnessError::Malformed(error.to_string()))?;
        let leaf_index = answer["leaf_index"]
            .as_u64()
            .ok_or_else(|| WitnessError::Malformed("no leaf_index".to_owned()))?;
        witness::check_inclusion(&new, leaf_index, &witness::decode_hashes(&path)?, &answer["event"])?;
    }
    // Written aside and renamed: a crash never leaves a half-written state.
    let staged = state.with_extension("new");
    std::fs::write(&staged, &note).map_err(state_error)?;
    std::fs::rename(&staged, state).map_err(state_error)?;
    Ok(Witnessed {
        tree_size: new.size,
        root: base64_root(&new.root),
        previous_size: kept.map(|kept| kept.size),
        event,
    })
}

fn base64_root(root: &audit::merkle::Hash) -> String {
    audit::Checkpoint {
        origin: String::new(),
        size: 0,
        root: *root,
    }
    .body()
    .lines()
    .nth(2)
    .unwrap_or_default()
    .to_owned()
}

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

/// An RFC 3339 time not in the future.
fn parse_past(value: &str) -> Result<Timestamp, String> {
    let at = chrono::DateTime::parse_from_rfc3339(value)
        .map_err(|_| "expected an RFC 3339 time".to_owned())?
        .with_timezone(&chrono::Utc);
    if at > chrono::Utc::now() {
        return Err("the demo year may not end in the future".to_owned());
    }
    Ok(at)
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
        Command::Serve { settings, checkpoints } => {
            let store = cli.store.open().await?;
            let standby = settings.read_standby(&store)?;
            let mut application = Application::build(store, settings.options()?, settings.listen).await?;
            if let Some(standby) = standby {
                application = application.with_read_standby(standby);
            }
            if let Some(path) = &checkpoints.signing_key {
                let interval = Duration::from_secs(checkpoints.checkpoint_seconds.max(1));
                application = application.with_signer(LogSigner::load(path)?, interval);
            }
            application.run_until(app::shutdown_signal()).await?;
        }
        Command::Keys(KeysCommand::Create { name, out }) => {
            let signer = LogSigner::create_file(&name, &out)?;
            eprintln!(
                "signing key written to {}; the verifier key for auditors:",
                out.display()
            );
            println!("{}", signer.verifier());
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
            // A unit's token acts as the id cases are assigned by; one staff have not added yet
            // is allowed (API.md's `token create` knows no units list), with a warning, since a
            // mistyped id would otherwise go unnoticed.
            if let (Role::Department, Some(unit)) = (role, &department) {
                if units::find(&store, unit).await?.is_none() {
                    eprintln!(
                        "warning: no unit has the id `{unit}` yet; cases are assigned to it by this id \
                         (add it with `lianxin unit add --id {unit} --name …` to give it a name and level)"
                    );
                }
            }
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
        Command::Replay { names, policy } => {
            let store = cli.store.open().await?;
            let projector = Projector::new(store.clone(), policy.policy()?);
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
        Command::Unit(UnitCommand::Add {
            id,
            name,
            level,
            jurisdiction,
            categories,
        }) => {
            let store = cli.store.open().await?;
            let unit = Unit {
                id,
                name,
                level,
                jurisdiction,
                categories,
            };
            units::add(&store, &unit).await?;
            println!("added unit {} ({})", unit.id, unit.name);
        }
        Command::Unit(UnitCommand::Rename { id, name }) => {
            let store = cli.store.open().await?;
            units::rename(&store, &id, &name).await?;
            println!("unit {id} is now named {name}");
        }
        Command::Name { subject, name } => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err("a name is not blank and holds no control character".into());
            }
            let store = cli.store.open().await?;
            names::name_actor(&store, &subject, &name).await?;
            println!("{subject} is shown as {name}");
        }
        Command::Unit(UnitCommand::List) => {
            let store = cli.store.open().await?;
            for unit in units::list(&store).await? {
                println!("{}", serde_json::to_string(&unit)?);
            }
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
            tree,
            without_projections,
        }) => {
            let store = cli.store.open().await?;
            if tree {
                // Nobody appends through this engine: the tree task polls the log.
                TransparencyLog::new(store.clone()).spawn(tokio::sync::watch::channel(0).1);
            }
            let target = match (http, token) {
                (Some(base_url), Some(token)) => bench::Target::Http {
                    base_url: base_url.trim_end_matches('/').to_owned(),
                    token,
                },
                _ => bench::Target::Engine {
                    projections: !without_projections,
                },
            };
            let bar = ProgressBar::new((cases * 5) as u64).with_style(
                ProgressStyle::with_template("lifecycle {bar:40} {pos}/{len} commands ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let report = bench::lifecycle(store, target, cases, workers, bar).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Demo(DemoCommand::Seed { cases, until, seed }) => {
            let store = cli.store.open().await?;
            let bar = ProgressBar::new(cases as u64).with_style(
                ProgressStyle::with_template("seeding {bar:40} {pos}/{len} cases ({eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let plan = demo::DemoPlan {
                cases,
                until: until.unwrap_or_else(chrono::Utc::now),
                seed,
            };
            let seeded = demo::seed(store, &plan, bar).await?;
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
            reads_only,
            reads,
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
                reads,
            };
            let (progress, mut out) = (MultiProgress::new(), std::io::stdout());
            if reads_only {
                scale::reread(&store, &settings, &progress, &mut out).await?;
            } else {
                scale::run(&store, &settings, &progress, &mut out).await?;
            }
        }
        Command::Audit(AuditCommand::Witness {
            url,
            key,
            state,
            event,
            token,
        }) => {
            let witnessed = witness(&url, &token, &key, &state, event).await?;
            println!("{}", serde_json::to_string(&witnessed)?);
        }
        Command::Audit(AuditCommand::Verify { key }) => {
            let store = cli.store.open().await?;
            let total = 2 * store.count_events().await?;
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template("verifying {bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let report = audit::verify_with_key(&store, key.as_ref(), |checked| bar.set_position(checked)).await?;
            bar.finish_and_clear();
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.intact() {
                return Err(BrokenLog(report.broken.len(), report.tree.problems.len()).into());
            }
        }
    }
    Ok(())
}
