//! The case list as an office opens it: CSV and a workbook holding the same cases as the JSON
//! list, with units by name, cut to what the reader may read.

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::HandlingLevel;
use reqwest::StatusCode;
use serde_json::{json, Value};
use service::access::units::{self, Unit};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp, BANNER};

const UNIT: &str = "u-transport";
const UNIT_NAME: &str = "市交通运输局";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// Titles are one line: line breaks inside a field are covered by the module's own test.
const TRICKY: &str = "路灯, \"亮化\"工程, 第二期";

/// RFC 4180 as Excel writes it: fields split by commas, quoted ones with doubled quotes and
/// line breaks inside.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

async fn csv_rows(app: &TestApp, token: &str, query: &str) -> Vec<Vec<String>> {
    let response = app.get(token, &format!("/api/v1/cases?format=csv{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let text = response.text().await.unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for Excel and WPS");
    let rows = parse_csv(text);
    assert_eq!(rows[0][..4], ["案件编号", "类型", "状态", "标题"]);
    rows
}

fn column(rows: &[Vec<String>], header: &str) -> usize {
    rows[0].iter().position(|name| name == header).expect(header)
}

/// A moment as the deployment reads it (China: +08:00).
fn local(at: &Value) -> chrono::NaiveDateTime {
    let at: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .naive_local()
}

async fn the_case_list_exports_as_csv_and_xlsx_with_names_and_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unit = Unit {
        id: UNIT.to_owned(),
        name: UNIT_NAME.to_owned(),
        level: HandlingLevel::City,
        jurisdiction: None,
        categories: vec!["交通".to_owned()],
    };
    units::add(&app.test_store.store, &unit).await.unwrap();
    let plain = app.submitted(&suggestion()).await;
    let tricky = app
        .submitted(&json!({"kind": "suggestion", "title": TRICKY, "body": "夜间照明不足。", "category": "交通", "jurisdiction": "东胜区"}))
        .await;
    let banner = app
        .submitted(&json!({"kind": "suggestion", "title": "草原防火", "body": "防火通道。", "category": "生态", "jurisdiction": BANNER}))
        .await;
    app.staff_does(&tricky, "assign", &json!({"department": UNIT})).await;
    app.settled().await;

    let page: Value = app
        .get(&app.tokens.staff, "/api/v1/cases?limit=200")
        .await
        .json()
        .await
        .unwrap();
    let cases = page["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);

    // CSV: the same cases in the same order, the tricky title intact, the unit by name.
    let rows = csv_rows(&app, &app.tokens.staff, "").await;
    assert_eq!(rows.len(), 1 + cases.len());
    let (id, title, unit_name, unit_id, events, submitted) = (
        column(&rows, "案件编号"),
        column(&rows, "标题"),
        column(&rows, "承办单位"),
        column(&rows, "承办单位编号"),
        column(&rows, "事件数"),
        column(&rows, "提交时间"),
    );
    for (row, case) in rows[1..].iter().zip(cases) {
        assert_eq!(row.len(), rows[0].len());
        assert_eq!(row[id], case["id"].as_str().unwrap());
        assert_eq!(row[title], case["title"].as_str().unwrap());
        assert_eq!(row[events], case["version"].to_string());
        assert_eq!(
            row[submitted],
            local(&case["submitted_at"]).format("%Y-%m-%d %H:%M:%S").to_string()
        );
    }
    let tricky_row = rows.iter().find(|row| row[id] == tricky).unwrap();
    assert_eq!(tricky_row[title], TRICKY);
    assert_eq!(
        (tricky_row[unit_name].as_str(), tricky_row[unit_id].as_str()),
        (UNIT_NAME, UNIT)
    );
    // `limit` pages the JSON list only: an export holds every matching case.
    assert_eq!(csv_rows(&app, &app.tokens.staff, "&limit=1").await.len(), 4);
    // The JSON list's filters apply.
    let in_banner = csv_rows(&app, &app.tokens.staff, &format!("&jurisdiction={BANNER}")).await;
    assert_eq!(in_banner.len(), 2);
    assert_eq!(in_banner[1][id], banner);

    // The workbook, asked for by its Accept header: numbers as numbers, moments as dates.
    let response = app
        .client
        .get(app.url("/api/v1/cases"))
        .bearer_auth(&app.tokens.staff)
        .header("accept", XLSX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], XLSX);
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range("案件").unwrap();
    let sheet: Vec<&[Data]> = sheet.rows().collect();
    assert_eq!(sheet.len(), rows.len());
    assert_eq!(sheet[0][id], Data::String("案件编号".to_owned()));
    let excel_epoch = NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for (row, case) in sheet[1..].iter().zip(cases) {
        assert_eq!(row[id], Data::String(case["id"].as_str().unwrap().to_owned()));
        assert_eq!(row[title], Data::String(case["title"].as_str().unwrap().to_owned()));
        assert_eq!(row[events], Data::Float(case["version"].as_f64().unwrap()));
        let Data::DateTime(at) = &row[submitted] else {
            panic!("the submission is a date cell, not {:?}", row[submitted]);
        };
        let expected = (local(&case["submitted_at"]) - excel_epoch).num_milliseconds() as f64 / 86_400_000.0;
        assert!((at.as_f64() - expected).abs() < 1e-6, "{} != {expected}", at.as_f64());
    }
    let tricky_row = sheet
        .iter()
        .find(|row| row[id] == Data::String(tricky.clone()))
        .unwrap();
    assert_eq!(tricky_row[unit_name], Data::String(UNIT_NAME.to_owned()));
    let csv_by_accept = app
        .client
        .get(app.url("/api/v1/cases"))
        .bearer_auth(&app.tokens.staff)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv_by_accept.headers()["content-type"], "text/csv; charset=utf-8");

    // A scoped reader exports only what it may read.
    let banner_rows = csv_rows(&app, &app.tokens.banner_staff, "").await;
    let ids: Vec<&str> = banner_rows[1..].iter().map(|row| row[id].as_str()).collect();
    assert_eq!(ids, [banner.as_str()]);
    let unit_token = app.unit_token(UNIT).await;
    let unit_rows = csv_rows(&app, &unit_token, "").await;
    let ids: Vec<&str> = unit_rows[1..].iter().map(|row| row[id].as_str()).collect();
    assert_eq!(ids, [tricky.as_str()]);
    assert!(!ids.contains(&plain.as_str()));

    problem(
        app.get(&app.tokens.staff, "/api/v1/cases?format=pdf").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

on_both_backends!(the_case_list_exports_as_csv_and_xlsx_with_names_and_scope);
