//! Beyond one server, on PostgreSQL only, each test on private servers of its own
//! ([`TestCluster`]) or its own database: a restart of the server under load, the failover
//! from a killed primary to its promoted standby under load, reads from a standby that has
//! replayed a write, the service's reads routed to a standby (and back to the primary when the
//! standby lags or stops), and three service processes on one database.
//!
//! The load is the benchmark's lifecycle over HTTP from eight writers, each retrying a command
//! answered 503 with the same `Idempotency-Key` until it is acknowledged, so that a command
//! whose answer was lost in the outage is neither lost nor applied twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::Role;
use lianxin::bench::{steps, submission};
use reqwest::StatusCode;
use serde_json::Value;
use service::access::tokens;
use service::read::{names, Projector};
use service::store::Store;
use tests::{new_token, serve_store, serve_store_reading_from, TestCluster, TestStore, Topology};
use uuid::Uuid;

const WRITERS: usize = 8;
/// Acknowledged commands after the outage that show the service serves again.
const SERVED_AFTER: usize = 40;
/// The longest any phase of a drill may take.
const PATIENCE: Duration = Duration::from_secs(90);

/// Every answer of a load, in order of arrival.
type Answers = Arc<Mutex<Vec<(Instant, StatusCode)>>>;

/// Eight writers driving cases through their lifecycle against the given services.
struct Load {
    answers: Answers,
    stop: Arc<AtomicBool>,
    writers: Vec<tokio::task::JoinHandle<Vec<(String, usize)>>>,
}

impl Load {
    /// Starts the writers; each sends its `n`th command to `services[(writer + n) % len]` and
    /// stops after `cases_each` cases, or when told to.
    fn start(services: Vec<String>, token: String, cases_each: usize) -> Self {
        let answers = Answers::default();
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(40))
            .build()
            .expect("an HTTP client");
        let writers = (0..WRITERS)
            .map(|index| {
                let writer = Writer {
                    client: client.clone(),
                    services: services.clone(),
                    token: token.clone(),
                    answers: Arc::clone(&answers),
                    stop: Arc::clone(&stop),
                    sent: index,
                };
                tokio::spawn(writer.run(writer_cases(index, cases_each)))
            })
            .collect();
        Load { answers, stop, writers }
    }

    /// Acknowledged commands answered after `since`.
    fn acknowledged_since(&self, since: Instant) -> usize {
        let answers = self.answers.lock().expect("the answers");
        answers
            .iter()
            .filter(|(at, status)| *at > since && status.is_success())
            .count()
    }

    /// Waits until `count` commands answered after `since` were acknowledged.
    async fn until_acknowledged_since(&self, since: Instant, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.acknowledged_since(since) < count {
            assert!(Instant::now() < deadline, "the service does not serve again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the writers; what they saw.
    async fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        self.finish_after_all().await
    }

    /// Waits until every writer has driven all its cases; what they saw.
    async fn finish_after_all(self) -> Outcome {
        let mut acknowledged = HashMap::new();
        for writer in self.writers {
            acknowledged.extend(writer.await.expect("a writer ends"));
        }
        let answers = std::mem::take(&mut *self.answers.lock().expect("the answers"));
        Outcome { acknowledged, answers }
    }
}

/// The indexes of the cases one writer submits: its own, so that no two writers share a case.
fn writer_cases(writer: usize, cases_each: usize) -> impl Iterator<Item = usize> + Send {
    (0..cases_each).map(move |case| case * WRITERS + writer)
}

struct Writer {
    client: reqwest::Client,
    services: Vec<String>,
    token: String,
    answers: Answers,
    stop: Arc<AtomicBool>,
    sent: usize,
}

impl Writer {
    /// Each case's id and the number of its commands acknowledged.
    async fn run(mut self, cases: impl Iterator<Item = usize>) -> Vec<(String, usize)> {
        let mut acknowledged = Vec::new();
        for index in cases {
            let Some(created) = self.command("/api/v1/cases".to_owned(), &submission(index)).await else {
                break;
            };
            let id = created["id"].as_str().expect("a case id").to_owned();
            acknowledged.push((id.clone(), 1));
            for (action, body) in steps() {
                if self
                    .command(format!("/api/v1/cases/{id}/{action}"), &body)
                    .await
                    .is_none()
                {
                    return acknowledged;
                }
                if let Some((_, count)) = acknowledged.last_mut() {
                    *count += 1;
                }
            }
        }
        acknowledged
    }

    /// Sends one command until it is acknowledged (its body), or the load stops (`None`).
    /// Anything but success or 503 fails the test.
    async fn command(&mut self, path: String, body: &Value) -> Option<Value> {
        let key = Uuid::new_v4().to_string();
        while !self.stop.load(Ordering::Relaxed) {
            let service = &self.services[self.sent % self.services.len()];
            self.sent += 1;
            let response = self
                .client
                .post(format!("{service}{path}"))
                .bearer_auth(&self.token)
                .header("Idempotency-Key", &key)
                .json(body)
                .send()
                .await
                .expect("the service answers");
            let status = response.status();
            self.answers.lock().expect("the answers").push((Instant::now(), status));
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                return Some(serde_json::from_str(&text).expect("a JSON answer"));
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {text}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

struct Outcome {
    /// Each case's acknowledged commands.
    acknowledged: HashMap<String, usize>,
    answers: Vec<(Instant, StatusCode)>,
}

impl Outcome {
    fn commands(&self) -> usize {
        self.acknowledged.values().sum()
    }

    fn unavailable(&self) -> usize {
        self.answers.iter().filter(|(_, status)| !status.is_success()).count()
    }

    /// The longest time between two acknowledged commands.
    fn longest_gap(&self) -> Duration {
        let acknowledged: Vec<Instant> = self
            .answers
            .iter()
            .filter(|(_, status)| status.is_success())
            .map(|(at, _)| *at)
            .collect();
        acknowledged
            .windows(2)
            .map(|pair| pair[1].duration_since(pair[0]))
            .max()
            .unwrap_or_default()
    }

    /// Every acknowledged command is in `store`'s log: each case has at least its acknowledged
    /// events, and at most one more (a command in doubt when the load stopped).
    async fn assert_in_log(&self, store: &Store) {
        for (case, acknowledged) in &self.acknowledged {
            let events = store.stream_events(case).await.expect("the log answers");
            assert!(
                (*acknowledged..=acknowledged + 1).contains(&events.len()),
                "case {case}: {acknowledged} commands acknowledged, {} events in the log",
                events.len()
            );
        }
    }
}

/// A staff token on `store`'s database.
async fn staff_token(store: &Store) -> String {
    tokens::create(store, &new_token("staff-drill", Role::Staff))
        .await
        .expect("a token is created")
        .secret
}

/// Opens and migrates the store at `urls`.
async fn opened(urls: &str, data_dir: &std::path::Path) -> Store {
    let store = Store::open(Some(urls), data_dir).await.expect("the store opens");
    store.migrate().await.expect("migrations apply");
    store
}

/// Runs `scripts/cluster COMMAND` off the runtime's threads, which the load needs.
async fn cluster_does(cluster: &Arc<TestCluster>, command: &'static str) {
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || cluster.run(command))
        .await
        .expect("scripts/cluster ends");
}

/// Every projection has applied the whole log, then equals a rebuild from zero.
async fn assert_projections_equal_a_rebuild(store: &Store) {
    let projector = Projector::new(store.clone(), domain::Policy::default());
    let deadline = Instant::now() + PATIENCE;
    while projector
        .checkpoints()
        .await
        .expect("the checkpoints")
        .iter()
        .any(|checkpoint| checkpoint.lag > 0)
    {
        assert!(Instant::now() < deadline, "the projections do not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let live = projector.dump().await.expect("the views");
    projector.rebuild(&names(), |_| {}).await.expect("a rebuild");
    assert_eq!(projector.dump().await.expect("the views"), live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_the_server_under_load_loses_no_acknowledged_command_and_answers_only_503() {
    let cluster = Arc::new(TestCluster::start(Topology::Single));
    let data_dir = tempfile::tempdir().expect("a directory");
    let store = opened(&cluster.primary_url(), data_dir.path()).await;
    let service = serve_store(store.clone()).await;
    let load = Load::start(vec![service.base_url.clone()], staff_token(&store).await, usize::MAX);
    load.until_acknowledged_since(Instant::now(), SERVED_AFTER).await;

    cluster_does(&cluster, "restart-primary").await;
    let restarted = Instant::now();
    load.until_acknowledged_since(restarted, SERVED_AFTER).await;
    let outcome = load.finish().await;

    outcome.assert_in_log(&store).await;
    eprintln!(
        "restart drill: {} commands acknowledged, {} answered 503, longest gap {:.2} s",
        outcome.commands(),
        outcome.unavailable(),
        outcome.longest_gap().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_primary_is_killed_and_its_standby_promoted_the_service_carries_on_without_loss() {
    let cluster = Arc::new(TestCluster::start(Topology::Replicated { synchronous: true }));
    let data_dir = tempfile::tempdir().expect("a directory");
    let both = format!("{},{}", cluster.primary_url(), cluster.standby_url());
    let store = opened(&both, data_dir.path()).await;
    let service = serve_store(store.clone()).await;
    let load = Load::start(vec![service.base_url.clone()], staff_token(&store).await, usize::MAX);
    load.until_acknowledged_since(Instant::now(), SERVED_AFTER).await;

    let killed = Instant::now();
    cluster_does(&cluster, "kill-primary").await;
    // Long enough for the service to find no primary at all.
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster_does(&cluster, "promote").await;
    let promoted = Instant::now();
    load.until_acknowledged_since(promoted, SERVED_AFTER).await;
    let outcome = load.finish().await;

    let new_primary = Store::open(Some(&cluster.standby_url()), data_dir.path())
        .await
        .expect("the promoted standby opens");
    outcome.assert_in_log(&new_primary).await;
    let verified = service::audit::verify(&new_primary, |_| {})
        .await
        .expect("the log reads");
    assert!(verified.broken.is_empty(), "{:?}", verified.broken);
    assert_projections_equal_a_rebuild(&store).await;
    eprintln!(
        "failover drill: {} commands acknowledged, 0 lost, {} answered 503, longest gap {:.2} s \
         (primary killed, standby promoted {:.2} s later)",
        outcome.commands(),
        outcome.unavailable(),
        outcome.longest_gap().as_secs_f64(),
        promoted.duration_since(killed).as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_from_the_standby_after_it_caught_up_sees_the_write_on_the_primary() {
    let cluster = TestCluster::start(Topology::Replicated { synchronous: false });
    let data_dir = tempfile::tempdir().expect("a directory");
    let store = opened(&cluster.primary_url(), data_dir.path()).await;
    let replica = Store::open_replica(&cluster.standby_url()).expect("the standby opens");
    let service = serve_store(store.clone()).await;
    let load = Load::start(vec![service.base_url.clone()], staff_token(&store).await, 1);
    let outcome = load.finish_after_all().await;
    assert!(
        replica
            .caught_up_with(&store, Duration::from_secs(10))
            .await
            .expect("the standby answers"),
        "the standby replays within 10 s"
    );
    outcome.assert_in_log(&replica).await;
    assert_eq!(outcome.commands(), WRITERS * 5);
    assert!(
        store
            .caught_up_with(&store, Duration::ZERO)
            .await
            .expect("the primary answers"),
        "a primary has all it wrote"
    );
}

/// A client of one service: submits cases and lists them.
struct Reader {
    client: reqwest::Client,
    service: String,
    token: String,
}

impl Reader {
    /// Submits a case; its id and the position it was written at.
    async fn submit(&self, index: usize) -> (String, i64) {
        let response = self
            .client
            .post(format!("{}/api/v1/cases", self.service))
            .bearer_auth(&self.token)
            .json(&submission(index))
            .send()
            .await
            .expect("the service answers");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON");
        let id = body["id"].as_str().expect("an id").to_owned();
        (id, body["position"].as_i64().expect("a position"))
    }

    /// The ids of the case list's first page, read as of `min_position` when given.
    async fn listed(&self, min_position: Option<i64>) -> Vec<String> {
        let query = min_position.map_or(String::new(), |position| format!("&min_position={position}"));
        let response = self
            .client
            .get(format!("{}/api/v1/cases?limit=200{query}", self.service))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the service answers");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON");
        body["cases"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|case| case["id"].as_str().expect("an id").to_owned())
            .collect()
    }
}

/// Runs one statement on the standby as its superuser (replay control).
async fn on_standby(cluster: &TestCluster, sql: &str) {
    let pool = sqlx::PgPool::connect(&cluster.standby_url())
        .await
        .expect("the standby answers");
    sqlx::query(sql).execute(&pool).await.expect("the standby runs it");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_standby_wait_for_it_with_min_position_and_fall_back_to_the_primary() {
    let cluster = TestCluster::start(Topology::Replicated { synchronous: false });
    let data_dir = tempfile::tempdir().expect("a directory");
    let store = opened(&cluster.primary_url(), data_dir.path()).await;
    let standby = Store::open_replica(&cluster.standby_url()).expect("the standby opens");
    let service = serve_store_reading_from(store.clone(), standby.clone()).await;
    let reader = Reader {
        client: reqwest::Client::new(),
        service: service.base_url.clone(),
        token: staff_token(&store).await,
    };

    // Read your writes on a standby that replays as it should.
    let (first, position) = reader.submit(0).await;
    assert!(reader.listed(Some(position)).await.contains(&first));

    // A standby that stopped replaying: lists without `min_position` come from it, so they
    // miss a case the primary's views already hold; with `min_position`, from the primary.
    on_standby(&cluster, "SELECT pg_wal_replay_pause()").await;
    let (second, position) = reader.submit(1).await;
    let fresh = reader.listed(Some(position)).await;
    assert!(fresh.contains(&first) && fresh.contains(&second), "{fresh:?}");
    let lagging = reader.listed(None).await;
    assert!(lagging.contains(&first), "{lagging:?}");
    assert!(
        !lagging.contains(&second),
        "a list without min_position is the standby's"
    );
    on_standby(&cluster, "SELECT pg_wal_replay_resume()").await;
    assert!(
        standby
            .caught_up_with(&store, Duration::from_secs(10))
            .await
            .expect("the standby answers"),
        "the standby replays again"
    );
    assert!(reader.listed(None).await.contains(&second));

    // The standby stopped: every read is the primary's, within the second a connection to the
    // standby is waited for.
    let (third, position) = reader.submit(2).await;
    assert!(reader.listed(Some(position)).await.contains(&third));
    cluster.run("stop-standby");
    let started = Instant::now();
    assert!(reader.listed(None).await.contains(&third));
    let (fourth, position) = reader.submit(3).await;
    assert!(reader.listed(Some(position)).await.contains(&fourth));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_service_processes_on_one_database_apply_every_command_once() {
    const CASES_EACH: usize = 8;
    let test = TestStore::new(tests::Backend::Postgres).await;
    let url = test.database_url.clone().expect("a PostgreSQL database");
    let mut services = Vec::new();
    for _ in 0..3 {
        services.push(serve_store(opened(&url, test.data_dir.path()).await).await);
    }
    let started = Instant::now();
    let load = Load::start(
        services.iter().map(|service| service.base_url.clone()).collect(),
        staff_token(&test.store).await,
        CASES_EACH,
    );
    let outcome = load.finish_after_all().await;
    let seconds = started.elapsed().as_secs_f64();

    assert_eq!(outcome.acknowledged.len(), WRITERS * CASES_EACH);
    assert_eq!(outcome.commands(), WRITERS * CASES_EACH * 5);
    assert_eq!(
        test.store.count_events().await.expect("the log answers"),
        outcome.commands() as u64,
        "every command applied once"
    );
    outcome.assert_in_log(&test.store).await;
    assert_projections_equal_a_rebuild(&test.store).await;
    eprintln!(
        "three processes: {} commands in {seconds:.2} s, {:.0} commands/s",
        outcome.commands(),
        outcome.commands() as f64 / seconds
    );
}
