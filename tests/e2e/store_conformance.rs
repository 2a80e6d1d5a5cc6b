//! One conformance suite for both stores: what the engine relies on from whichever backend
//! holds the log.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use domain::suggestion::SuggestionEvent;
use domain::{Actor, AnyCaseEvent, Assigned, Channel, Consulted, Kind, Role, Submitted};
use serde_json::{json, Map};
use service::store::chain::GENESIS;
use service::store::{Commit, Kept, Lent, Store, StoreError};
use tests::{on_both_backends, Backend, TestStore};
use uuid::Uuid;

fn submitted() -> SuggestionEvent {
    SuggestionEvent::Submitted(Submitted {
        title: "老旧管网改造".into(),
        body: "小区供水管网老化，经常停水。".into(),
        category: "住房".into(),
        jurisdiction: "康巴什区".into(),
        channel: Channel::Online,
        submitter: Actor {
            id: "citizen-1".into(),
            role: Role::Citizen,
        },
        lead_member: None,
        team: Vec::new(),
        at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    })
}

fn assigned() -> SuggestionEvent {
    SuggestionEvent::Assigned(Assigned {
        department: "市住建局".into(),
        co_departments: Vec::new(),
        due_at: Utc.with_ymd_and_hms(2026, 3, 16, 9, 0, 0).unwrap(),
        windows: Default::default(),
        at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    })
}

fn consulted(note: &str) -> SuggestionEvent {
    SuggestionEvent::Consulted(Consulted {
        note: note.into(),
        participants: vec!["居民代表".into()],
        members: Vec::new(),
        at: Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(),
    })
}

async fn append(store: &Store, case: Uuid, version: u64, events: Vec<SuggestionEvent>) -> Result<i64, StoreError> {
    let events: Vec<AnyCaseEvent> = events.into_iter().map(AnyCaseEvent::from).collect();
    let metadata = Map::from_iter([("request_id".to_owned(), json!("r"))]);
    store
        .append(commit_at(&case.to_string(), version, &metadata, &events))
        .await
}

async fn appended_events_load_back_in_order_with_what_the_database_adds(backend: Backend) {
    let test = TestStore::new(backend).await;
    let case = Uuid::now_v7();
    let first = append(&test.store, case, 0, vec![submitted()]).await.unwrap();
    let last = append(&test.store, case, 1, vec![assigned(), consulted("电话沟通")])
        .await
        .unwrap();
    assert!(last > first, "positions grow: {first} then {last}");

    let events = test.store.stream_events(&case.to_string()).await.unwrap();
    assert_eq!(events.iter().map(|event| event.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        events.iter().map(|event| event.event_type.as_str()).collect::<Vec<_>>(),
        ["submitted", "assigned", "consulted"]
    );
    assert_eq!(events[2].position, last);
    let mut connection = test.store.connection().await.unwrap();
    let after: Vec<u64> = connection
        .stream_events_after(&case.to_string(), 1)
        .await
        .unwrap()
        .iter()
        .map(|event| event.sequence)
        .collect();
    assert_eq!(after, [2, 3], "what a reader holding the first event has not seen");
    assert!(connection
        .stream_events_after(&case.to_string(), 3)
        .await
        .unwrap()
        .is_empty());
    assert!(events.windows(2).all(|pair| pair[0].position < pair[1].position));
    assert!(events
        .iter()
        .all(|event| event.kind() == Some(domain::Kind::Suggestion)));
    assert_eq!(events[0].payload["title"], "老旧管网改造");
    assert_eq!(events[0].payload["type"], "submitted");
    assert_eq!(events[1].metadata["request_id"], "r");
    assert_eq!(events[0].event_version, "1");
    let payload_back: SuggestionEvent = serde_json::from_value(events[0].payload.clone()).unwrap();
    assert_eq!(payload_back, submitted());
}

async fn a_store_missing_a_migration_older_than_its_latest_is_not_ready(backend: Backend) {
    let test = TestStore::new(backend).await;
    assert!(test.store.is_ready().await.unwrap(), "migrated when opened");
    // As when a migration is merged with a version older than one a database applied already.
    const FORGET: &str = "DELETE FROM _sqlx_migrations WHERE version = \
        (SELECT MAX(version) FROM _sqlx_migrations WHERE version < (SELECT MAX(version) FROM _sqlx_migrations))";
    match &test.store {
        Store::Postgres(pool) => sqlx::query(FORGET).execute(pool).await.map(drop),
        Store::Sqlite(pool) => sqlx::query(FORGET).execute(pool).await.map(drop),
    }
    .unwrap();
    assert!(!test.store.is_ready().await.unwrap());
}

async fn an_unknown_case_has_no_events(backend: Backend) {
    let test = TestStore::new(backend).await;
    assert!(test
        .store
        .stream_events(&Uuid::now_v7().to_string())
        .await
        .unwrap()
        .is_empty());
}

async fn appending_at_a_stale_version_conflicts_and_writes_nothing(backend: Backend) {
    let test = TestStore::new(backend).await;
    let case = Uuid::now_v7();
    append(&test.store, case, 0, vec![submitted()]).await.unwrap();
    append(&test.store, case, 1, vec![assigned()]).await.unwrap();

    let stale = append(&test.store, case, 1, vec![consulted("一"), consulted("二")]).await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "got {stale:?}");
    let resubmitted = append(&test.store, case, 0, vec![submitted()]).await;
    assert!(matches!(resubmitted, Err(StoreError::Conflict)), "got {resubmitted:?}");

    let events = test.store.stream_events(&case.to_string()).await.unwrap();
    assert_eq!(events.len(), 2, "no part of a refused append is stored");
}

async fn of_two_writers_racing_on_one_case_exactly_one_wins(backend: Backend) {
    let test = TestStore::new(backend).await;
    for round in 0..10 {
        let case = Uuid::now_v7();
        append(&test.store, case, 0, vec![submitted()]).await.unwrap();
        let (left, right) = tokio::join!(
            append(&test.store, case, 1, vec![consulted("左")]),
            append(&test.store, case, 1, vec![consulted("右"), consulted("右二")]),
        );
        let outcomes = [&left, &right];
        let wins = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        let conflicts = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Err(StoreError::Conflict)))
            .count();
        assert_eq!((wins, conflicts), (1, 1), "round {round}: {left:?} / {right:?}");
        let expected = if left.is_ok() { 2 } else { 3 };
        assert_eq!(
            test.store.stream_events(&case.to_string()).await.unwrap().len(),
            expected
        );
    }
}

async fn many_cases_written_concurrently_keep_their_own_order_and_distinct_positions(backend: Backend) {
    let test = TestStore::new(backend).await;
    let cases: Vec<Uuid> = (0..64).map(|_| Uuid::now_v7()).collect();
    let writers = cases.chunks(8).map(|chunk| {
        let store = test.store.clone();
        let chunk = chunk.to_vec();
        tokio::spawn(async move {
            for case in chunk {
                append(&store, case, 0, vec![submitted()]).await.unwrap();
                append(&store, case, 1, vec![assigned()]).await.unwrap();
                append(&store, case, 2, vec![consulted("跟进")]).await.unwrap();
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    let mut positions = HashSet::new();
    for case in &cases {
        let events = test.store.stream_events(&case.to_string()).await.unwrap();
        assert_eq!(events.iter().map(|event| event.sequence).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(events.windows(2).all(|pair| pair[0].position < pair[1].position));
        assert!(events.iter().all(|event| event.aggregate_id == case.to_string()));
        positions.extend(events.iter().map(|event| event.position));
    }
    assert_eq!(positions.len(), cases.len() * 3, "every event has its own position");
}

async fn a_reader_following_the_log_sees_every_event_once_in_case_order_while_many_write(backend: Backend) {
    let test = TestStore::new(backend).await;
    const WRITERS: usize = 12;
    const CASES_EACH: usize = 10;
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = test.store.clone();
            tokio::spawn(async move {
                for _ in 0..CASES_EACH {
                    let case = Uuid::now_v7();
                    append(&store, case, 0, vec![submitted()]).await.unwrap();
                    append(&store, case, 1, vec![assigned()]).await.unwrap();
                    append(&store, case, 2, vec![consulted("跟进")]).await.unwrap();
                }
            })
        })
        .collect();
    let mut cursor = 0;
    let mut seen: Vec<(String, u64)> = Vec::new();
    let total = WRITERS * CASES_EACH * 3;
    // The reader may lag (an older transaction anywhere on the server holds it back) but must
    // never skip: it reads until it has seen as many events as were written, or gives up.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < total && tokio::time::Instant::now() < deadline {
        let page = test.store.log_after(cursor, 50).await.unwrap();
        if let Some(last) = page.last() {
            cursor = last.position;
        }
        if page.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        seen.extend(page.into_iter().map(|event| (event.aggregate_id, event.sequence)));
    }
    let extra = test.store.log_after(cursor, 50).await.unwrap();
    assert!(extra.is_empty(), "nothing beyond what was written");
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(seen.len(), total, "every event is read");
    let distinct: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "no event is read twice");
    let mut next_sequence: HashMap<&str, u64> = HashMap::new();
    for (case, sequence) in &seen {
        let expected = next_sequence.entry(case.as_str()).or_insert(1);
        assert_eq!(sequence, expected, "case {case} is read in its own order");
        *expected += 1;
    }
}

/// Appends `event` at `version` through a connection lent by [`Kept`].
async fn append_lent(lent: &mut Lent<'_>, case: Uuid, version: u64, event: SuggestionEvent) -> Result<i64, StoreError> {
    let events = [AnyCaseEvent::from(event)];
    lent.append(commit_at(&case.to_string(), version, &Map::new(), &events))
        .await
        .map(|appended| appended.position)
}

/// A transaction that keeps every other writer of the log waiting.
enum Blocker {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// A suggestion's commit of `events` at `version`, chained from the genesis hash.
fn commit_at<'a>(
    stream: &'a str,
    version: u64,
    metadata: &'a Map<String, serde_json::Value>,
    events: &'a [AnyCaseEvent],
) -> Commit<'a, AnyCaseEvent> {
    Commit {
        aggregate_type: Kind::Suggestion.as_str(),
        stream,
        version,
        prev_hash: GENESIS,
        metadata,
        events,
    }
}

async fn an_append_decided_on_a_state_not_read_is_written_only_while_the_stream_has_not_moved(backend: Backend) {
    let test = TestStore::new(backend).await;
    let case = Uuid::now_v7();
    let stream = case.to_string();
    append(&test.store, case, 0, vec![submitted()]).await.unwrap();
    let kept = Kept::new(test.store.clone());
    let mut lent = kept.lend().await.unwrap();
    let metadata = Map::new();
    let assigned = [AnyCaseEvent::from(assigned())];
    let written = lent
        .append_unless_behind(commit_at(&stream, 1, &metadata, &assigned))
        .await
        .unwrap()
        .expect("the stream stood at version 1");

    let late = [AnyCaseEvent::from(consulted("迟到"))];
    for behind in [0, 1] {
        let moved = lent
            .append_unless_behind(commit_at(&stream, behind, &metadata, &late))
            .await
            .unwrap();
        assert!(moved.is_none(), "the stream moved past version {behind}");
    }
    drop(lent);
    let events = test.store.stream_events(&stream).await.unwrap();
    assert_eq!(events.len(), 2, "nothing written by the appends behind the stream");
    assert_eq!(events[1].sequence, 2);
    assert_eq!(events[1].position, written.position);
}

async fn the_command_path_keeps_a_connection_only_after_its_statements_completed(backend: Backend) {
    let test = TestStore::new(backend).await;
    let kept = Kept::new(test.store.clone());
    let case = Uuid::now_v7();
    {
        let mut lent = kept.lend().await.unwrap();
        assert!(lent.stream_events(&case.to_string()).await.unwrap().is_empty());
        append_lent(&mut lent, case, 0, submitted()).await.unwrap();
    }
    assert_eq!(kept.idle_count(), 1, "kept after its statements completed");
    {
        let mut lent = kept.lend().await.unwrap();
        assert_eq!(kept.idle_count(), 0, "the kept connection is lent again");
        assert_eq!(lent.stream_events(&case.to_string()).await.unwrap().len(), 1);
    }
    assert_eq!(kept.idle_count(), 1);

    // A statement that failed leaves its connection to the pool.
    {
        let mut lent = kept.lend().await.unwrap();
        let stale = append_lent(&mut lent, case, 0, submitted()).await;
        assert!(matches!(stale, Err(StoreError::Conflict)), "got {stale:?}");
    }
    assert_eq!(kept.idle_count(), 0, "not kept after a failed statement");

    // So does one given up while under way: here an append waiting behind another writer.
    let blocker = match &test.store {
        Store::Postgres(pool) => {
            let mut transaction = pool.begin().await.unwrap();
            sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
                .execute(&mut *transaction)
                .await
                .unwrap();
            Blocker::Postgres(transaction)
        }
        Store::Sqlite(pool) => Blocker::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await.unwrap()),
    };
    {
        let mut lent = kept.lend().await.unwrap();
        let waiting = append_lent(&mut lent, case, 1, assigned());
        assert!(tokio::time::timeout(Duration::from_millis(200), waiting).await.is_err());
    }
    assert_eq!(kept.idle_count(), 0, "not kept after a statement given up");
    match blocker {
        Blocker::Postgres(transaction) => transaction.rollback().await.unwrap(),
        Blocker::Sqlite(transaction) => transaction.rollback().await.unwrap(),
    }

    // At most a third of the pool's connections are kept idle.
    let most = (test.store.max_connections() / 3) as usize;
    let mut lent = Vec::new();
    for _ in 0..most + 2 {
        lent.push(kept.lend().await.unwrap());
    }
    drop(lent);
    assert_eq!(kept.idle_count(), most);
    let mut lent = kept.lend().await.unwrap();
    assert_eq!(lent.stream_events(&case.to_string()).await.unwrap()[0].sequence, 1);

    // While every connection of the pool is taken, one that comes back is given to the pool,
    // where another caller may be waiting, rather than kept.
    let mut others = Vec::new();
    while !test.store.exhausted() {
        others.push(test.store.connection().await.unwrap());
    }
    let before = kept.idle_count();
    drop(lent);
    assert_eq!(kept.idle_count(), before, "given back while the pool is exhausted");
    drop(others);
}

/// A service opens its command path's connections as it starts, each one at once, so that its
/// first commands do not wait for them one after another.
async fn the_command_path_opens_as_many_connections_as_it_keeps_before_its_first_command(backend: Backend) {
    let test = TestStore::new(backend).await;
    let kept = Kept::new(test.store.clone());
    kept.open(1).await.unwrap();
    assert_eq!(kept.idle_count(), 1);
    kept.open(usize::MAX).await.unwrap();
    let most = (test.store.max_connections() / 3) as usize;
    assert!(most > 1);
    assert_eq!(
        kept.idle_count(),
        most,
        "held open at once, then kept; no more than are kept"
    );
}

on_both_backends!(
    the_command_path_opens_as_many_connections_as_it_keeps_before_its_first_command,
    a_reader_following_the_log_sees_every_event_once_in_case_order_while_many_write,
    the_command_path_keeps_a_connection_only_after_its_statements_completed,
    a_store_missing_a_migration_older_than_its_latest_is_not_ready,
    appended_events_load_back_in_order_with_what_the_database_adds,
    an_unknown_case_has_no_events,
    appending_at_a_stale_version_conflicts_and_writes_nothing,
    of_two_writers_racing_on_one_case_exactly_one_wins,
    an_append_decided_on_a_state_not_read_is_written_only_while_the_stream_has_not_moved,
    many_cases_written_concurrently_keep_their_own_order_and_distinct_positions,
);

/// An open transaction holds readers of the log back only where it could write to the log:
/// in this database, not in another database of the same server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_open_transaction_of_this_database_holds_the_log_back() {
    let test = TestStore::new(Backend::Postgres).await;

    // Other tests' transactions come and go: one that ends while a read runs still counts for
    // that read, so the reads here may take a few tries.
    let positions_after = |after: i64| {
        let store = test.store.clone();
        async move {
            for _ in 0..100 {
                let page = store.log_after(after, 10).await.unwrap();
                if !page.is_empty() {
                    return page.iter().map(|event| event.position).collect::<Vec<_>>();
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Vec::new()
        }
    };

    let mut elsewhere = tests::running_transaction(&tests::admin_url()).await;
    let first = append(&test.store, Uuid::now_v7(), 0, vec![submitted()]).await.unwrap();
    assert_eq!(positions_after(0).await, [first]);

    let mut here = tests::running_transaction(test.database_url.as_deref().unwrap()).await;
    let second = append(&test.store, Uuid::now_v7(), 0, vec![submitted()]).await.unwrap();
    assert!(
        test.store.log_after(first, 10).await.unwrap().is_empty(),
        "an older transaction of this database may still write before the new event"
    );
    sqlx::query("ROLLBACK").execute(&mut here).await.unwrap();
    assert_eq!(positions_after(first).await, [second]);
    sqlx::query("ROLLBACK").execute(&mut elsewhere).await.unwrap();
}
