//! The hardened edge: what a caller sends reaches the log, the metrics and the store only
//! within bounds; every response carries the security headers; bodies must say they are JSON;
//! the public channel's rate limit believes `X-Forwarded-For` only from a trusted proxy; and
//! connections are limited in number and in how long they may stay quiet.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use service::app::ServiceOptions;
use service::http::serve::ConnectionLimits;
use service::http::TrustedProxies;
use tests::{on_both_backends, problem, suggestion, Backend, TestApp, MEMBER_ID};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

fn public_suggestion() -> Value {
    json!({"title": "路灯不亮", "body": "小区门口的路灯坏了一个月。", "category": "城建", "jurisdiction": "东胜区"})
}

async fn post_public(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(&public_suggestion());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the request is answered")
}

async fn an_unloggable_request_id_is_replaced_before_it_reaches_the_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let huge = "r".repeat(100_000);
    for sent in [huge.as_str(), "has spaces in it", "tab\tinside"] {
        let response = post_public(&app, &[("x-request-id", sent)]).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let answered = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(answered != sent && Uuid::parse_str(&answered).is_ok(), "{answered}");
        let created: Value = response.json().await.unwrap();
        let history = app.history(created["id"].as_str().unwrap()).await;
        let metadata = history[0]["metadata"].to_string();
        assert!(!metadata.contains("rrrrrrrr") && !metadata.contains("has spaces"));
        assert_eq!(history[0]["request_id"], answered.as_str());
    }
    let kept = "trace-0001.abc";
    let response = post_public(&app, &[("x-request-id", kept)]).await;
    assert_eq!(response.headers()["x-request-id"], kept);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        app.history(created["id"].as_str().unwrap()).await[0]["request_id"],
        kept
    );
}

async fn other_ids_that_reach_the_log_are_refused_out_of_bounds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.event_count().await;
    let long = "k".repeat(129);
    for header in ["idempotency-key", "x-correlation-id", "x-causation-id"] {
        for value in [long.as_str(), "two words", "tab\tinside"] {
            let response = post_public(&app, &[(header, value)]).await;
            let body = problem(response, StatusCode::BAD_REQUEST).await;
            assert!(body["header"].is_string(), "{body}");
            let response = app
                .client
                .post(app.url("/api/v1/cases"))
                .bearer_auth(&app.tokens.citizen)
                .header(header, value)
                .json(&suggestion())
                .send()
                .await
                .unwrap();
            problem(response, StatusCode::BAD_REQUEST).await;
        }
    }
    let nines = "9".repeat(100_000);
    let response = post_public(&app, &[("x-client-time", nines.as_str())]).await;
    problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.event_count().await, before, "nothing was written");
    let longest = "k".repeat(128);
    let response = post_public(&app, &[("x-correlation-id", longest.as_str())]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Every route with each of its parameters (path, query or body field) set to hold a NUL.
fn nul_requests(case_id: &str) -> Vec<(Method, String, Option<Value>)> {
    let nul = "a%00b";
    let mut requests = Vec::new();
    let get = |path: String| (Method::GET, path, None);
    for parameter in [
        "kind",
        "status",
        "category",
        "jurisdiction",
        "department",
        "assignee",
        "overdue",
        "q",
        "submitted_from",
        "submitted_to",
        "cursor",
        "limit",
        "min_position",
    ] {
        requests.push(get(format!("/api/v1/cases?{parameter}={nul}")));
    }
    requests.push(get("/api/v1/cases?q=%00".to_owned()));
    requests.push(get("/api/v1/cases?jurisdiction=%00".to_owned()));
    requests.push(get(format!("/api/v1/cases?{nul}=1")));
    for path in [
        "/api/v1/cases/{}",
        "/api/v1/cases/{}/history",
        "/api/v1/cases/{}/state?sequence=1",
    ] {
        requests.push(get(path.replace("{}", nul)));
    }
    for parameter in ["at", "sequence"] {
        requests.push(get(format!("/api/v1/cases/{case_id}/state?{parameter}={nul}")));
    }
    for parameter in ["from", "to", "group_by", "min_position"] {
        requests.push(get(format!("/api/v1/outcomes?{parameter}={nul}")));
    }
    for parameter in ["department", "limit", "cursor", "min_position"] {
        requests.push(get(format!("/api/v1/overdue?{parameter}={nul}")));
    }
    for parameter in ["year", "min_position"] {
        requests.push(get(format!("/api/v1/members/assessment?{parameter}={nul}")));
        requests.push(get(format!("/api/v1/members/{MEMBER_ID}/record?{parameter}={nul}")));
    }
    requests.push(get(format!("/api/v1/members/{nul}/record")));
    for parameter in ["after", "limit"] {
        requests.push(get(format!("/api/v1/audit/events?{parameter}={nul}")));
    }
    requests.push(get(format!("/api/v1/public/suggestions/{nul}?code=x")));
    requests.push(get(format!("/api/v1/public/suggestions/{case_id}?code={nul}")));
    let post = |path: String, body: Value| (Method::POST, path, Some(body));
    let with_nul = |body: Value, field: &str| {
        let mut body = body;
        body[field] = json!("a\u{0}b");
        body
    };
    for field in ["kind", "title", "body", "category", "jurisdiction", "channel"] {
        requests.push(post("/api/v1/cases".to_owned(), with_nul(suggestion(), field)));
    }
    requests.push(post("/api/v1/cases".to_owned(), json!({"ti\u{0}tle": "x"})));
    for field in [
        "title",
        "body",
        "category",
        "jurisdiction",
        "name",
        "phone",
        "kind",
        "channel",
    ] {
        requests.push(post(
            "/api/v1/public/suggestions".to_owned(),
            with_nul(public_suggestion(), field),
        ));
    }
    let assign = json!({"department": "市住建局", "due_at": "2099-01-01T00:00:00Z"});
    for field in ["department", "due_at"] {
        requests.push(post(
            format!("/api/v1/cases/{case_id}/assign"),
            with_nul(assign.clone(), field),
        ));
    }
    requests.push(post(
        format!("/api/v1/cases/{case_id}/consult"),
        json!({"note": "协商", "participants": ["张三", "李\u{0}四"]}),
    ));
    // An action is a route of its own, not a parameter: `/{case_id}/a%00b` is no route (404).
    requests.push(post(format!("/api/v1/cases/{nul}/assign"), assign));
    let contact = json!({"constituent": "王大爷", "channel": "visit", "note": "反映停车难"});
    for field in ["constituent", "channel", "note"] {
        requests.push(post(
            format!("/api/v1/members/{MEMBER_ID}/contacts"),
            with_nul(contact.clone(), field),
        ));
    }
    requests.push(post(format!("/api/v1/members/{nul}/contacts"), contact));
    let rating = json!({"rating": "satisfied", "comment": "好"});
    requests.push(post(
        format!("/api/v1/public/suggestions/{case_id}/feedback?code=x"),
        with_nul(rating.clone(), "comment"),
    ));
    requests.push(post(
        format!("/api/v1/public/suggestions/{case_id}/feedback?code={nul}"),
        rating.clone(),
    ));
    requests.push(post(
        format!("/api/v1/public/suggestions/{nul}/feedback?code=x"),
        rating,
    ));
    requests
}

async fn a_nul_anywhere_is_422_on_either_store_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let case_id = app.submitted(&suggestion()).await;
    let before = app.event_count().await;
    for (method, path, body) in nul_requests(&case_id) {
        let mut request = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&app.tokens.admin);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer = response.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path} {body:?}: {answer}"
        );
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
}

/// The `lianxin_http_requests_total` series, one line each.
async fn request_series(app: &TestApp) -> Vec<String> {
    app.metrics()
        .await
        .lines()
        .filter(|line| line.starts_with("lianxin_http_requests_total{"))
        .map(|line| line.rsplit_once(' ').map_or(line, |(series, _)| series).to_owned())
        .collect()
}

async fn made_up_methods_add_no_metric_series(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let made_up = |index: usize| Method::from_bytes(format!("BREW{index}").as_bytes()).unwrap();
    let send = |index: usize| {
        let path = if index % 2 == 0 {
            "/api/v1/cases".to_owned()
        } else {
            format!("/nowhere/{index}")
        };
        app.client.request(made_up(index), app.url(&path)).send()
    };
    for index in 0..2 {
        send(index).await.unwrap();
    }
    let before = request_series(&app).await;
    for index in 2..302 {
        let response = send(index).await.unwrap();
        assert!(response.status().is_client_error());
    }
    let after = request_series(&app).await;
    let other = |series: &[String]| {
        series
            .iter()
            .filter(|line| line.contains("method=\"other\""))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(other(&before), other(&after));
    assert!(!other(&after).is_empty());
    for line in &after {
        assert!(!line.contains("BREW") && !line.contains("/nowhere/"), "{line}");
        assert!(
            line.contains("route=\"unmatched\"") || line.contains("route=\"/"),
            "{line}"
        );
    }
}

async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let responses = [
        ("page", app.client.get(app.url("/")).send().await.unwrap()),
        ("api", app.get(&app.tokens.staff, "/api/v1/cases").await),
        ("404", app.get(&app.tokens.staff, "/api/v1/nothing-here").await),
        ("401", app.client.get(app.url("/api/v1/cases")).send().await.unwrap()),
        ("metrics", app.client.get(app.url("/metrics")).send().await.unwrap()),
    ];
    for (what, response) in responses {
        let headers = response.headers();
        let header = |name: &str| headers.get(name).map(|value| value.to_str().unwrap().to_owned());
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"), "{what}");
        let policy = header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("default-src 'none'"), "{what}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{what}: {policy}");
        assert!(!policy.contains("unsafe"), "{what}: {policy}");
        if what == "page" {
            assert!(
                policy.contains("script-src 'sha256-") && policy.contains("style-src 'sha256-"),
                "{policy}"
            );
        }
    }
}

async fn a_json_body_must_say_it_is_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let before = app.event_count().await;
    let unlabelled = |path: &str, token: Option<&str>, body: &Value| {
        let mut request = app.client.post(app.url(path)).body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let staff = Some(app.tokens.staff.as_str());
    for response in [
        unlabelled("/api/v1/cases", Some(&app.tokens.citizen), &suggestion()).await,
        unlabelled(
            &format!("/api/v1/cases/{id}/assign"),
            staff,
            &json!({"department": "市住建局"}),
        )
        .await,
        unlabelled("/api/v1/public/suggestions", None, &public_suggestion()).await,
        unlabelled(
            &format!("/api/v1/members/{MEMBER_ID}/contacts"),
            Some(&app.tokens.member),
            &json!({"constituent": "王大爷", "channel": "visit", "note": "反映停车难"}),
        )
        .await,
    ] {
        problem(response.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
    // An empty body says nothing and needs no label: it reads as `{}`.
    let empty = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/assign")))
        .bearer_auth(&app.tokens.staff)
        .send()
        .await
        .unwrap();
    problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn spawn_with_proxies(backend: Backend, proxies: &[&str]) -> TestApp {
    let blocks = proxies.iter().map(|block| block.parse().unwrap()).collect();
    let options = ServiceOptions {
        trusted_proxies: TrustedProxies::new(blocks),
        ..ServiceOptions::default()
    };
    TestApp::spawn_configured(backend, options).await
}

/// Sends the public channel's whole hourly allowance as `forwarded`, then one more.
async fn exhaust_as(app: &TestApp, forwarded: &str) -> StatusCode {
    for _ in 0..20 {
        let response = post_public(app, &[("x-forwarded-for", forwarded)]).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    post_public(app, &[("x-forwarded-for", forwarded)]).await.status()
}

async fn the_rate_limit_believes_forwarded_for_only_from_a_trusted_proxy(backend: Backend) {
    let behind_proxy = spawn_with_proxies(backend, &["127.0.0.0/8"]).await;
    assert_eq!(
        exhaust_as(&behind_proxy, "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let other_client = post_public(&behind_proxy, &[("x-forwarded-for", "198.51.100.1, 127.0.0.2")]).await;
    assert_eq!(
        other_client.status(),
        StatusCode::CREATED,
        "another client behind the proxy"
    );
    let spoofed = post_public(&behind_proxy, &[("x-forwarded-for", "198.51.100.9, 203.0.113.7")]).await;
    assert_eq!(
        spoofed.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a client cannot pick its address by prepending one"
    );

    let direct = spawn_with_proxies(backend, &["10.0.0.0/8"]).await;
    assert_eq!(exhaust_as(&direct, "203.0.113.7").await, StatusCode::TOO_MANY_REQUESTS);
    let claimed = post_public(&direct, &[("x-forwarded-for", "198.51.100.1")]).await;
    assert_eq!(
        claimed.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer is counted by its own address"
    );
}

async fn spawn_with_connections(backend: Backend, connections: ConnectionLimits) -> TestApp {
    let options = ServiceOptions {
        connections,
        ..ServiceOptions::default()
    };
    TestApp::spawn_configured(backend, options).await
}

fn socket_address(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_owned()
}

async fn a_silent_connection_is_closed_once_the_header_time_is_up(backend: Backend) {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ConnectionLimits::default()
    };
    let app = spawn_with_connections(backend, limits).await;
    let mut silent = tokio::net::TcpStream::connect(socket_address(&app)).await.unwrap();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut buffer)).await;
    assert!(closed.is_ok(), "the silent connection was closed");
}

async fn connections_beyond_the_limit_wait_for_a_free_slot(backend: Backend) {
    let limits = ConnectionLimits {
        max_connections: 1,
        ..ConnectionLimits::default()
    };
    let app = spawn_with_connections(backend, limits).await;
    let mut holder = tokio::net::TcpStream::connect(socket_address(&app)).await.unwrap();
    holder.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let waiting = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_millis(700))
        .send()
        .await;
    assert!(waiting.is_err(), "no second connection is served");
    drop(holder);
    let served = reqwest::Client::new().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
}

on_both_backends!(
    an_unloggable_request_id_is_replaced_before_it_reaches_the_log,
    other_ids_that_reach_the_log_are_refused_out_of_bounds,
    a_nul_anywhere_is_422_on_either_store_and_writes_nothing,
    made_up_methods_add_no_metric_series,
    every_response_carries_the_security_headers,
    a_json_body_must_say_it_is_json,
    the_rate_limit_believes_forwarded_for_only_from_a_trusted_proxy,
    a_silent_connection_is_closed_once_the_header_time_is_up,
    connections_beyond_the_limit_wait_for_a_free_slot,
);

/// The embedded store's files (the log, its WAL, token hashes) are its owner's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_is_readable_by_its_owner_alone() {
    use std::os::unix::fs::PermissionsExt;
    let data_dir = tempfile::tempdir().unwrap();
    let nested = data_dir.path().join("lianxin-data");
    let store = service::store::Store::open(None, &nested).await.unwrap();
    store.migrate().await.unwrap();
    let mode = |path: std::path::PathBuf| std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(nested.clone()), 0o700, "the data directory");
    for file in ["lianxin.db", "lianxin.db-wal", "lianxin.db-shm"] {
        let path = nested.join(file);
        assert!(path.exists(), "{file} exists once the store has written");
        assert_eq!(mode(path), 0o600, "{file}");
    }
}
