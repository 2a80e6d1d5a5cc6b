//! Published reports: frozen when published, whatever is reopened or rebuilt afterwards, and read
//! beside today's figures of their period with the cases that changed.

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{Duration, TimeZone, Utc};
use domain::HandlingLevel;
use domain::Timestamp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use service::access::names::name_actor;
use service::access::units::{self, Unit};
use service::read::{names, Projector};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp};

const UNIT: &str = "市交通局";
const UNIT_NAME: &str = "市交通运输局";
/// The name the staff token's subject is shown by.
const STAFF_NAME: &str = "王秘书";

fn march(day: u32, hour: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

async fn report(app: &TestApp, id: &str) -> Value {
    let response = app.get(&app.tokens.auditor, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The report's workbook, read back with a reader library, holds the API's numbers, its period
/// as dates and a sheet per grouping.
async fn assert_figures_in_workbook(app: &TestApp, id: &str, report: &Value) {
    let response = app
        .get(&app.tokens.auditor, &format!("/api/v1/reports/{id}?format=xlsx"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(
        workbook.sheet_names(),
        [
            "报告",
            "指标",
            "按领域",
            "按承办单位",
            "按属地",
            "按类型",
            "按办理层级",
            "按委员",
            "按月份",
            "案件"
        ]
    );
    let period = workbook.worksheet_range("报告").unwrap();
    let first_day = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let excel_epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
    match period.get((1, 1)) {
        Some(Data::DateTime(date)) => assert_eq!(date.as_f64(), (first_day - excel_epoch).num_days() as f64),
        other => panic!("the first day is a date, not {other:?}"),
    }
    let figures = workbook.worksheet_range("指标").unwrap();
    let row = figures
        .rows()
        .find(|row| row[1] == Data::String("解决率（占全部）".to_owned()))
        .expect("a row of 解决率");
    let resolved = &report["figures"]["all"]["resolved"];
    let number = |value: &Value| Data::Float(value.as_f64().unwrap());
    assert_eq!(
        row[2..5],
        [
            number(&resolved["numerator"]),
            number(&resolved["denominator"]),
            number(&resolved["value"])
        ]
    );
    // A unit is shown by its name, its id beside; the publisher by name.
    let by_unit = workbook.worksheet_range("按承办单位").unwrap();
    let row = by_unit
        .rows()
        .find(|row| row[5] == Data::String(UNIT.to_owned()))
        .expect("a row of the unit");
    assert_eq!(
        (&row[0], &row[5]),
        (&Data::String(UNIT_NAME.to_owned()), &Data::String(UNIT.to_owned()))
    );
    assert_eq!(period.get((5, 1)), Some(&Data::String(STAFF_NAME.to_owned())));
    let cases = workbook.worksheet_range("案件").unwrap();
    assert_eq!(cases.height(), 1 + report["cases"].as_array().unwrap().len());
    let assigned = cases
        .rows()
        .find(|row| row[4] == Data::String(UNIT.to_owned()))
        .expect("the assigned case with its unit's id");
    assert_eq!(assigned[3], Data::String(UNIT_NAME.to_owned()));
    assert_eq!(
        assigned[2],
        Data::String(suggestion()["title"].as_str().unwrap().to_owned())
    );
}

/// The print page, at both its paths: the period, the moment, the log position and every figure,
/// a page per grouping, units by name; only for those who read reports.
async fn assert_printable(app: &TestApp, id: &str, report: &Value) {
    let mut pages = Vec::new();
    for path in [format!("/api/v1/reports/{id}/print"), format!("/reports/{id}/print")] {
        let response = app.get(&app.tokens.auditor, &path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"), "{policy}");
        pages.push(response.text().await.unwrap());
        problem(app.get(&app.tokens.citizen, &path).await, StatusCode::FORBIDDEN).await;
        let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(pages[0], pages[1]);
    let page = &pages[0];
    assert!(page.contains(r#"<html lang="zh-CN">"#) && page.contains("@page { size: A4;"));
    assert!(page.contains("2026-03-01 至 2026-03-31"), "the period in local days");
    assert!(page.contains(&format!(r#"<dd id="position">{}</dd>"#, report["position"])));
    let resolved = &report["figures"]["all"]["resolved"];
    let row = format!(
        r#"<tr><td>解决率（占全部）</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.1}%</td></tr>"#,
        resolved["numerator"],
        resolved["denominator"],
        resolved["value"].as_f64().unwrap() * 100.0
    );
    assert!(page.contains(&row), "{row}");
    for grouping in [
        "kind",
        "category",
        "jurisdiction",
        "department",
        "level",
        "member",
        "month",
    ] {
        assert!(
            page.contains(&format!(r#"<section data-grouping="{grouping}">"#)),
            "{grouping}"
        );
    }
    assert!(page.contains(&format!(r#"<td>{UNIT_NAME}</td>"#)));
    assert!(page.contains("<svg") && !page.contains("<script"));
    problem(
        app.get(
            &app.tokens.auditor,
            "/api/v1/reports/00000000-0000-0000-0000-000000000000/print",
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn a_published_report_stays_as_published_after_a_reopen_and_a_rebuild(backend: Backend) {
    let app = TestApp::spawn_at(backend, march(2, 1)).await;
    let unit = Unit {
        id: UNIT.to_owned(),
        name: UNIT_NAME.to_owned(),
        level: HandlingLevel::City,
        jurisdiction: None,
        categories: vec![],
    };
    units::add(&app.test_store.store, &unit).await.unwrap();
    let staff = app.subject(&app.tokens.staff).await;
    name_actor(&app.test_store.store, &staff, STAFF_NAME).await.unwrap();
    let unit = app.unit_token(UNIT).await;
    let answered = app.submitted(&suggestion()).await;
    let waiting = app.submitted(&suggestion()).await;
    let steps = [
        (march(2, 2), &app.tokens.staff, "assign", json!({"department": UNIT})),
        (march(2, 3), &unit, "acknowledge", json!({})),
        (
            march(6, 2),
            &unit,
            "reply",
            json!({"text": "已办理", "proposed_grade": "A", "measures": "已落实"}),
        ),
        (
            march(6, 6),
            &app.tokens.citizen,
            "evaluate",
            json!({"rating": "unsatisfied"}),
        ),
        (
            march(9, 2),
            &app.tokens.staff,
            "close",
            json!({"outcome": "A", "summary": "办结"}),
        ),
    ];
    for (at, token, action, body) in steps {
        app.set_time(at);
        let response = app.act(token, &answered, action, &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{action}");
    }

    app.set_time(march(31, 16) + Duration::hours(1));
    let early = app
        .post(&app.tokens.staff, "/api/v1/reports", &json!({"period": "2026-Q2"}))
        .await;
    problem(early, StatusCode::UNPROCESSABLE_ENTITY).await;
    let by_member = app
        .post(&app.tokens.member, "/api/v1/reports", &json!({"period": "2026-03"}))
        .await;
    problem(by_member, StatusCode::FORBIDDEN).await;
    let published = app
        .post(&app.tokens.staff, "/api/v1/reports", &json!({"period": "2026-03"}))
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    let id = published.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed: Value = app
        .get(&app.tokens.auditor, "/api/v1/reports")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["period"], "2026-03");

    let first = report(&app, &id).await;
    let frozen = first["report"].to_string();
    assert_eq!(first["report"]["figures"]["all"]["voices"], 2);
    assert_eq!(first["report"]["figures"]["all"]["resolved"]["numerator"], 1);
    assert_eq!(first["today"], first["report"]["figures"]);
    assert_eq!(first["changes"], json!({"changed": [], "added": [], "removed": []}));

    let csv = app
        .get(&app.tokens.auditor, &format!("/api/v1/reports/{id}?format=csv"))
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let by_accept = app
        .client
        .get(app.url(&format!("/api/v1/reports/{id}")))
        .bearer_auth(&app.tokens.auditor)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_accept.text().await.unwrap(),
        csv,
        "Accept: text/csv asks for the same"
    );
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for Excel and WPS");
    let rows: Vec<Vec<&str>> = csv.lines().map(|line| line.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        ["分组方式", "分组", "指标", "分子", "分母", "数值", "分组编号"]
    );
    let resolved = &first["report"]["figures"]["all"]["resolved"];
    assert!(rows.contains(&vec![
        "全部",
        "全部",
        "解决率（占全部）",
        &resolved["numerator"].to_string(),
        &resolved["denominator"].to_string(),
        &resolved["value"].to_string(),
        "all",
    ]));
    let voices = |grouping: &str| -> Vec<(&str, &str)> {
        rows.iter()
            .filter(|row| row[0] == grouping && row[2] == "有效件数")
            .map(|row| (row[1], row[6]))
            .collect()
    };
    assert_eq!(voices("按类型"), [("建言", "suggestion")]);
    assert_eq!(voices("按承办单位"), [("未交办", "(unassigned)"), (UNIT_NAME, UNIT)]);
    problem(
        app.get(&app.tokens.auditor, &format!("/api/v1/reports/{id}?format=pdf"))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    assert_printable(&app, &id, &first["report"]).await;

    assert_figures_in_workbook(&app, &id, &first["report"]).await;

    // The proposer was unsatisfied: the case is reopened, and the other one assigned.
    app.set_time(march(31, 16) + Duration::days(2));
    app.staff_does(&answered, "reopen", &json!({"reason": "重办"})).await;
    app.staff_does(&waiting, "assign", &json!({"department": UNIT})).await;
    app.settled().await;
    let after_reopen = report(&app, &id).await;
    assert_eq!(after_reopen["report"].to_string(), frozen);
    assert_eq!(after_reopen["today"]["all"]["resolved"]["numerator"], 0);
    let mut changed: Vec<&str> = after_reopen["changes"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    changed.sort_unstable();
    let mut expected = vec![answered.as_str(), waiting.as_str()];
    expected.sort_unstable();
    assert_eq!(changed, expected);

    Projector::new(app.test_store.store.clone(), domain::Policy::default())
        .rebuild(&names(), |_| {})
        .await
        .unwrap();
    assert_eq!(report(&app, &id).await["report"].to_string(), frozen);
    // The report's event is chained like every other.
    let verified: Value = app
        .get(&app.tokens.auditor, "/api/v1/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["broken"], json!([]));
}

on_both_backends!(a_published_report_stays_as_published_after_a_reopen_and_a_rebuild);
