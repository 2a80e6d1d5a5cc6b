//! A log written by the release before handling units acted (`demo seed --cases 60`: that
//! year's cases and earlier years' duties, as its events table held them) still loads: imported as it was, every case reads, its history is
//! whole, the hash chains verify, old `escalated` events read through their upcaster on both
//! the write path and the read models, and the read models rebuilt from it equal the live ones.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::{HandlingLevel, Policy, Role};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use service::access::tokens::Principal;
use service::read::{names, Projector};
use service::store::{EventRow, Imported};
use service::write::engine::{AsOf, Clock, Engine};
use tests::{on_both_backends, Backend, TestApp};
use uuid::Uuid;

const FIXTURE: &str = include_str!("../fixtures/log-before-departments.jsonl");

/// The fixture's rows, as the events table held them.
fn fixture() -> Vec<Imported> {
    FIXTURE
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).expect("a fixture line is JSON");
            let text = |name: &str| row[name].as_str().expect("a text column").to_owned();
            let metadata: Map<String, Value> = serde_json::from_value(row["metadata"].clone()).expect("metadata");
            let recorded_at: DateTime<Utc> = text("recorded_at").parse().expect("a time");
            let event = EventRow {
                aggregate_type: text("aggregate_type"),
                aggregate_id: text("aggregate_id"),
                sequence: row["sequence"].as_u64().expect("a sequence"),
                event_type: text("event_type"),
                event_version: text("event_version"),
                payload: row["payload"].clone(),
                metadata,
            };
            Imported::new(event, recorded_at).expect("a row to import")
        })
        .collect()
}

/// Events per case stream, from the fixture.
fn case_streams(rows: &[Imported]) -> BTreeMap<String, usize> {
    let mut streams = BTreeMap::new();
    for imported in rows
        .iter()
        .filter(|imported| imported.row.aggregate_type != "member_record")
    {
        *streams.entry(imported.row.aggregate_id.clone()).or_default() += 1;
    }
    streams
}

async fn a_log_written_before_departments_acted_still_loads(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let rows = fixture();
    let escalated: Vec<String> = rows
        .iter()
        .filter(|imported| imported.row.event_type == "escalated")
        .map(|imported| imported.row.aggregate_id.clone())
        .collect();
    assert!(!escalated.is_empty(), "the fixture has v1 escalations to upcast");
    assert!(rows.iter().all(|imported| imported.row.event_version == "1"));
    app.test_store.store.import(&rows).await.expect("the old log imports");
    // A service started on the imported log follows it from the start.
    app.restart().await;
    app.settled().await;

    let streams = case_streams(&rows);
    let submissions = rows
        .iter()
        .filter(|imported| imported.row.event_type == "submitted")
        .count();
    assert_eq!(streams.len(), submissions);
    for (case_id, events) in &streams {
        let response = app.get(&app.tokens.auditor, &format!("/api/v1/cases/{case_id}")).await;
        assert_eq!(response.status(), StatusCode::OK, "case {case_id}");
        let history = app.history(case_id).await;
        assert_eq!(history.len(), *events, "the history of {case_id}");
    }

    let verify: Value = app
        .get(&app.tokens.auditor, "/api/v1/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verify["broken"], json!([]), "{verify}");

    // The write path reads a v1 escalation as an escalation to the city.
    let engine = Engine::new(app.test_store.store.clone(), Policy::default(), Clock::System);
    let auditor = Principal {
        actor: domain::Actor {
            id: "auditor".to_owned(),
            role: Role::Auditor,
        },
        jurisdiction: None,
        department: None,
    };
    for case_id in &escalated {
        let id: Uuid = case_id.parse().unwrap();
        let case = engine
            .case(id, &auditor, AsOf::Now)
            .await
            .unwrap()
            .expect("the case exists");
        assert_eq!(case.core.level, HandlingLevel::City, "case {case_id}");
        assert!(case.core.late_since.is_some(), "an escalated case was late");
    }

    // The read models read the same shape, and rebuilt from zero equal the live ones.
    let projector = Projector::new(app.test_store.store.clone(), domain::Policy::default());
    let live = projector.dump().await.unwrap();
    let summaries: Vec<Value> = live["case_summaries"]
        .iter()
        .map(|summary| serde_json::from_str(summary).unwrap())
        .collect();
    assert_eq!(summaries.len(), submissions);
    for case_id in &escalated {
        let summary = summaries
            .iter()
            .find(|summary| summary["id"] == json!(case_id))
            .unwrap();
        assert_eq!(summary["level"], "city", "{summary}");
        assert_eq!(summary["escalated"], true);
    }
    projector.rebuild(&names(), |_| {}).await.unwrap();
    assert_eq!(projector.dump().await.unwrap(), live);
}

on_both_backends!(a_log_written_before_departments_acted_still_loads);
