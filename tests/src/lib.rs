//! The test harness: a real service on its own port over its own store (a fresh SQLite
//! directory or a fresh PostgreSQL database per test), with typed helpers to drive it.
//!
//! PostgreSQL is reached through `LIANXIN_TEST_DATABASE_URL` (default: the local server as
//! `postgres`); a test that cannot reach it fails rather than skips. Logs stay quiet unless
//! `TEST_LOG` is set.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use domain::{Action, ActionInput, Actor, Role, Timestamp};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use service::access::tokens::{self, NewToken, Principal};
use service::app::{Application, ServiceOptions};
use service::store::Store;
use service::telemetry::{self, LogFormat};
use service::write::engine::{Clock, CommandContext, Engine};
use sqlx::Connection;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Rows of a query binding nothing, on either backend.
pub async fn fetched<T>(store: &Store, query: &str) -> Vec<T>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    match store {
        Store::Postgres(pool) => sqlx::query_as(query).fetch_all(pool).await.unwrap(),
        Store::Sqlite(pool) => sqlx::query_as(query).fetch_all(pool).await.unwrap(),
    }
}

/// Runs each named `async fn(Backend)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::Backend::Sqlite).await
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::Backend::Postgres).await
            })+
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A transaction left running on the PostgreSQL database at `url`, with an id (as its first
/// write would give it): until it ends (`COMMIT` on the connection, or dropping it) it holds
/// back the readers of that database's log.
pub async fn running_transaction(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url).await.expect("PostgreSQL");
    sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut connection)
        .await
        .unwrap();
    connection
}

/// Where test databases are created; each test gets its own, named `lianxin_test_…`.
pub fn admin_url() -> String {
    std::env::var("LIANXIN_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// A store of its own for one test; the SQLite directory is removed when it drops.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    pub database_url: Option<String>,
    pub data_dir: tempfile::TempDir,
}

impl TestStore {
    pub async fn new(backend: Backend) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            telemetry::init(LogFormat::Text);
        }
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(create_database().await),
        };
        let store = Store::open(database_url.as_deref(), data_dir.path())
            .await
            .expect("the test store opens");
        store.migrate().await.expect("migrations apply");
        TestStore {
            store,
            database_url,
            data_dir,
        }
    }
}

async fn create_database() -> String {
    let admin = admin_url();
    let name = format!("lianxin_test_{}", Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|error| panic!("PostgreSQL must be reachable at {admin}: {error}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("a test database is created");
    let (base, _) = admin.rsplit_once('/').expect("the admin URL names a database");
    format!("{base}/{name}")
}

/// Bearer secrets of one token per role the tests act as.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub staff: String,
    pub citizen: String,
    pub other_citizen: String,
    pub member: String,
    pub auditor: String,
    pub admin: String,
    /// Staff of one banner ([`BANNER`]), not the city.
    pub banner_staff: String,
}

/// The member id behind [`Tokens::member`].
pub const MEMBER_ID: &str = "m-0001";

/// The jurisdiction of [`Tokens::banner_staff`]; [`suggestion`] is in another.
pub const BANNER: &str = "康巴什区";

async fn issue(store: &Store, name: &str, role: Role, member_id: Option<&str>, jurisdiction: Option<&str>) -> String {
    let token = NewToken {
        member_id: member_id.map(str::to_owned),
        jurisdiction: jurisdiction.map(str::to_owned),
        ..new_token(name, role)
    };
    tokens::create(store, &token).await.expect("a token is created").secret
}

/// A token of `role` named `name`, without scope, subject or expiry, for a test to adjust.
pub fn new_token(name: &str, role: Role) -> NewToken {
    NewToken {
        name: name.to_owned(),
        role,
        member_id: None,
        department_id: None,
        jurisdiction: None,
        subject: None,
        expires_at: None,
    }
}

/// Starts the service on a free port; it runs until the returned sender fires or drops.
async fn serve(store: Store, options: ServiceOptions) -> (String, oneshot::Sender<()>) {
    serve_reading_from(store, None, options).await
}

async fn serve_reading_from(
    store: Store,
    standby: Option<Store>,
    options: ServiceOptions,
) -> (String, oneshot::Sender<()>) {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let mut application = Application::build(store, options, listen)
        .await
        .expect("the service starts");
    if let Some(standby) = standby {
        application = application.with_read_standby(standby);
    }
    let address = application.local_addr().expect("a bound port");
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    (format!("http://{address}"), stop)
}

/// A second service process over a [`TestApp`]'s store; stops when dropped.
#[derive(Debug)]
pub struct Sibling {
    pub base_url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A running service on its own port over its own store.
#[derive(Debug)]
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub tokens: Tokens,
    pub test_store: TestStore,
    pub options: ServiceOptions,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestApp {
    /// A service on the system clock.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Clock::System).await
    }

    /// A service whose clock stands at `start` until [`TestApp::set_time`] moves it.
    pub async fn spawn_at(backend: Backend, start: Timestamp) -> Self {
        Self::spawn_with(backend, Clock::Fixed(Arc::new(Mutex::new(start)))).await
    }

    /// A token made to measure (see [`new_token`]); its secret.
    pub async fn issue(&self, token: &NewToken) -> String {
        tokens::create(&self.test_store.store, token)
            .await
            .expect("a token is created")
            .secret
    }

    /// The subject a token acts as: the actor id its commands are recorded under.
    pub async fn subject(&self, token: &str) -> String {
        tokens::authenticate(&self.test_store.store, token)
            .await
            .expect("the store answers")
            .expect("a valid token")
            .actor
            .id
    }

    /// Waits until every projection has applied the whole log.
    pub async fn settled(&self) {
        for _ in 0..400 {
            let body: Value = self
                .get(&self.tokens.auditor, "/api/v1/projections")
                .await
                .json()
                .await
                .expect("JSON");
            let projections = body["projections"].as_array().expect("a list of projections");
            if projections.iter().all(|projection| projection["lag"] == 0) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the projections did not catch up");
    }

    /// The secret of a new department token for `unit`: its subject is the unit's id.
    pub async fn unit_token(&self, unit: &str) -> String {
        let token = NewToken {
            name: format!("{unit} 办公室"),
            role: Role::Department,
            member_id: None,
            department_id: Some(unit.to_owned()),
            jurisdiction: None,
            subject: None,
            expires_at: None,
        };
        tokens::create(&self.test_store.store, &token)
            .await
            .expect("a department token is created")
            .secret
    }

    /// Moves a fixed clock (see [`TestApp::spawn_at`]).
    pub fn set_time(&self, time: Timestamp) {
        if let Clock::Fixed(clock) = &self.options.clock {
            *clock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = time;
        }
    }

    async fn spawn_with(backend: Backend, clock: Clock) -> Self {
        Self::spawn_configured(
            backend,
            ServiceOptions {
                clock,
                ..ServiceOptions::default()
            },
        )
        .await
    }

    /// A service with the given options (edge settings, quotas, clock).
    pub async fn spawn_configured(backend: Backend, options: ServiceOptions) -> Self {
        let test_store = TestStore::new(backend).await;
        let store = &test_store.store;
        let tokens = Tokens {
            staff: issue(store, "staff-wang", Role::Staff, None, None).await,
            citizen: issue(store, "citizen-zhang", Role::Citizen, None, None).await,
            other_citizen: issue(store, "citizen-li", Role::Citizen, None, None).await,
            member: issue(store, "member-zhao", Role::Member, Some(MEMBER_ID), None).await,
            auditor: issue(store, "auditor-liu", Role::Auditor, None, None).await,
            admin: issue(store, "admin-sun", Role::Admin, None, None).await,
            banner_staff: issue(store, "staff-kang", Role::Staff, None, Some(BANNER)).await,
        };
        let (base_url, stop) = serve(store.clone(), options.clone()).await;
        TestApp {
            base_url,
            client: reqwest::Client::new(),
            tokens,
            test_store,
            options,
            stop: Some(stop),
        }
    }

    /// Stops the service and starts a new one on a new port over the same store, through a
    /// freshly opened pool: what survives is what the store kept.
    pub async fn restart(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let store = Store::open(self.test_store.database_url.as_deref(), self.test_store.data_dir.path())
            .await
            .expect("the store reopens");
        let (base_url, stop) = serve(store, self.options.clone()).await;
        self.base_url = base_url;
        self.stop = Some(stop);
    }

    /// Another service process on the same store, with its own pool, engine and projectors,
    /// as a second server on one PostgreSQL database would be.
    pub async fn sibling(&self) -> Sibling {
        let store = Store::open(self.test_store.database_url.as_deref(), self.test_store.data_dir.path())
            .await
            .expect("the store opens again");
        let (base_url, stop) = serve(store, self.options.clone()).await;
        Sibling {
            base_url,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.post_to(&self.base_url, token, path, body).await
    }

    /// [`TestApp::post`] to the service at `base_url` (a [`Sibling`]'s, say).
    pub async fn post_to(&self, base_url: &str, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{base_url}{path}"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the request is answered")
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.get_from(&self.base_url, token, path).await
    }

    /// [`TestApp::get`] from the service at `base_url` (a [`Sibling`]'s, say).
    pub async fn get_from(&self, base_url: &str, token: &str, path: &str) -> Response {
        self.client
            .get(format!("{base_url}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is answered")
    }

    /// The Prometheus text `/metrics` answers (no token needed).
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await;
        response.expect("the request is answered").text().await.expect("text")
    }

    pub async fn submit(&self, token: &str, body: &Value) -> Response {
        self.post(token, "/api/v1/cases", body).await
    }

    pub async fn act(&self, token: &str, case_id: &str, action: &str, body: &Value) -> Response {
        self.post(token, &format!("/api/v1/cases/{case_id}/{action}"), body)
            .await
    }

    /// Submits as the citizen and returns the new case's id.
    pub async fn submitted(&self, body: &Value) -> String {
        self.submitted_by(&self.tokens.citizen, body).await
    }

    /// Submits with `token` and returns the new case's id.
    pub async fn submitted_by(&self, token: &str, body: &Value) -> String {
        let response = self.submit(token, body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("JSON");
        created["id"].as_str().expect("an id").to_owned()
    }

    /// Runs an action as staff that must succeed; returns the response body.
    pub async fn staff_does(&self, case_id: &str, action: &str, body: &Value) -> Value {
        let response = self.act(&self.tokens.staff, case_id, action, body).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{action} failed: {body}");
        body
    }

    pub async fn case(&self, case_id: &str) -> Value {
        let response = self.get(&self.tokens.staff, &format!("/api/v1/cases/{case_id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("JSON")
    }

    /// How many events the store holds, of every stream, committed or not yet in the log's
    /// order.
    pub async fn event_count(&self) -> u64 {
        self.test_store
            .store
            .count_events()
            .await
            .expect("the store counts its events")
    }

    pub async fn history(&self, case_id: &str) -> Vec<Value> {
        let response = self
            .get(&self.tokens.auditor, &format!("/api/v1/cases/{case_id}/history"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let history: Value = response.json().await.expect("JSON");
        history["events"].as_array().expect("a list of events").clone()
    }
}

/// A command's context for an engine driven directly, as `id` in `role` with no scope.
pub fn command_context(id: &str, role: Role) -> CommandContext {
    let principal = Principal {
        actor: Actor {
            id: id.to_owned(),
            role,
        },
        jurisdiction: None,
        department: None,
    };
    CommandContext::new(principal, "test")
}

/// Submits [`suggestion`] through `engine` as `id` in `role`; returns the new case's id.
pub async fn suggestion_through(engine: &Engine, id: &str, role: Role) -> Uuid {
    let input = serde_json::from_value(suggestion()).expect("a valid submission");
    engine
        .submit(command_context(id, role), input)
        .await
        .expect("the submission is accepted")
        .id
}

/// Runs `steps` on a case through `engine`, as staff.
pub async fn staff_acts_on(engine: &Engine, case: Uuid, steps: impl IntoIterator<Item = (Action, Value)>) {
    for (action, body) in steps {
        let input = ActionInput::from_json(action, body).expect("a valid body");
        engine
            .act(case, command_context("s-1", Role::Staff), input)
            .await
            .expect("the command is accepted");
    }
}

/// A realistic suggestion body.
pub fn suggestion() -> Value {
    serde_json::json!({
        "kind": "suggestion",
        "title": "小区充电桩安装难",
        "body": "我们小区有三十多户居民购买了电动汽车，但物业以电力容量不足为由不同意安装充电桩，希望有关部门协调解决。",
        "category": "交通",
        "jurisdiction": "东胜区",
    })
}

/// Reads a response as a problem document, checking its status and content type.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}

/// A service over a store the test opened itself (on a [`TestCluster`], say), on a free port
/// with the default options; stops when dropped.
pub async fn serve_store(store: Store) -> Sibling {
    let (base_url, stop) = serve(store, ServiceOptions::default()).await;
    Sibling {
        base_url,
        stop: Some(stop),
    }
}

/// As [`serve_store`], with the reads that tolerate lag sent to `standby`.
pub async fn serve_store_reading_from(store: Store, standby: Store) -> Sibling {
    let (base_url, stop) = serve_reading_from(store, Some(standby), ServiceOptions::default()).await;
    Sibling {
        base_url,
        stop: Some(stop),
    }
}

/// Private PostgreSQL servers started by `scripts/cluster` in a temporary directory, on free
/// ports: a primary, and a hot standby streaming from it unless made `single`. Destroyed
/// (servers stopped or killed, files removed) when dropped.
#[derive(Debug)]
pub struct TestCluster {
    /// Kept for its removal on drop; the servers' files are under it.
    _home: tempfile::TempDir,
    options: Vec<String>,
    pub port: u16,
    pub standby_port: u16,
}

const CLUSTER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/cluster");

/// How a [`TestCluster`] is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One server, no standby.
    Single,
    /// A primary and a standby; synchronous when `true`.
    Replicated { synchronous: bool },
}

impl TestCluster {
    pub fn start(topology: Topology) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().expect("a temporary directory");
        // The servers run as the `postgres` user when the tests run as root: it must reach
        // its directory inside this one.
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755))
            .expect("the directory is opened to the server's user");
        let (port, standby_port) = (free_port(), free_port());
        let mut options = vec![
            "--dir".to_owned(),
            home.path().join("cluster").display().to_string(),
            "--port".to_owned(),
            port.to_string(),
            "--standby-port".to_owned(),
            standby_port.to_string(),
        ];
        match topology {
            Topology::Single => options.push("--no-standby".to_owned()),
            Topology::Replicated { synchronous: true } => options.push("--sync".to_owned()),
            Topology::Replicated { synchronous: false } => {}
        }
        let cluster = TestCluster {
            _home: home,
            options,
            port,
            standby_port,
        };
        cluster.run("start");
        cluster
    }

    /// Runs `scripts/cluster COMMAND` on this cluster (`kill-primary`, `promote`,
    /// `restart-primary`, `stop-standby`, …), failing the test if it fails.
    pub fn run(&self, command: &str) {
        let status = std::process::Command::new(CLUSTER_SCRIPT)
            .arg(command)
            .args(&self.options)
            .status()
            .expect("scripts/cluster runs");
        assert!(status.success(), "scripts/cluster {command} failed");
    }

    pub fn primary_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn standby_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.standby_port)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(CLUSTER_SCRIPT)
            .arg("destroy")
            .args(&self.options)
            .status();
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
