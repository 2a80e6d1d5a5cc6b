//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against a service with a seeded year. It checks what a leader would look at and saves
//! screenshots under `target/` for people to look at.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Datelike;
use fantoccini::{ClientBuilder, Locator};
use indicatif::ProgressBar;
use lianxin::demo;
use serde_json::{json, Value};
use tests::{Backend, TestApp};

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let process = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/test installs it)");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { process, url }
}

/// The percentage as the page writes it.
fn percent(rate: &Value) -> String {
    rate.as_f64()
        .map_or_else(|| "—".to_owned(), |rate| format!("{:.1}%", rate * 100.0))
}

fn screenshot_path(name: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_outcome_figures_and_a_case_timeline_in_a_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let year = chrono::Utc::now().year();
    let plan = demo::DemoPlan {
        cases: 60,
        until: chrono::Utc::now(),
        seed: 11,
    };
    demo::seed(app.test_store.store.clone(), &plan, ProgressBar::hidden())
        .await
        .unwrap();
    let from = format!("{year}-01-01");
    let to = format!("{}-01-01", year + 1);
    let mut outcomes = Value::Null;
    for _ in 0..200 {
        let projections: Value = app
            .get(&app.tokens.staff, "/api/v1/projections")
            .await
            .json()
            .await
            .unwrap();
        if projections["projections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["lag"] == 0)
        {
            outcomes = app
                .get(&app.tokens.staff, &format!("/api/v1/outcomes?from={from}&to={to}"))
                .await
                .json()
                .await
                .unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = &outcomes["groups"][0];
    assert!(
        total["submitted"].as_u64().unwrap() > 0,
        "the seeded months of this year: {total}"
    );

    // Several TLS backends are linked in (none is used: chromedriver speaks plain HTTP on
    // loopback); name one so that the WebDriver client can be built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let driver = driver().await;
    let capabilities = json!({"goog:chromeOptions": {"args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1800"
    ]}});
    let browser = ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("a headless Chromium session");
    browser.goto(&app.base_url).await.unwrap();
    browser
        .execute(
            "localStorage.setItem('lianxin-token', arguments[0]); location.reload();",
            vec![json!(app.tokens.staff)],
        )
        .await
        .unwrap();
    let rate = browser
        .wait()
        .for_element(Locator::Id("resolution-rate"))
        .await
        .unwrap();
    assert_eq!(rate.text().await.unwrap(), percent(&total["resolution_rate"]["value"]));

    let mut shown = Vec::new();
    for text in browser.find_all(Locator::Css("#funnel svg text")).await.unwrap() {
        if let Ok(number) = text.text().await.unwrap().parse::<u64>() {
            shown.push(number);
        }
    }
    let expected: Vec<u64> = [
        &total["submitted"],
        &total["relayed"],
        &total["assigned"],
        &total["consulted"],
        &total["adopted"],
        &total["closed_by_outcome"]["A"],
        &total["closed_by_outcome"]["B"],
        &total["closed_by_outcome"]["C"],
    ]
    .iter()
    .map(|value| value.as_u64().unwrap())
    .collect();
    assert_eq!(shown, expected, "the funnel shows the figures of /outcomes");
    let dashboard = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("dashboard.png"), dashboard).unwrap();

    let link = browser.find(Locator::Css("a[href^='#case/']")).await.unwrap();
    let case_id = link
        .attr("href")
        .await
        .unwrap()
        .unwrap()
        .trim_start_matches("#case/")
        .to_owned();
    link.click().await.unwrap();
    browser.wait().for_element(Locator::Css("#timeline li")).await.unwrap();
    let history = app.history(&case_id).await;
    let steps = browser.find_all(Locator::Css("#timeline li")).await.unwrap();
    assert_eq!(steps.len(), history.len(), "every event of the case is on its timeline");
    let chain = browser.find(Locator::Id("chain")).await.unwrap().text().await.unwrap();
    assert!(chain.starts_with('✓'), "the chain verifies: {chain}");
    let case = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("case.png"), case).unwrap();

    // A handling unit logs in: its queue, bucket by bucket, as the API gives it.
    let (unit, queue) = busiest_unit(&app).await;
    let token = app.unit_token(&unit).await;
    browser.goto(&format!("{}/#", app.base_url)).await.unwrap();
    browser
        .execute(
            "localStorage.setItem('lianxin-token', arguments[0]); location.reload();",
            vec![json!(token)],
        )
        .await
        .unwrap();
    browser.wait().for_element(Locator::Id("queue")).await.unwrap();
    for bucket in [
        "to_sign",
        "to_reply",
        "due_soon",
        "overdue",
        "opinions_to_send",
        "waiting_on_staff",
    ] {
        let count = browser
            .find(Locator::Id(&format!("count-{bucket}")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(count, queue[bucket]["count"].to_string(), "{unit}: {bucket}");
        let rows = browser
            .find_all(Locator::Css(&format!("#bucket-{bucket} tr")))
            .await
            .unwrap();
        let mut shown = Vec::new();
        for row in rows {
            shown.push(row.attr("data-case").await.unwrap().unwrap_or_default());
        }
        let expected: Vec<String> = queue[bucket]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|case| case["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(shown, expected, "{unit}: {bucket}");
    }
    let unit_view = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("unit.png"), unit_view).unwrap();
    browser.close().await.unwrap();
}

/// The unit with the most cases waiting to be signed for or answered, and its queue (read by
/// staff).
async fn busiest_unit(app: &TestApp) -> (String, Value) {
    let units: Value = app
        .get(&app.tokens.staff, "/api/v1/departments")
        .await
        .json()
        .await
        .unwrap();
    let mut busiest = (String::new(), Value::Null, 0);
    for unit in units["units"].as_array().unwrap() {
        let id = unit["id"].as_str().unwrap();
        let queue: Value = app
            .get(&app.tokens.staff, &format!("/api/v1/departments/{id}/queue"))
            .await
            .json()
            .await
            .unwrap();
        let waiting = queue["to_sign"]["count"].as_u64().unwrap() + queue["to_reply"]["count"].as_u64().unwrap();
        if waiting > busiest.2 {
            busiest = (id.to_owned(), queue, waiting);
        }
    }
    assert!(busiest.2 > 0, "some unit has cases waiting");
    (busiest.0, busiest.1)
}
