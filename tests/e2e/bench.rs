//! The benchmark program does the work it reports (its speed is for the program to measure,
//! not for tests to assert).

use indicatif::ProgressBar;
use lianxin::bench::{self, Target};
use tests::{on_both_backends, Backend, TestStore};

async fn the_lifecycle_workload_runs_every_command_and_replay_reads_them_all(backend: Backend) {
    let test = TestStore::new(backend).await;
    let report = bench::lifecycle(test.store.clone(), Target::Engine, 12, 3, ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((report.cases, report.workers, report.commands), (12, 3, 60));
    assert!(report.p50_ms <= report.p99_ms);
    let replay = bench::replay(&test.store, ProgressBar::hidden()).await.unwrap();
    assert_eq!((replay.events, replay.cases), (60, 12));
    assert_eq!(replay.cases_by_status.get("closed"), Some(&12));
    assert_eq!(replay.cases_by_category.values().sum::<u64>(), 12);
    let verified = service::audit::verify(&test.store, |_| {}).await.unwrap();
    assert!(verified.broken.is_empty(), "the benchmark writes valid hash chains");
}

on_both_backends!(the_lifecycle_workload_runs_every_command_and_replay_reads_them_all);
