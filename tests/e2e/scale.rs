//! `bench scale` at a tiny size: the bulk generator's log verifies, the projections rebuilt from
//! it agree with the generator's own count, the same seed gives the same log, and every
//! dashboard read reports its timing (what the timings are is for the program to report).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget};
use lianxin::bulk::{self, BulkPlan};
use lianxin::scale::{self, ScaleSettings};
use serde_json::Value;
use service::store::Store;
use tests::{fetched, on_both_backends, Backend, TestStore};

fn plan(seed: u64) -> BulkPlan {
    BulkPlan {
        cases: 300,
        years: 2,
        until: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        seed,
    }
}

/// `(column, count)` over a projection table.
async fn counts(store: &Store, sql: &str) -> BTreeMap<String, u64> {
    let rows: Vec<(String, i64)> = fetched(store, sql).await;
    rows.into_iter()
        .map(|(key, count)| (key, u64::try_from(count).unwrap()))
        .collect()
}

async fn a_tiny_scale_run_verifies_and_its_projections_match_what_was_generated(backend: Backend) {
    let test = TestStore::new(backend).await;
    let settings = ScaleSettings {
        plan: plan(7),
        samples: 3,
        read_budget: Duration::from_secs(600),
        reads: Vec::new(),
    };
    let mut out = Vec::new();
    let hidden = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
    let report = scale::run(&test.store, &settings, &hidden, &mut out).await.unwrap();

    let generated = &report.generated;
    assert_eq!(
        generated.refused_steps, 0,
        "the generator only takes steps the domain allows"
    );
    assert_eq!(generated.cases_by_status.values().sum::<u64>(), 300);
    assert_eq!(generated.events, test.store.count_events().await.unwrap());
    let per_case = (generated.events - generated.contacts) as f64 / 300.0;
    assert!((3.0..8.0).contains(&per_case), "about five events a case: {per_case}");
    assert_eq!(generated.cases_by_kind.len(), 3, "{:?}", generated.cases_by_kind);
    for status in ["closed", "assigned", "consulting", "withdrawn"] {
        assert!(
            generated.cases_by_status.contains_key(status),
            "no {status} case: {:?}",
            generated.cases_by_status
        );
    }

    assert_eq!(report.verify.broken_links, 0);
    assert_eq!(report.verify.events, generated.events);
    let audited = service::audit::verify(&test.store, |_| {}).await.unwrap();
    assert!(audited.broken.is_empty(), "{:?}", audited.broken);

    let by_status = counts(
        &test.store,
        "SELECT status, COUNT(*) FROM case_summaries GROUP BY status",
    )
    .await;
    assert_eq!(by_status, generated.cases_by_status);
    let by_kind = counts(&test.store, "SELECT kind, COUNT(*) FROM case_summaries GROUP BY kind").await;
    assert_eq!(by_kind, generated.cases_by_kind);
    // Contacts count as distinct constituents per member and year: at most one per contact.
    let constituents = counts(
        &test.store,
        "SELECT 'constituents', COUNT(*) FROM member_credits WHERE activity = 'constituents'",
    )
    .await;
    assert!(
        (1..=generated.contacts).contains(&constituents["constituents"]),
        "{constituents:?} of {} contacts",
        generated.contacts
    );

    let text = String::from_utf8(out).unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let (summary, reads) = lines.split_last().unwrap();
    assert_eq!(summary["workload"], "scale");
    assert_eq!(summary["generated"]["cases"], 300);
    let names: BTreeSet<&str> = reads.iter().map(|read| read["read"].as_str().unwrap()).collect();
    assert_eq!(names.len(), reads.len(), "one line per read");
    for name in [
        "outcomes_by_category",
        "list_text_search",
        "member_record",
        "case_history",
    ] {
        assert!(names.contains(name), "{name} is measured: {names:?}");
    }
    for read in reads {
        assert_eq!(read["workload"], "scale");
        assert_eq!(read["samples"], 3, "{read}");
        assert!(read["p50_ms"].as_f64().unwrap() <= read["p99_ms"].as_f64().unwrap());
    }
    let history = reads.iter().find(|read| read["read"] == "case_history").unwrap();
    assert!(
        history["rows"].as_u64().unwrap() >= 1,
        "a sampled case exists: {history}"
    );

    let again = TestStore::new(backend).await;
    bulk::generate(&again.store, &plan(7), ProgressBar::hidden())
        .await
        .unwrap();
    let same = service::audit::verify(&again.store, |_| {}).await.unwrap();
    assert_eq!(same.heads_digest, audited.heads_digest, "one seed, one log");
    let other = TestStore::new(backend).await;
    bulk::generate(&other.store, &plan(8), ProgressBar::hidden())
        .await
        .unwrap();
    let different = service::audit::verify(&other.store, |_| {}).await.unwrap();
    assert_ne!(
        different.heads_digest, audited.heads_digest,
        "another seed, another log"
    );

    let refused = bulk::generate(&test.store, &plan(7), ProgressBar::hidden()).await;
    assert!(matches!(refused, Err(bulk::BulkError::NotEmpty(_))), "{refused:?}");
}

on_both_backends!(a_tiny_scale_run_verifies_and_its_projections_match_what_was_generated);
