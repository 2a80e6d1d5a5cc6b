//! The benchmark workloads (`lianxin bench`): `lifecycle` drives suggestions from submission
//! to closed through the engine's real command path (authorization, metadata, hash chain,
//! optimistic concurrency, projections running) or, with `--http`, through a running service;
//! `replay` reads the whole log back in order and rebuilds an outcome summary in memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::{Action, ActionInput, Actor, Policy, Role, Status, Submit};
use hyper::{Method, StatusCode};
use indicatif::ProgressBar;
use projections::{durations, summarize, CaseSummary};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use service::access::tokens::Principal;
use service::read::{Projector, ProjectorError};
use service::store::{Store, StoreError};
use service::write::engine::{Clock, CommandContext, Engine, EngineError};

use crate::load::{LoadError, ServiceConnection};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Projector(#[from] ProjectorError),
    #[error("the service answered {status} to {what}: {body}")]
    Http { what: String, status: u16, body: String },
    #[error(transparent)]
    Unreachable(#[from] LoadError),
    #[error("a worker failed")]
    Worker(#[from] tokio::task::JoinError),
}

/// Where the commands go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Straight into the engine, as the HTTP handlers call it; with the projections applied
    /// alongside, as a service applies them, or without (what they cost).
    Engine { projections: bool },
    /// A running service, over HTTP, with a staff token.
    Http { base_url: String, token: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct LifecycleReport {
    pub system: &'static str,
    pub workload: &'static str,
    pub store: &'static str,
    pub path: &'static str,
    pub cases: usize,
    pub workers: usize,
    pub commands: usize,
    pub seconds: f64,
    pub commands_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Whether the projections were applied while the commands ran.
    pub projections: bool,
    /// Events the slowest projection had still to apply when the last command returned.
    pub projection_lag_at_end: i64,
    /// Seconds from the last command until every projection had caught up.
    pub projection_catch_up_seconds: f64,
    /// The commands over the seconds until every projection had caught up with them: the rate
    /// with the read models' work all counted, none of it left for after the clock.
    pub caught_up_commands_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub system: &'static str,
    pub workload: &'static str,
    pub store: &'static str,
    pub events: u64,
    pub cases: usize,
    pub seconds: f64,
    pub events_per_s: f64,
    pub cases_by_status: HashMap<String, u64>,
    pub cases_by_category: HashMap<String, u64>,
    pub median_days_to_close: Option<f64>,
}

/// Realistic payloads: a title of about 20 characters, a body of about 200, notes of about 100.
const TITLE: &str = "关于小区电动汽车充电桩安装难问题的建议";
const BODY_SENTENCE: &str = "我们小区有三十多户居民购买了电动汽车，物业以电力容量不足为由不同意安装充电桩，居民只能到很远的公共充电站排队充电。";
const NOTE: &str =
    "承办单位与物业公司、供电公司到现场协调，核实小区变压器容量，商定分批增容并统一规划充电车位，群众表示认可。";
const CATEGORIES: [&str; 4] = ["交通", "住房", "教育", "医疗"];
const JURISDICTIONS: [&str; 3] = ["东胜区", "康巴什区", "达拉特旗"];

fn body() -> String {
    BODY_SENTENCE.repeat(3)
}

/// The commands of one case after its submission, with their bodies.
pub fn steps() -> [(Action, Value); 4] {
    [
        (Action::Assign, json!({"department": "市住房和城乡建设局"})),
        (
            Action::Consult,
            json!({"note": NOTE, "participants": ["物业公司", "供电公司"]}),
        ),
        (
            Action::Adopt,
            json!({"by": "市住房和城乡建设局", "extent": "full", "note": NOTE}),
        ),
        (Action::Close, json!({"outcome": "A", "summary": NOTE})),
    ]
}

/// The body of the `index`th case's submission.
pub fn submission(index: usize) -> Value {
    json!({
        "kind": "suggestion",
        "title": TITLE,
        "body": body(),
        "category": CATEGORIES[index % CATEGORIES.len()],
        "jurisdiction": JURISDICTIONS[index % JURISDICTIONS.len()],
    })
}

fn staff() -> Principal {
    Principal {
        actor: Actor {
            id: "bench-staff".to_owned(),
            role: Role::Staff,
        },
        jurisdiction: None,
        department: None,
    }
}

fn context() -> CommandContext {
    CommandContext::new(staff(), Uuid::now_v7().to_string())
}

/// Milliseconds at the nearest-rank percentile `p` of sorted latencies.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How one worker sends its commands.
#[derive(Debug)]
enum Driver {
    Engine(Arc<Engine>),
    /// Boxed: a connection's buffers are far larger than an engine's handle.
    Http(Box<ServiceConnection>),
}

impl Driver {
    async fn open(target: &Target, engine: &Arc<Engine>) -> Result<Driver, BenchError> {
        Ok(match target {
            Target::Engine { .. } => Driver::Engine(Arc::clone(engine)),
            Target::Http { base_url, token } => Driver::Http(Box::new(ServiceConnection::open(base_url, token).await?)),
        })
    }
}

/// Runs one case's five commands; returns each command's latency in milliseconds.
async fn one_case(driver: &mut Driver, index: usize) -> Result<Vec<f64>, BenchError> {
    let mut latencies = Vec::with_capacity(5);
    let started = Instant::now();
    let case_id = match driver {
        Driver::Engine(engine) => {
            let input: Submit =
                serde_json::from_value(submission(index)).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            engine.submit(context(), input).await?.id.to_string()
        }
        Driver::Http(connection) => {
            let created = post(connection, "/api/v1/cases", &submission(index), "submit").await?;
            created["id"].as_str().unwrap_or_default().to_owned()
        }
    };
    latencies.push(started.elapsed().as_secs_f64() * 1_000.0);
    for (action, body) in steps() {
        let started = Instant::now();
        match driver {
            Driver::Engine(engine) => {
                let input =
                    ActionInput::from_json(action, body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let id = Uuid::parse_str(&case_id).map_err(|error| StoreError::Corrupt(error.to_string()))?;
                engine.act(id, context(), input).await?;
            }
            Driver::Http(connection) => {
                let path = format!("/api/v1/cases/{case_id}/{action}");
                post(connection, &path, &body, action.as_str()).await?;
            }
        }
        latencies.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    Ok(latencies)
}

async fn post(connection: &mut ServiceConnection, path: &str, body: &Value, what: &str) -> Result<Value, BenchError> {
    let body = serde_json::to_vec(body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let answer = connection.send(Method::POST, path, Some(body)).await?;
    checked(answer, what)
}

fn checked((status, body): (StatusCode, Bytes), what: &str) -> Result<Value, BenchError> {
    if status.is_success() {
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    } else {
        Err(BenchError::Http {
            what: what.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// The largest lag of any projection, in events.
async fn lag(driver: &mut Driver, projector: &Projector) -> Result<i64, BenchError> {
    match driver {
        Driver::Engine(_) => Ok(projector
            .checkpoints()
            .await?
            .iter()
            .map(|checkpoint| checkpoint.lag)
            .max()
            .unwrap_or(0)),
        Driver::Http(connection) => {
            let answer = connection.send(Method::GET, "/api/v1/projections", None).await?;
            let body = checked(answer, "projections")?;
            Ok(body["projections"]
                .as_array()
                .map(|projections| projections.iter().filter_map(|p| p["lag"].as_i64()).max().unwrap_or(0))
                .unwrap_or(0))
        }
    }
}

pub async fn lifecycle(
    store: Store,
    target: Target,
    cases: usize,
    workers: usize,
    progress: ProgressBar,
) -> Result<LifecycleReport, BenchError> {
    let backend = store.backend();
    let engine = Arc::new(Engine::new(store.clone(), Policy::default(), Clock::System));
    // As in a service: the runners take the engine's appends from memory (no appends here
    // over HTTP, so nothing is kept then).
    let projector = Projector::new(store, domain::Policy::default()).with_recent_appends(engine.follow_appends());
    let workers = workers.max(1);
    // A service applies its projections whatever its clients ask.
    let projections = !matches!(target, Target::Engine { projections: false });
    if matches!(target, Target::Engine { .. }) {
        // As a service is ready before it is measured, and as pgbench leaves its connections'
        // start out of its rate: the runners past their start-up, the command path's
        // connections open. Another process holding the leases would keep the runners waiting.
        if projections {
            projector.spawn(engine.appended());
            let _ = tokio::time::timeout(Duration::from_secs(10), projector.running()).await;
        }
        engine.open_connections(workers).await?;
    }
    // Connected before the clock starts.
    let mut drivers = Vec::with_capacity(workers);
    for _ in 0..workers {
        drivers.push(Driver::open(&target, &engine).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (worker, mut driver) in drivers.into_iter().enumerate() {
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for index in (worker..cases).step_by(workers) {
                latencies.extend(one_case(&mut driver, index).await?);
                progress.inc(5);
            }
            Ok::<_, BenchError>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(cases * 5);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    // A connection of its own: the service closes one idle for a minute, as this would be.
    let mut lag_driver = Driver::open(&target, &engine).await?;
    let lag_at_end = lag(&mut lag_driver, &projector).await?;
    let catching_up = Instant::now();
    while projections && lag(&mut lag_driver, &projector).await? > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let catch_up = catching_up.elapsed().as_secs_f64();
    progress.finish_and_clear();
    latencies.sort_by(f64::total_cmp);
    let commands = latencies.len();
    Ok(LifecycleReport {
        system: "lianxin",
        workload: "lifecycle",
        store: backend,
        path: match target {
            Target::Engine { .. } => "engine",
            Target::Http { .. } => "http",
        },
        cases,
        workers,
        commands,
        seconds,
        commands_per_s: commands as f64 / seconds.max(f64::EPSILON),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        projections,
        projection_lag_at_end: lag_at_end,
        projection_catch_up_seconds: catch_up,
        caught_up_commands_per_s: commands as f64 / (seconds + catch_up).max(f64::EPSILON),
    })
}

/// Reads every event in global order and rebuilds the outcome summary in memory.
pub async fn replay(store: &Store, progress: ProgressBar) -> Result<ReplayReport, BenchError> {
    const PAGE: i64 = 5_000;
    let started = Instant::now();
    let mut cases: HashMap<String, CaseSummary> = HashMap::new();
    let mut events = 0u64;
    let mut after = 0;
    loop {
        let page = store.facts_after(after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.position;
        events += page.len() as u64;
        progress.inc(page.len() as u64);
        for fact in page {
            let before = cases.remove(&fact.stream);
            let stream = fact.stream.clone();
            if let Some(after) = summarize(before, fact) {
                cases.insert(stream, after);
            }
        }
    }
    let mut cases_by_status: HashMap<String, u64> = HashMap::new();
    let mut cases_by_category: HashMap<String, u64> = HashMap::new();
    let mut to_close = Vec::new();
    for case in cases.values() {
        *cases_by_status.entry(case.status.as_str().to_owned()).or_default() += 1;
        *cases_by_category.entry(case.category.clone()).or_default() += 1;
        if let (Status::Closed, Some(closed_at)) = (case.status, case.closed_at) {
            to_close.push((closed_at - case.submitted_at).num_seconds() as f64 / 86_400.0);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    Ok(ReplayReport {
        system: "lianxin",
        workload: "replay",
        store: store.backend(),
        events,
        cases: cases.len(),
        seconds,
        events_per_s: events as f64 / seconds.max(f64::EPSILON),
        cases_by_status,
        cases_by_category,
        median_days_to_close: durations(to_close).median,
    })
}
