//! `lianxin bench scale`: what the dashboard and auditors see at a million cases. Builds a
//! multi-year log with the bulk generator ([`crate::bulk`]), rebuilds every projection from it,
//! verifies every hash chain, then times the dashboard's reads through the functions the HTTP
//! handlers call. Prints one JSON line per read, then a summary line with everything.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{Datelike, FixedOffset, Months, TimeZone, Utc};
use domain::{Actor, Policy, Role, Status, Timestamp};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use projections::{GroupBy, Quotas, GROUPINGS};
use serde::Serialize;

use crate::bench::percentile;
use crate::bulk::{self, BulkError, BulkPlan, Generated};
use crate::demo::{Dice, CATEGORIES, JURISDICTIONS, TOPICS};
use service::access::tokens::Principal;
use service::access::ListScope;
use service::audit;
use service::read::queries::{self as views, CaseFilter, OverdueFilter};
use service::read::{names, Projector, ProjectorError, PROJECTIONS};
use service::store::{Store, StoreError};
use service::write::engine::{Clock, Engine, EngineError};

/// Cases per page of the list, as the dashboard asks for them.
const PAGE: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error(transparent)]
    Bulk(#[from] BulkError),
    #[error(transparent)]
    Projector(#[from] ProjectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write the report")]
    Output(#[from] std::io::Error),
    #[error("cannot encode the report")]
    Encode(#[from] serde_json::Error),
    #[error("the store holds no log to read: run `bench scale` without `--reads-only` first")]
    NoLog,
    #[error("no read is called `{0}`")]
    UnknownRead(String),
}

#[derive(Debug, Clone)]
pub struct ScaleSettings {
    pub plan: BulkPlan,
    /// Repetitions of each read.
    pub samples: usize,
    /// Time each read may take in all; a slow read stops short of `samples` (at least one).
    pub read_budget: Duration,
    /// The reads to time, by the names they are reported under; empty for every read.
    pub reads: Vec<String>,
}

/// One rebuild of every projection from the whole log.
#[derive(Debug, Clone, Serialize)]
pub struct Rebuilt {
    pub projections: [&'static str; PROJECTIONS.len()],
    pub events: u64,
    pub seconds: f64,
    pub events_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub cases: u64,
    pub events: u64,
    pub seconds: f64,
    pub events_per_s: f64,
    pub broken_links: usize,
    pub heads_digest: String,
}

/// One read's latencies: a JSON line of its own.
#[derive(Debug, Clone, Serialize)]
pub struct ReadTiming {
    pub workload: &'static str,
    pub read: &'static str,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub samples: usize,
    /// What the last sample returned: cases, groups, members or events.
    pub rows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub system: &'static str,
    pub workload: &'static str,
    pub store: &'static str,
    pub generated: Generated,
    pub rebuild: Rebuilt,
    pub verify: Verified,
    pub reads: Vec<ReadTiming>,
    pub database_bytes: i64,
}

/// Runs the whole workload on `store` (whose log must be empty), with progress bars added to
/// `progress`, writing the JSON lines to `out`.
pub async fn run(
    store: &Store,
    settings: &ScaleSettings,
    progress: &MultiProgress,
    out: &mut impl Write,
) -> Result<ScaleReport, ScaleError> {
    let cases = progress.add(bar(settings.plan.cases as u64, "bulk generator", "cases"));
    let generated = bulk::generate(store, &settings.plan, cases).await?;
    analyze(store).await?;
    let rebuild = rebuild_projections(store, progress).await?;
    analyze(store).await?;
    let verify = verify(store, generated.events, progress).await?;
    let reads = time_reads(store, settings, progress, out).await?;
    let report = ScaleReport {
        system: "lianxin",
        workload: "scale",
        store: store.backend(),
        generated,
        rebuild,
        verify,
        reads,
        database_bytes: database_bytes(store).await?,
    };
    writeln!(out, "{}", serde_json::to_string(&report)?)?;
    Ok(report)
}

/// Times the reads again over the log an earlier [`run`] of the same plan left in `store`.
pub async fn reread(
    store: &Store,
    settings: &ScaleSettings,
    progress: &MultiProgress,
    out: &mut impl Write,
) -> Result<Vec<ReadTiming>, ScaleError> {
    if store.count_events().await? == 0 {
        return Err(ScaleError::NoLog);
    }
    time_reads(store, settings, progress, out).await
}

fn bar(length: u64, what: &str, unit: &str) -> ProgressBar {
    let template = format!("{what:>15} {{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    ProgressBar::new(length)
        .with_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()))
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}

/// Rebuilds every projection from the whole log.
pub async fn rebuild_projections(store: &Store, progress: &MultiProgress) -> Result<Rebuilt, ProjectorError> {
    let bar = progress.add(bar(store.count_events().await?, "rebuild", "events"));
    let started = Instant::now();
    let rebuilt = Projector::new(store.clone(), domain::Policy::default())
        .rebuild(&names(), |events| bar.set_position(events))
        .await?;
    bar.finish_and_clear();
    Ok(Rebuilt {
        projections: names(),
        events: rebuilt.events,
        seconds: started.elapsed().as_secs_f64(),
        events_per_s: per_second(rebuilt.events, started.elapsed()),
    })
}

async fn verify(store: &Store, events: u64, progress: &MultiProgress) -> Result<Verified, StoreError> {
    let bar = progress.add(bar(events, "audit verify", "events"));
    let started = Instant::now();
    let report = audit::chains::verify_chains(store, |checked| bar.set_position(checked)).await?;
    bar.finish_and_clear();
    Ok(Verified {
        cases: report.cases,
        events: report.events,
        seconds: started.elapsed().as_secs_f64(),
        events_per_s: per_second(report.events, started.elapsed()),
        broken_links: report.broken.len(),
        heads_digest: report.heads_digest,
    })
}

/// Brings PostgreSQL's planner statistics up to date, as autovacuum does soon after a large
/// write on a running server: the plans measured here depend on them.
async fn analyze(store: &Store) -> Result<(), StoreError> {
    if let Store::Postgres(pool) = store {
        sqlx::query("ANALYZE").execute(pool).await?;
    }
    Ok(())
}

/// What the database holds on disk (SQLite: the main file, without its write-ahead log).
async fn database_bytes(store: &Store) -> Result<i64, StoreError> {
    let bytes = match store {
        Store::Postgres(pool) => {
            sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await?
        }
        Store::Sqlite(pool) => {
            sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                .fetch_one(pool)
                .await?
        }
    };
    Ok(bytes)
}

/// The dashboard's reads, each as the HTTP handler behind it calls it.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// `GET /outcomes` over the twelve months of days before the log's last day.
    Outcomes(Option<GroupBy>),
    /// `GET /outcomes` over a period of whole days of the deployment's time zone, its first
    /// and last day picked at random in the log's last twelve months: most periods start and
    /// end inside a month.
    OutcomesAnyPeriod(Option<GroupBy>),
    /// A banner's staff looking at its overdue cases.
    ListOverdueInJurisdiction,
    /// City staff looking at the closed cases of one category.
    ListClosedInCategory,
    /// The search box.
    ListTextSearch,
    /// A member looking at the cases they carry.
    ListCarriedByMember,
    MemberRecord,
    Assessment,
    Overdue,
    /// An auditor reading one case's full history.
    CaseHistory,
}

const READS: [Read; 24] = [
    Read::Outcomes(GROUPINGS[0]),
    Read::Outcomes(GROUPINGS[1]),
    Read::Outcomes(GROUPINGS[2]),
    Read::Outcomes(GROUPINGS[3]),
    Read::Outcomes(GROUPINGS[4]),
    Read::Outcomes(GROUPINGS[5]),
    Read::Outcomes(GROUPINGS[6]),
    Read::Outcomes(GROUPINGS[7]),
    Read::OutcomesAnyPeriod(GROUPINGS[0]),
    Read::OutcomesAnyPeriod(GROUPINGS[1]),
    Read::OutcomesAnyPeriod(GROUPINGS[2]),
    Read::OutcomesAnyPeriod(GROUPINGS[3]),
    Read::OutcomesAnyPeriod(GROUPINGS[4]),
    Read::OutcomesAnyPeriod(GROUPINGS[5]),
    Read::OutcomesAnyPeriod(GROUPINGS[6]),
    Read::OutcomesAnyPeriod(GROUPINGS[7]),
    Read::ListOverdueInJurisdiction,
    Read::ListClosedInCategory,
    Read::ListTextSearch,
    Read::ListCarriedByMember,
    Read::MemberRecord,
    Read::Assessment,
    Read::Overdue,
    Read::CaseHistory,
];

impl Read {
    fn name(self) -> &'static str {
        match self {
            Read::Outcomes(None) => "outcomes_all",
            Read::Outcomes(Some(GroupBy::Kind)) => "outcomes_by_kind",
            Read::Outcomes(Some(GroupBy::Category)) => "outcomes_by_category",
            Read::Outcomes(Some(GroupBy::Jurisdiction)) => "outcomes_by_jurisdiction",
            Read::Outcomes(Some(GroupBy::Department)) => "outcomes_by_department",
            Read::Outcomes(Some(GroupBy::Month)) => "outcomes_by_month",
            Read::Outcomes(Some(GroupBy::Level)) => "outcomes_by_level",
            Read::Outcomes(Some(GroupBy::Member)) => "outcomes_by_member",
            Read::OutcomesAnyPeriod(None) => "outcomes_any_period",
            Read::OutcomesAnyPeriod(Some(GroupBy::Kind)) => "outcomes_any_period_by_kind",
            Read::OutcomesAnyPeriod(Some(GroupBy::Category)) => "outcomes_any_period_by_category",
            Read::OutcomesAnyPeriod(Some(GroupBy::Jurisdiction)) => "outcomes_any_period_by_jurisdiction",
            Read::OutcomesAnyPeriod(Some(GroupBy::Department)) => "outcomes_any_period_by_department",
            Read::OutcomesAnyPeriod(Some(GroupBy::Month)) => "outcomes_any_period_by_month",
            Read::OutcomesAnyPeriod(Some(GroupBy::Level)) => "outcomes_any_period_by_level",
            Read::OutcomesAnyPeriod(Some(GroupBy::Member)) => "outcomes_any_period_by_member",
            Read::ListOverdueInJurisdiction => "list_overdue_in_jurisdiction",
            Read::ListClosedInCategory => "list_closed_in_category",
            Read::ListTextSearch => "list_text_search",
            Read::ListCarriedByMember => "list_carried_by_member",
            Read::MemberRecord => "member_record",
            Read::Assessment => "assessment",
            Read::Overdue => "overdue",
            Read::CaseHistory => "case_history",
        }
    }
}

/// A first page of the case list as `scope` sees it, unfiltered.
fn first_page(scope: ListScope) -> CaseFilter {
    CaseFilter::unfiltered(scope, PAGE, None)
}

/// Two distinct midnights of the deployment's time zone, of the days from `from`'s to `to`'s, the
/// earlier first.
fn days_within(dice: &mut Dice, offset: FixedOffset, from: Timestamp, to: Timestamp) -> (Timestamp, Timestamp) {
    let first_day = from.with_timezone(&offset).date_naive();
    let days = usize::try_from((to - from).num_days()).unwrap_or(1).max(2);
    let (a, b) = (dice.below(days), dice.below(days));
    let start = a.min(b);
    let end = a.max(b).max(start + 1);
    let midnight = |day: usize| {
        let date = first_day + chrono::Days::new(day as u64);
        offset
            .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
            .single()
            .map_or(from, |moment| moment.to_utc())
    };
    (midnight(start), midnight(end))
}

struct Reader<'a> {
    engine: Engine,
    plan: &'a BulkPlan,
    quotas: Quotas,
    auditor: Principal,
    dice: Dice,
}

impl Reader<'_> {
    /// Runs `read` once with arguments the dice pick; returns how many rows it gave.
    async fn read(&mut self, read: Read) -> Result<usize, ScaleError> {
        let store = self.engine.store();
        // The service reads its clock per request; the figures cover the log's last year.
        let now = Utc::now();
        // The twelve months of days before the log's last day, as the dashboard asks for them
        // (`from` and `to` dates: midnights of the deployment's time zone).
        let offset = self.engine.policy().offset;
        let midnight = |at: Timestamp| {
            let date = at.with_timezone(&offset).date_naive();
            offset
                .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
                .single()
                .map_or(at, |moment| moment.to_utc())
        };
        let to = midnight(self.plan.until);
        let from = midnight(self.plan.until.checked_sub_months(Months::new(12)).unwrap_or(to));
        let year = to.year();
        let settings = (self.engine.policy(), 1.0);
        let rows = match read {
            Read::Outcomes(group_by) => views::outcomes(store, (from, to), group_by, now, settings)
                .await?
                .figures
                .len(),
            Read::OutcomesAnyPeriod(group_by) => {
                let period = days_within(&mut self.dice, offset, from, to);
                views::outcomes(store, period, group_by, now, settings)
                    .await?
                    .figures
                    .len()
            }
            Read::ListOverdueInJurisdiction => {
                let jurisdiction = (*self.dice.pick(&JURISDICTIONS)).to_owned();
                let filter = CaseFilter {
                    overdue: Some(true),
                    ..first_page(ListScope::Jurisdiction(jurisdiction))
                };
                views::list_cases(store, &filter, now).await?.0.len()
            }
            Read::ListClosedInCategory => {
                let filter = CaseFilter {
                    category: Some((*self.dice.pick(&CATEGORIES)).to_owned()),
                    status: Some(Status::Closed),
                    ..first_page(ListScope::All)
                };
                views::list_cases(store, &filter, now).await?.0.len()
            }
            Read::ListTextSearch => {
                let (title, _) = self.dice.pick(&TOPICS);
                let word: String = title.chars().take(4).collect();
                let filter = CaseFilter {
                    text: Some(word),
                    ..first_page(ListScope::All)
                };
                views::list_cases(store, &filter, now).await?.0.len()
            }
            Read::ListCarriedByMember => {
                let member = bulk::member_id(self.dice.below(self.plan.members()));
                let filter = first_page(ListScope::CarriedBy(member));
                views::list_cases(store, &filter, now).await?.0.len()
            }
            Read::MemberRecord => {
                let member = bulk::member_id(self.dice.below(self.plan.members()));
                views::member_record(
                    store,
                    &member,
                    year,
                    &self.quotas,
                    now,
                    domain::Policy::default().offset,
                )
                .await?;
                1
            }
            Read::Assessment => {
                views::assessment(store, year, &self.quotas, now, domain::Policy::default().offset, None)
                    .await?
                    .members
                    .len()
            }
            Read::Overdue => views::overdue_by_department(store, &OverdueFilter::default(), now)
                .await?
                .iter()
                .map(|department| department.count)
                .sum(),
            Read::CaseHistory => {
                let case = self.plan.case_id(self.dice.below(self.plan.cases));
                self.engine.history(case, &self.auditor).await?.len()
            }
        };
        Ok(rows)
    }
}

async fn time_reads(
    store: &Store,
    settings: &ScaleSettings,
    progress: &MultiProgress,
    out: &mut impl Write,
) -> Result<Vec<ReadTiming>, ScaleError> {
    let mut reader = Reader {
        engine: Engine::new(store.clone(), Policy::default(), Clock::System),
        plan: &settings.plan,
        quotas: Quotas::default(),
        auditor: Principal {
            actor: Actor {
                id: "bench-auditor".to_owned(),
                role: Role::Auditor,
            },
            jurisdiction: None,
            department: None,
        },
        dice: Dice(settings.plan.seed | 1),
    };
    if let Some(unknown) = settings
        .reads
        .iter()
        .find(|name| !READS.iter().any(|read| read.name() == name.as_str()))
    {
        return Err(ScaleError::UnknownRead(unknown.clone()));
    }
    let chosen: Vec<Read> = READS
        .into_iter()
        .filter(|read| settings.reads.is_empty() || settings.reads.iter().any(|name| name == read.name()))
        .collect();
    let bar = progress.add(bar(
        (chosen.len() * settings.samples) as u64,
        "dashboard reads",
        "samples",
    ));
    let mut timings = Vec::new();
    for read in chosen {
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(settings.samples);
        let mut rows = 0;
        while latencies.len() < settings.samples.max(1)
            && (latencies.is_empty() || started.elapsed() < settings.read_budget)
        {
            let sample = Instant::now();
            rows = reader.read(read).await?;
            latencies.push(sample.elapsed().as_secs_f64() * 1_000.0);
            bar.inc(1);
        }
        latencies.sort_by(f64::total_cmp);
        let timing = ReadTiming {
            workload: "scale",
            read: read.name(),
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            samples: latencies.len(),
            rows,
        };
        writeln!(out, "{}", serde_json::to_string(&timing)?)?;
        timings.push(timing);
    }
    bar.finish_and_clear();
    Ok(timings)
}
