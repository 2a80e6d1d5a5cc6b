//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against a service with a seeded year. It checks what a leader would look at and saves
//! screenshots under `target/` for people to look at.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{Datelike, TimeZone};
use domain::HandlingLevel;
use fantoccini::wd::{PrintConfiguration, PrintSize};
use fantoccini::{Client, ClientBuilder, Locator};
use indicatif::ProgressBar;
use lianxin::demo;
use serde_json::{json, Value};
use service::access::units::{self, Unit};
use tests::{suggestion, Backend, TestApp};

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

/// A headless Chromium session on `driver`.
async fn browser(driver: &Driver) -> Client {
    // Several TLS backends are linked in (none is used: chromedriver speaks plain HTTP on
    // loopback); name one so that the WebDriver client can be built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let capabilities = json!({"goog:chromeOptions": {"args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1800"
    ]}});
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("a headless Chromium session")
}

/// Opens the dashboard at `hash` as the holder of `token`, as a person pasting it would.
async fn log_in(browser: &Client, app: &TestApp, token: &str, hash: &str) {
    browser.goto(&format!("{}/{hash}", app.base_url)).await.unwrap();
    browser
        .execute(
            "localStorage.setItem('lianxin-token', arguments[0]); location.reload();",
            vec![json!(token)],
        )
        .await
        .unwrap();
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

    let driver = driver().await;
    let browser = browser(&driver).await;
    log_in(&browser, &app, &app.tokens.staff, "").await;
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
    // Actors read by name where the registry or the units list has one, never by id alone.
    let names: Value = app.get(&app.tokens.staff, "/api/v1/names").await.json().await.unwrap();
    let mut named = 0;
    for (step, event) in steps.iter().zip(&history) {
        let actor = event["actor"]["id"].as_str().unwrap_or_default();
        if let Some(name) = names["names"][actor].as_str() {
            let text = step.text().await.unwrap();
            assert!(text.contains(name), "{actor} shown as {name}: {text}");
            named += 1;
        }
    }
    assert!(named > 0, "the case's timeline names someone");
    let chain = browser.find(Locator::Id("chain")).await.unwrap().text().await.unwrap();
    assert!(chain.starts_with('✓'), "the chain verifies: {chain}");
    let case = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("case.png"), case).unwrap();

    // A handling unit logs in: its queue, bucket by bucket, as the API gives it.
    let (unit, queue) = busiest_unit(&app).await;
    let token = app.unit_token(&unit).await;
    log_in(&browser, &app, &token, "#").await;
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

/// As the page shows a figure of a report: a rate with its numerator and denominator, or a number.
fn shown(figure: &Value) -> String {
    let number = |value: &Value| {
        let value = value.as_f64().unwrap();
        if value.fract() == 0.0 {
            format!("{value:.0}")
        } else {
            value.to_string()
        }
    };
    match figure.get("denominator") {
        Some(denominator) => format!(
            "{}（{}/{}）",
            percent(&figure["value"]),
            number(&figure["numerator"]),
            number(denominator)
        ),
        None if figure.is_null() => "—".to_owned(),
        None => number(figure),
    }
}

/// The pages of a PDF: its page objects (`/Type /Page`, not the `/Pages` tree).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    ["/Type /Page", "/Type/Page"]
        .iter()
        .map(|pattern| text.matches(pattern).count() - text.matches(&format!("{pattern}s")).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_report_is_read_beside_today_and_printed_to_pdf_in_a_browser() {
    let march = |day, hour| chrono::Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap();
    let app = TestApp::spawn_at(Backend::Sqlite, march(2, 1)).await;
    let unit = Unit {
        id: "u-housing".to_owned(),
        name: "市住房和城乡建设局".to_owned(),
        level: HandlingLevel::City,
        jurisdiction: None,
        categories: vec![],
    };
    units::add(&app.test_store.store, &unit).await.unwrap();
    let assigned = app.submitted(&suggestion()).await;
    let waiting = app.submitted(&suggestion()).await;
    app.set_time(march(3, 2));
    app.staff_does(&assigned, "assign", &json!({"department": unit.id}))
        .await;
    app.set_time(march(31, 20));
    let published = app
        .post(&app.tokens.staff, "/api/v1/reports", &json!({"period": "2026-03"}))
        .await;
    let id = published.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // After publishing, the other case is assigned too: today differs from the report.
    app.set_time(march(31, 22));
    app.staff_does(&waiting, "assign", &json!({"department": unit.id}))
        .await;
    app.settled().await;
    let reading: Value = app
        .get(&app.tokens.staff, &format!("/api/v1/reports/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reading["changes"]["changed"], json!([waiting]));

    let driver = driver().await;
    let browser = browser(&driver).await;
    log_in(&browser, &app, &app.tokens.staff, "").await;
    let link = browser
        .wait()
        .for_element(Locator::Css(&format!("#reports a[href='#report/{id}']")))
        .await
        .unwrap();
    link.click().await.unwrap();
    browser.wait().for_element(Locator::Id("comparison")).await.unwrap();
    let (published, today) = (&reading["report"]["figures"]["all"], &reading["today"]["all"]);
    for key in [
        "voices",
        "assigned",
        "resolved",
        "satisfaction",
        "working_days_to_sign.median",
    ] {
        let row = browser
            .find(Locator::Css(&format!("tr[data-figure='{key}']")))
            .await
            .unwrap();
        let cell = |class: &'static str| {
            let row = row.clone();
            async move {
                row.find(Locator::Css(&format!("td.{class}")))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let path = |figures: &Value| key.split('.').fold(figures.clone(), |value, part| value[part].clone());
        assert_eq!(cell("published").await, shown(&path(published)), "{key} as published");
        assert_eq!(cell("today").await, shown(&path(today)), "{key} today");
    }
    assert_eq!(published["assigned"]["numerator"], 1);
    assert_eq!(today["assigned"]["numerator"], 2);
    let assigned_row = browser
        .find(Locator::Css("tr[data-figure='assigned'] td.difference"))
        .await
        .unwrap();
    assert_eq!(assigned_row.text().await.unwrap(), "+50.0 个百分点");
    let mut changed = Vec::new();
    for link in browser.find_all(Locator::Css("#changes-changed a")).await.unwrap() {
        changed.push(link.attr("href").await.unwrap().unwrap());
    }
    assert_eq!(changed, [format!("#case/{waiting}")]);
    let comparison = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("report.png"), comparison).unwrap();

    // The print page, fetched with the token and opened from memory, printed on A4.
    browser
        .find(Locator::Css("button[data-print]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let position = browser.wait().for_element(Locator::Id("position")).await.unwrap();
    assert_eq!(
        position.text().await.unwrap(),
        reading["report"]["position"].to_string()
    );
    let print_page = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("report-print.png"), print_page).unwrap();
    let configuration = PrintConfiguration::builder()
        .size(PrintSize::A4)
        .background(true)
        .build()
        .unwrap();
    let pdf = browser.print(configuration).await.unwrap();
    std::fs::write(screenshot_path("report.pdf"), &pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // The figures of all cases, then one page per grouping.
    let groupings = reading["report"]["figures"]["by"].as_object().unwrap().len();
    assert_eq!(groupings, 7);
    assert_eq!(pdf_pages(&pdf), 1 + groupings);
    // The text itself is compressed; the title is kept as UTF-16 in the document's information.
    let title: String = "\u{feff}连心 · 2026-03 办理成效报告"
        .encode_utf16()
        .map(|unit| format!("{unit:04X}"))
        .collect();
    assert!(
        String::from_utf8_lossy(&pdf).contains(&format!("/Title <{title}>")),
        "the PDF is titled with the report's period"
    );
    browser.close().await.unwrap();
}
