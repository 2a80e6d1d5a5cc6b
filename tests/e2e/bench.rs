//! The benchmark program does the work it reports (its speed is for the program to measure,
//! not for tests to assert).

use indicatif::ProgressBar;
use lianxin::bench::{self, BenchError, LifecycleReport, Target};
use service::store::Store;
use tests::{on_both_backends, Backend, TestApp, TestStore};

/// The lifecycle workload straight into an engine on `store`.
async fn in_process(store: &Store, projections: bool, cases: usize, workers: usize) -> LifecycleReport {
    let target = Target::Engine { projections };
    bench::lifecycle(store.clone(), target, cases, workers, ProgressBar::hidden())
        .await
        .unwrap()
}

async fn the_lifecycle_workload_runs_every_command_and_replay_reads_them_all(backend: Backend) {
    let test = TestStore::new(backend).await;
    let report = in_process(&test.store, true, 12, 3).await;
    assert_eq!((report.cases, report.workers, report.commands), (12, 3, 60));
    assert!(report.projections);
    assert!(report.p50_ms <= report.p99_ms);
    // The caught-up rate counts the commands over their time and the views' catching up.
    let counted = report.seconds + report.projection_catch_up_seconds;
    assert!((report.caught_up_commands_per_s * counted - 60.0).abs() < 1e-6);
    assert!(report.caught_up_commands_per_s < report.commands_per_s);
    let replay = bench::replay(&test.store, ProgressBar::hidden()).await.unwrap();
    assert_eq!((replay.events, replay.cases), (60, 12));
    assert_eq!(replay.cases_by_status.get("closed"), Some(&12));
    assert_eq!(replay.cases_by_category.values().sum::<u64>(), 12);
    let verified = service::audit::verify(&test.store, |_| {}).await.unwrap();
    assert!(verified.broken.is_empty(), "the benchmark writes valid hash chains");
}

/// What the projections cost is measured by leaving them out: the commands all run, and no
/// read model follows them.
async fn without_projections_the_commands_run_and_no_read_model_follows(backend: Backend) {
    let test = TestStore::new(backend).await;
    let report = in_process(&test.store, false, 4, 2).await;
    assert_eq!(report.commands, 20);
    assert!(!report.projections);
    assert_eq!(report.projection_lag_at_end, 20, "nothing applied");
    let replay = bench::replay(&test.store, ProgressBar::hidden()).await.unwrap();
    assert_eq!(replay.cases_by_status.get("closed"), Some(&4));
}

async fn over_http_every_command_is_answered_and_the_views_catch_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let target = Target::Http {
        base_url: app.base_url.clone(),
        token: app.tokens.staff.clone(),
    };
    let report = bench::lifecycle(app.test_store.store.clone(), target, 6, 2, ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((report.path, report.commands), ("http", 30));
    let replay = bench::replay(&app.test_store.store, ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((replay.events, replay.cases), (30, 6));
    assert_eq!(replay.cases_by_status.get("closed"), Some(&6));
}

async fn over_http_a_refused_command_stops_the_run_with_the_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let target = Target::Http {
        base_url: app.base_url.clone(),
        token: app.tokens.citizen.clone(),
    };
    let failed = bench::lifecycle(app.test_store.store.clone(), target, 2, 1, ProgressBar::hidden()).await;
    match failed {
        Err(BenchError::Http { what, status, .. }) => assert_eq!((what.as_str(), status), ("assign", 403)),
        other => panic!("expected the service's refusal, got {other:?}"),
    }
}

on_both_backends!(
    the_lifecycle_workload_runs_every_command_and_replay_reads_them_all,
    without_projections_the_commands_run_and_no_read_model_follows,
    over_http_every_command_is_answered_and_the_views_catch_up,
    over_http_a_refused_command_stops_the_run_with_the_answer,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_an_address_that_is_not_http_host_port_is_refused() {
    let test = TestStore::new(Backend::Sqlite).await;
    let target = Target::Http {
        base_url: "https://localhost:1".to_owned(),
        token: "t".to_owned(),
    };
    let refused = bench::lifecycle(test.store.clone(), target, 1, 1, ProgressBar::hidden()).await;
    assert!(
        matches!(
            refused,
            Err(BenchError::Unreachable(lianxin::load::LoadError::Address(_)))
        ),
        "{refused:?}"
    );
}
