//! The projections and the read models on them: rebuilt equals live, crash safety, several
//! service processes on one database, outcome figures checked by hand, the duty-record rules.

use std::collections::{HashMap, HashSet};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::{Action, ActionInput, Policy, Role};
use projections::{figures, outcome_figures, CaseSummary, FigureSettings, GROUPINGS};
use reqwest::StatusCode;
use serde_json::{json, Value};
use service::read::{names, Projector};
use service::store::Store;
use service::write::engine::{Clock, Engine};
use tests::{
    command_context, on_both_backends, problem, staff_acts_on, suggestion, suggestion_through, Backend, TestApp,
    TestStore, MEMBER_ID,
};

/// A small, fixed-seed generator (xorshift64*): the same sequence on every run.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A valid body for `action` on `kind`, with some variety.
fn body_for(action: &str, kind: &str, by_staff: bool, dice: &mut Dice) -> Value {
    let departments = ["市住建局", "市交通局", "市教育局", "市卫健委"];
    match action {
        "relay" => json!({"note": "走访中群众反映"}),
        "classify" => json!({"category": dice.pick(&["交通", "住房", "教育", "医疗"])}),
        "assign" | "reassign" => json!({"department": dice.pick(&departments)}),
        "escalate" | "decline" | "reopen" => json!({"reason": "理由"}),
        "convene" => json!({"venue": "协商议事室", "members": [MEMBER_ID, "m-0002"]}),
        "consult" => json!({"note": "协商纪要", "members": [dice.pick(&[MEMBER_ID, "m-0002", "m-0003"])]}),
        "complete_preparation" | "complete_research" => json!({"note": "完成"}),
        "record_visit" => json!({"place": "达拉特旗", "findings": "发现"}),
        "submit_report" => json!({"title": "报告", "recommendations": ["一", "二", "三"]}),
        "adopt" if kind == "joint_research" => json!({"by": "市委", "extent": "full"}),
        "adopt" => json!({"by": "市政府", "extent": dice.pick(&["full", "partial"])}),
        "record_policy" => json!({"title": "配套政策"}),
        "close" => json!({"outcome": dice.pick(&["A", "B", "C"]), "summary": "办结"}),
        // Staff pass a proposer's rating on, saying how they had it.
        "feedback" if by_staff => json!({"rating": dice.pick(&["satisfied", "basically_satisfied", "unsatisfied"]),
                                         "on_behalf_reason": "电话回访"}),
        "feedback" => json!({"rating": dice.pick(&["satisfied", "basically_satisfied", "unsatisfied"])}),
        "withdraw" => json!({"reason": "撤回"}),
        _ => json!({}),
    }
}

/// How a random history moves the clock: not at all (a service on the system clock), or a
/// fixed clock from a start, by a random time up to a longest step before each command.
#[derive(Clone, Copy)]
enum Pace {
    SystemClock,
    From(DateTime<Utc>, chrono::Duration),
}

/// Drives `steps` random commands over all kinds through the API; returns where a fixed clock
/// was left.
async fn random_history(app: &TestApp, seed: u64, steps: usize, pace: Pace) -> Option<DateTime<Utc>> {
    let mut dice = Dice(seed);
    let mut cases: Vec<(String, String)> = Vec::new();
    let kinds = ["suggestion", "suggestion", "micro_consultation", "joint_research"];
    let mut moment = match pace {
        Pace::SystemClock => None,
        Pace::From(start, _) => Some(start),
    };
    for step in 0..steps {
        if let (Some(now), Pace::From(_, longest)) = (&mut moment, pace) {
            *now += chrono::Duration::seconds(dice.below(longest.num_seconds() as usize) as i64);
            app.set_time(*now);
        }
        if cases.is_empty() || dice.below(6) == 0 {
            let kind = *dice.pick(&kinds);
            let mut body = suggestion();
            body["kind"] = json!(kind);
            body["category"] = json!(dice.pick(&["交通", "住房", "教育"]));
            body["jurisdiction"] = json!(dice.pick(&["东胜区", "康巴什区", "达拉特旗"]));
            if kind == "joint_research" {
                body["lead_member"] = json!(MEMBER_ID);
            }
            let token = match (kind, dice.below(2)) {
                ("suggestion", 0) => &app.tokens.citizen,
                _ => &app.tokens.member,
            };
            let created: Value = app.submit(token, &body).await.json().await.unwrap();
            cases.push((created["id"].as_str().unwrap().to_owned(), kind.to_owned()));
            continue;
        }
        if step % 17 == 0 {
            let date = moment.map_or_else(|| "2026-01-15".to_owned(), |now| now.format("%Y-%m-%d").to_string());
            let contact = json!({"date": date, "constituent": "居民", "summary": "反映情况"});
            let response = app
                .post(
                    &app.tokens.member,
                    &format!("/api/v1/members/{MEMBER_ID}/contacts"),
                    &contact,
                )
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let (id, kind) = dice.pick(&cases).clone();
        let token = if dice.below(3) == 0 {
            app.tokens.member.clone()
        } else {
            app.tokens.staff.clone()
        };
        let case: Value = app
            .get(&token, &format!("/api/v1/cases/{id}"))
            .await
            .json()
            .await
            .unwrap();
        // A member sees only the cases it carries.
        let Ok(allowed) = serde_json::from_value::<Vec<String>>(case["allowed_actions"].clone()) else {
            continue;
        };
        if allowed.is_empty() {
            continue;
        }
        let action = dice.pick(&allowed).clone();
        let body = body_for(&action, &kind, token == app.tokens.staff, &mut dice);
        let response = app.act(&token, &id, &action, &body).await;
        let status = response.status();
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{action} on {kind}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }
    moment
}

async fn a_projection_rebuilt_from_zero_equals_the_live_one_after_a_long_random_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    random_history(&app, 0x6c69_616e_7869_6e01, 240, Pace::SystemClock).await;
    app.settled().await;
    let projector = Projector::new(app.test_store.store.clone(), domain::Policy::default());
    let live = projector.dump().await.unwrap();
    assert!(live["case_summaries"].len() > 20, "the history made cases");
    assert!(!live["member_records"].is_empty(), "the history made duty records");
    // What the bulk load must escape, in a title (a line) and a body (free text).
    let mut odd = suggestion();
    odd["title"] = json!("反斜杠 \\ 与 \"引号\"");
    odd["body"] = json!("第一行\t制表\r\n第二行 \\N 不是空值");
    app.submitted(&odd).await;
    app.settled().await;
    let layout = view_layout(&app.test_store.store).await;
    assert!(layout.len() >= 10, "{layout:?}");
    if backend == Backend::Postgres {
        assert!(
            layout.contains(&"case_summaries WITH toast_tuple_target=8160".to_owned()),
            "{layout:?}"
        );
    }
    // Commands keep coming while the rebuild runs; the live runners catch up after it.
    let all = names();
    let (rebuilt, ()) = tokio::join!(projector.rebuild(&all, |_| {}), async {
        random_history(&app, 0x6c69_616e_7869_6e02, 20, Pace::SystemClock).await;
    });
    let rebuilt = rebuilt.unwrap();
    assert!(rebuilt.position > 0);
    assert_eq!(
        view_layout(&app.test_store.store).await,
        layout,
        "the views keep their indexes and storage parameters"
    );
    assert_eq!(columns_unlike_summaries(&app.test_store.store).await, 0);
    app.settled().await;
    let live = projector.dump().await.unwrap();
    projector.rebuild(&names(), |_| {}).await.unwrap();
    assert_eq!(projector.dump().await.unwrap(), live);
}

/// Case summaries whose columns (text, and the handling units) differ from the summary they
/// were taken from.
async fn columns_unlike_summaries(store: &Store) -> i64 {
    match store {
        Store::Postgres(pool) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_summaries, LATERAL (SELECT summary::jsonb AS whole) AS document \
             WHERE title <> whole ->> 'title' OR body <> whole ->> 'body' OR id <> whole ->> 'id' \
                OR handlers <> whole -> 'handlers'",
        )
        .fetch_one(pool)
        .await
        .unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_summaries WHERE title <> json_extract(summary, '$.title') \
               OR body <> json_extract(summary, '$.body') OR id <> json_extract(summary, '$.id') \
               OR json(handlers) <> json_extract(summary, '$.handlers')",
        )
        .fetch_one(pool)
        .await
        .unwrap(),
    }
}

async fn execute(store: &Store, statement: &str) {
    match store {
        Store::Postgres(pool) => drop(sqlx::query(statement).execute(pool).await.unwrap()),
        Store::Sqlite(pool) => drop(sqlx::query(statement).execute(pool).await.unwrap()),
    }
}

/// The outcome cells' month rows (`dimension month`) once the projection's runner has rolled
/// up every month that has day rows.
async fn months_rolled_up(store: &Store) -> Vec<String> {
    for _ in 0..200 {
        if let Some(months) = service::read::outcome_cells::month_rows_when_settled(store, &Policy::default())
            .await
            .unwrap()
        {
            return months;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the months were not rolled up");
}

/// The value of the case summaries' series `name` in a `/metrics` text, if it has one.
fn case_summaries_series(metrics: &str, name: &str) -> Option<f64> {
    let series = format!("{name}{{projection=\"case_summaries\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map(|value| value.parse().unwrap())
}

/// The month rows the service says it has rolled up (`/metrics`), once it says so.
async fn settled_rows_counted(app: &TestApp) -> f64 {
    for _ in 0..40 {
        let metrics = app.metrics().await;
        if let Some(rows) = case_summaries_series(&metrics, "lianxin_projection_settled_rows_total") {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no month rows counted as rolled up");
}

/// How many events and in how many batches the service says it applied to the case summaries
/// (`/metrics`), once it has counted at least `events`.
async fn applied_counted(app: &TestApp, events: f64) -> (f64, f64) {
    let counted = |metrics: &str, name: &str| case_summaries_series(metrics, name).unwrap_or(0.0);
    for _ in 0..80 {
        let metrics = app.metrics().await;
        let applied = counted(&metrics, "lianxin_projection_events_total");
        if applied >= events {
            return (applied, counted(&metrics, "lianxin_projection_batches_total"));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {events} events counted as applied");
}

/// Operators see how the load sizes the batches: `/metrics` counts the batches beside the
/// events they applied. (A runner's first pass over a new log is a rebuild, which counts
/// neither: the count starts once the first case is read back.)
async fn the_projections_count_their_batches_beside_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.submit(&app.tokens.citizen, &suggestion()).await;
    let position = first.json::<Value>().await.unwrap()["position"].as_i64().unwrap();
    let read = app
        .get(&app.tokens.staff, &format!("/api/v1/cases?min_position={position}"))
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    let (events_before, batches_before) = applied_counted(&app, 0.0).await;
    for _ in 0..3 {
        app.submitted(&suggestion()).await;
    }
    let (events, batches) = applied_counted(&app, events_before + 3.0).await;
    let (events, batches) = (events - events_before, batches - batches_before);
    assert!(
        (1.0..=events).contains(&batches),
        "{batches} batches for {events} events"
    );
}

/// The indexes and keys of the views, and their storage parameters, as the catalog describes
/// them.
async fn view_layout(store: &Store) -> Vec<String> {
    match store {
        Store::Postgres(pool) => sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
               AND tablename IN ('case_summaries', 'outcome_cells', 'member_cases', 'member_credits') \
             UNION ALL \
             SELECT relname || ' WITH ' || array_to_string(reloptions, ', ') FROM pg_class \
              WHERE relnamespace = current_schema()::regnamespace AND reloptions IS NOT NULL \
                AND relname IN ('case_summaries', 'outcome_cells', 'member_cases', 'member_credits') \
             ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(
            "SELECT name || ' ' || COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' \
               AND tbl_name IN ('case_summaries', 'outcome_cells', 'member_cases', 'member_credits') ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    }
}

/// `value` as JSON read from its text, as an answer is: serde_json may read a float one unit in
/// the last place off, but reads the same text the same way.
fn as_read(value: Value) -> Value {
    serde_json::from_str(&value.to_string()).unwrap()
}

/// The outcome funnel and the published figures the service reads from its day cells and
/// month roll-ups (and, for the parts of days a period given to the second covers, from the
/// summaries) equal those computed over every case summary in the period, for periods on and off
/// day and month starts and every grouping; the cells rebuilt from zero equal the live ones.
async fn outcome_figures_from_the_cells_equal_those_computed_over_the_case_summaries(backend: Backend) {
    let start = Utc.with_ymd_and_hms(2025, 11, 3, 9, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let pace = Pace::From(start, chrono::Duration::hours(24));
    let now = random_history(&app, 0x6f75_7463_6f6d_6573, 600, pace).await.unwrap();
    app.settled().await;
    let projector = Projector::new(app.test_store.store.clone(), domain::Policy::default());
    let summaries = |live: &HashMap<&str, Vec<String>>| -> Vec<CaseSummary> {
        live["case_summaries"]
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let live = projector.dump().await.unwrap();
    let cases = summaries(&live);
    let policy = domain::Policy::default();
    let months: HashSet<String> = cases
        .iter()
        .map(|case| projections::local_month_of(case.submitted_at, policy.offset))
        .collect();
    assert!(
        cases.len() > 40 && months.len() > 5,
        "{} cases in {} months",
        cases.len(),
        months.len()
    );
    assert!(cases.iter().any(|case| case.reopened > 0), "some case was reopened");
    assert!(cases.iter().any(|case| case.is_overdue(now)), "some case is overdue");

    let periods = [
        // Whole months of the deployment's days: the month roll-ups.
        Some(("2025-11-01", "2026-11-01")),
        // Whole months and the days at both ends.
        Some(("2025-12-12", "2026-02-25")),
        // Days within two months.
        Some(("2025-12-03", "2026-01-28")),
        // Given to the second: parts of days from the summaries, on UTC month starts.
        Some(("2026-01-01T00:00:00Z", "2026-03-05T00:00:00Z")),
        Some(("2025-12-10T08:30:15Z", "2025-12-20T00:00:00Z")),
        // The default: this year so far.
        None,
    ];
    let store = &app.test_store.store;
    let rolled_up = months_rolled_up(store).await;
    assert!(rolled_up.contains(&"all 2026-03".to_owned()), "{rolled_up:?}");
    assert!(settled_rows_counted(&app).await >= rolled_up.len() as f64);
    for period in periods {
        assert_cells_answer_the_figures_of(&app, period, &cases, now).await;
    }
    let overdue_list = || async {
        app.get(&app.tokens.staff, "/api/v1/overdue")
            .await
            .json::<Value>()
            .await
            .unwrap()
    };
    let overdue = overdue_list().await;
    let counted = |list: &Value| -> u64 {
        let departments = list.as_array().unwrap().iter();
        departments
            .map(|department| department["count"].as_u64().unwrap())
            .sum()
    };
    assert!(counted(&overdue) > 0, "{overdue}");

    // Every month as live batches leave the months they change until the runner settles them:
    // without a roll-up, read from its days.
    execute(store, "DELETE FROM outcome_cells WHERE span = 'month'").await;
    for period in periods {
        assert_cells_answer_the_figures_of(&app, period, &cases, now).await;
    }
    let from_days = overdue_list().await;
    assert_eq!(from_days, overdue, "the overdue counts from the days' deadlines");

    // A case submitted into months read already (the clock set back): their rows change, and
    // the service decodes them again rather than answer from the rows it decoded before. The
    // batch also has the runner roll up every month again.
    app.set_time(Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap());
    app.submitted(&suggestion()).await;
    app.set_time(now);
    app.settled().await;
    let live = projector.dump().await.unwrap();
    let cases = summaries(&live);
    assert_cells_answer_the_figures_of(&app, periods[0], &cases, now).await;
    assert_eq!(months_rolled_up(store).await, rolled_up);
    assert_cells_answer_the_figures_of(&app, periods[0], &cases, now).await;

    assert!(!live["outcome_cells"].is_empty());
    projector.rebuild(&[projections::CASE_SUMMARIES], |_| {}).await.unwrap();
    assert_eq!(projector.dump().await.unwrap(), live);

    // The month in progress is left to its days, or every settle would rewrite it: a case of
    // this month and one of an ended month, then the settle that rolls the ended one up (and
    // would roll up this one, changed before it).
    for at in [Utc::now(), Utc.with_ymd_and_hms(2026, 3, 11, 9, 0, 0).unwrap()] {
        app.set_time(at);
        app.submitted(&suggestion()).await;
    }
    app.settled().await;
    let this_month = projections::local_month_of(Utc::now(), policy.offset);
    let months = months_rolled_up(store).await;
    assert!(months.contains(&"all 2026-03".to_owned()), "{months:?}");
    assert!(!months.iter().any(|month| month.ends_with(&this_month)), "{months:?}");
}

/// `GET /api/v1/outcomes` of `period` (the default when `None`) in every grouping answers the
/// figures computed over `cases` as of `now`.
async fn assert_cells_answer_the_figures_of(
    app: &TestApp,
    period: Option<(&str, &str)>,
    cases: &[CaseSummary],
    now: DateTime<Utc>,
) {
    let policy = domain::Policy::default();
    let settings = FigureSettings {
        policy: &policy,
        basically_satisfied_weight: 1.0,
    };
    let moment = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
    for group_by in GROUPINGS {
        let mut query = match period {
            Some((from, to)) => format!("from={from}&to={to}"),
            None => String::new(),
        };
        if let Some(group_by) = group_by {
            query += &format!(
                "&group_by={}",
                serde_json::to_value(group_by).unwrap().as_str().unwrap()
            );
        }
        let response: Value = app
            .get(&app.tokens.staff, &format!("/api/v1/outcomes?{query}"))
            .await
            .json()
            .await
            .unwrap();
        let (from, to) = (
            moment(response["from"].as_str().unwrap()),
            moment(response["to"].as_str().unwrap()),
        );
        let covered: Vec<&CaseSummary> = cases
            .iter()
            .filter(|case| (from..to).contains(&case.submitted_at))
            .collect();
        let expected = outcome_figures(covered.iter().copied(), group_by, now, policy.offset);
        assert!(
            expected.iter().any(|figures| figures.submitted > 0),
            "{query}: no cases"
        );
        assert_eq!(response["groups"], as_read(json!(expected)), "{query}");
        let published = figures(covered.iter().copied(), group_by, now, settings);
        assert_eq!(response["figures"], as_read(json!(published)), "{query}");
    }
}

/// A suggestion relayed by the member and closed solved, through the engine.
async fn solved_with_a_member(engine: &Engine) {
    let case = suggestion_through(engine, "c-1", Role::Citizen).await;
    let relay = ActionInput::from_json(Action::Relay, json!({"note": "反映"})).unwrap();
    engine
        .act(case, command_context(MEMBER_ID, Role::Member), relay)
        .await
        .unwrap();
    let steps = [
        (Action::Assign, json!({"department": "市住建局"})),
        (Action::Consult, json!({"note": "协商", "members": [MEMBER_ID]})),
        (Action::Adopt, json!({"by": "市住建局", "extent": "full"})),
        (Action::Close, json!({"outcome": "A", "summary": "已解决"})),
    ];
    staff_acts_on(engine, case, steps).await;
}

/// The runners given their engine's appends take them from memory and read none of them back;
/// another engine's (another process's) they read from the log; and the views they build
/// either way equal a rebuild's.
async fn the_runners_take_their_engines_appends_from_memory_and_build_what_a_rebuild_builds(backend: Backend) {
    let test = TestStore::new(backend).await;
    let engine = Engine::new(test.store.clone(), Policy::default(), Clock::System);
    let projector = Projector::new(test.store.clone(), Policy::default()).with_recent_appends(engine.follow_appends());
    let caught_up = || async {
        for name in names() {
            projector.catch_up(name, |_| {}).await.unwrap();
        }
    };
    for _ in 0..2 {
        solved_with_a_member(&engine).await;
    }
    caught_up().await;
    assert_eq!(projector.events_read_back(), 0, "every event was this engine's");

    let other = Engine::new(test.store.clone(), Policy::default(), Clock::System);
    solved_with_a_member(&other).await;
    solved_with_a_member(&engine).await;
    solved_with_a_member(&other).await;
    caught_up().await;
    assert_eq!(
        projector.events_read_back(),
        12,
        "the other engine's two cases of six events, read once for all the runners"
    );
    let live = projector.dump().await.unwrap();
    assert!(live.values().any(|rows| rows.len() == 5), "{live:?}");
    projector.rebuild(&names(), |_| {}).await.unwrap();
    assert_eq!(projector.dump().await.unwrap(), live);
}

/// A batch stopped between its view writes and its checkpoint leaves the projection where the
/// previous batch left it; after a restart nothing is lost or counted twice.
async fn a_projector_stopped_before_its_checkpoint_loses_and_repeats_nothing(backend: Backend) {
    let test = TestStore::new(backend).await;
    let engine = Engine::new(
        test.store.clone(),
        Policy::default(),
        Clock::Fixed(Arc::new(Mutex::new(at(3, 1)))),
    );
    solved_with_a_member(&engine).await;
    let projector = Projector::new(test.store.clone(), domain::Policy::default());
    for name in names() {
        projector.catch_up(name, |_| {}).await.unwrap();
    }
    let first = projector.dump().await.unwrap();
    let first_checkpoints = projector.checkpoints().await.unwrap();

    solved_with_a_member(&engine).await;
    let crashing = Projector::new(test.store.clone(), domain::Policy::default()).with_fault(Arc::new(|_, _| true));
    for name in names() {
        let failed = crashing.catch_up(name, |_| {}).await;
        assert!(failed.is_err(), "{name}: the injected fault stops the batch");
    }
    let after_crash = projector.checkpoints().await.unwrap();
    let positions = |checkpoints: &[service::read::Checkpoint]| -> Vec<i64> {
        checkpoints.iter().map(|checkpoint| checkpoint.position).collect()
    };
    assert_eq!(
        positions(&after_crash),
        positions(&first_checkpoints),
        "the checkpoints stayed"
    );
    assert_eq!(projector.dump().await.unwrap(), first, "the views stayed");

    let restarted = Projector::new(test.store.clone(), domain::Policy::default());
    for name in names() {
        restarted.catch_up(name, |_| {}).await.unwrap();
    }
    let caught_up = restarted.dump().await.unwrap();
    assert_eq!(caught_up["case_summaries"].len(), 2);
    let credited = |activity: &str| {
        caught_up["member_records"]
            .iter()
            .filter(|line| line.starts_with(&format!("{MEMBER_ID} {activity} ")))
            .count()
    };
    assert_eq!(caught_up["member_records"].len(), 6);
    assert_eq!(
        [
            credited("voices_relayed"),
            credited("consultations"),
            credited("problems_solved")
        ],
        [2, 2, 2],
        "two relays, two consultations, two solved: each counted once"
    );
    let checkpoints = positions(&restarted.checkpoints().await.unwrap());
    let failed = crashing.rebuild(&names(), |_| {}).await;
    assert!(
        failed.is_err(),
        "the injected fault stops the rebuild before its commit"
    );
    assert_eq!(positions(&restarted.checkpoints().await.unwrap()), checkpoints);
    assert_eq!(
        restarted.dump().await.unwrap(),
        caught_up,
        "a failed rebuild changes nothing"
    );
    restarted.rebuild(&names(), |_| {}).await.unwrap();
    assert_eq!(
        restarted.dump().await.unwrap(),
        caught_up,
        "equal to a rebuild from zero"
    );
}

/// A projection a migration started again (emptied, checkpoint 0) is rebuilt in one pass when a
/// service starts; one that has applied events is left to catch up.
async fn a_projection_started_again_is_rebuilt_in_one_pass(backend: Backend) {
    let test = TestStore::new(backend).await;
    let engine = Engine::new(
        test.store.clone(),
        Policy::default(),
        Clock::Fixed(Arc::new(Mutex::new(at(3, 1)))),
    );
    let projector = Projector::new(test.store.clone(), domain::Policy::default());
    for name in names() {
        assert_eq!(
            projector.rebuild_if_never_applied(name).await.unwrap(),
            None,
            "an empty log"
        );
    }
    solved_with_a_member(&engine).await;
    solved_with_a_member(&engine).await;
    for name in names() {
        projector.catch_up(name, |_| {}).await.unwrap();
    }
    let live = projector.dump().await.unwrap();
    let head = test.store.head_position().await.unwrap();
    for name in names() {
        assert_eq!(
            projector.rebuild_if_never_applied(name).await.unwrap(),
            None,
            "{name} is built"
        );
    }

    let started_again = [
        "DELETE FROM member_cases",
        "DELETE FROM member_credits",
        "DELETE FROM member_year_counts",
        "DELETE FROM members",
        "DELETE FROM member_decisions",
        "UPDATE projection_checkpoints SET position = 0 WHERE name = 'member_records'",
    ];
    for statement in started_again {
        execute(&test.store, statement).await;
    }
    let rebuilt = projector
        .rebuild_if_never_applied(projections::MEMBER_RECORDS)
        .await
        .unwrap()
        .expect("a projection at 0 over a log with events is rebuilt");
    assert_eq!(rebuilt.position, head);
    assert_eq!(projector.dump().await.unwrap(), live);
    assert_eq!(
        projector
            .rebuild_if_never_applied(projections::MEMBER_RECORDS)
            .await
            .unwrap(),
        None,
        "once"
    );

    // A runner started over a projection started again rebuilds it before it counts as running.
    execute(&test.store, "DELETE FROM member_cases").await;
    execute(
        &test.store,
        "UPDATE projection_checkpoints SET position = 0 WHERE name = 'member_records'",
    )
    .await;
    let started = Projector::new(test.store.clone(), domain::Policy::default());
    started.spawn(engine.appended());
    tokio::time::timeout(Duration::from_secs(30), started.running())
        .await
        .expect("the runners start");
    let member_records = started
        .checkpoints()
        .await
        .unwrap()
        .into_iter()
        .find(|checkpoint| checkpoint.name == projections::MEMBER_RECORDS)
        .unwrap();
    assert_eq!(member_records.position, head, "rebuilt before running");
    assert_eq!(started.dump().await.unwrap(), live);
}

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 9, 0, 0).unwrap()
}

/// Runs `steps` on case `id` as staff, each at its own moment.
async fn walk(app: &TestApp, id: &str, steps: &[(DateTime<Utc>, &str, Value)]) {
    for (moment, action, body) in steps {
        app.set_time(*moment);
        app.staff_does(id, action, body).await;
    }
}

async fn submitted_at(app: &TestApp, moment: DateTime<Utc>, kind: &str, category: &str) -> String {
    app.set_time(moment);
    let mut body = suggestion();
    body["kind"] = json!(kind);
    body["category"] = json!(category);
    let token = if kind == "suggestion" {
        &app.tokens.citizen
    } else {
        &app.tokens.staff
    };
    app.submitted_by(token, &body).await
}

async fn outcome_figures_match_a_year_worked_out_by_hand(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(1, 1)).await;
    let assign = |department: &str| json!({"department": department});
    let consult = json!({"note": "协商"});
    let c1 = submitted_at(&app, at(1, 10), "suggestion", "交通").await;
    walk(
        &app,
        &c1,
        &[
            (at(1, 12), "assign", assign("市交通局")),
            (at(1, 13), "consult", consult.clone()),
            (at(1, 15), "adopt", json!({"by": "市交通局", "extent": "full"})),
            (at(1, 20), "close", json!({"outcome": "A", "summary": "已解决"})),
        ],
    )
    .await;
    let c2 = submitted_at(&app, at(2, 1), "suggestion", "住房").await;
    walk(
        &app,
        &c2,
        &[
            (at(2, 5), "assign", assign("市住建局")),
            (at(2, 8), "decline", json!({"reason": "条件不具备"})),
            (at(2, 11), "close", json!({"outcome": "C", "summary": "已说明"})),
        ],
    )
    .await;
    let c3 = submitted_at(&app, at(3, 1), "suggestion", "交通").await;
    app.set_time(at(3, 1));
    assert_eq!(
        app.act(&app.tokens.member, &c3, "relay", &json!({"note": "反映"}))
            .await
            .status(),
        StatusCode::OK
    );
    walk(
        &app,
        &c3,
        &[
            (at(3, 2), "assign", assign("市交通局")),
            (at(3, 5), "consult", consult.clone()),
            (at(3, 20), "adopt", json!({"by": "市交通局", "extent": "partial"})),
            (at(4, 1), "close", json!({"outcome": "B", "summary": "列入计划"})),
        ],
    )
    .await;
    let c4 = submitted_at(&app, at(4, 1), "suggestion", "教育").await;
    walk(&app, &c4, &[(at(4, 4), "assign", assign("市教育局"))]).await;
    submitted_at(&app, at(5, 1), "suggestion", "教育").await;
    let c6 = submitted_at(&app, at(1, 5), "micro_consultation", "交通").await;
    walk(
        &app,
        &c6,
        &[
            (at(1, 6), "assign", assign("街道办")),
            (at(1, 8), "convene", json!({"venue": "凳凳议事会"})),
            (at(1, 10), "consult", consult.clone()),
            (at(1, 15), "adopt", json!({"by": "街道办", "extent": "full"})),
            (at(1, 25), "close", json!({"outcome": "A", "summary": "已解决"})),
        ],
    )
    .await;
    app.set_time(at(1, 21));
    for (id, rating) in [(&c1, "satisfied"), (&c2, "unsatisfied")] {
        let rated = app
            .act(&app.tokens.citizen, id, "feedback", &json!({"rating": rating}))
            .await;
        assert_eq!(rated.status(), StatusCode::OK);
    }
    app.set_time(at(4, 2));
    let rated = app
        .act(
            &app.tokens.citizen,
            &c3,
            "feedback",
            &json!({"rating": "basically_satisfied"}),
        )
        .await;
    assert_eq!(rated.status(), StatusCode::OK);
    let last_position = rated.json::<Value>().await.unwrap()["position"].as_i64().unwrap();

    app.set_time(at(6, 1));
    let figures: Value = app
        .get(
            &app.tokens.staff,
            &format!("/api/v1/outcomes?from=2026-01-01&to=2027-01-01&min_position={last_position}"),
        )
        .await
        .json()
        .await
        .unwrap();
    let all = &figures["groups"][0];
    assert_eq!(all["group"], "all");
    let expected = json!({
        "group": "all", "submitted": 6, "relayed": 1, "assigned": 5, "consulted": 3, "adopted": 3,
        "declined": 1, "closed": 4, "closed_by_outcome": {"A": 2, "B": 1, "C": 1}, "rated": 3,
        "resolution_rate": {"numerator": 2, "denominator": 4, "value": 0.5},
        "adoption_rate": {"numerator": 3, "denominator": 4, "value": 0.75},
        "satisfaction_rate": {"numerator": 2, "denominator": 3, "value": 2.0 / 3.0},
        "on_time_rate": {"numerator": 3, "denominator": 4, "value": 0.75},
        "days_to_assign": {"count": 5, "median": 2.0, "p90": 4.0},
        "days_to_close": {"count": 4, "median": 15.0, "p90": 31.0},
        "open_overdue": 1
    });
    assert_eq!(all, &expected);

    let by_kind: Value = app
        .get(
            &app.tokens.staff,
            "/api/v1/outcomes?from=2026-01-01&to=2027-01-01&group_by=kind",
        )
        .await
        .json()
        .await
        .unwrap();
    let groups: HashMap<String, u64> = by_kind["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            (
                group["group"].as_str().unwrap().to_owned(),
                group["submitted"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        HashMap::from([("suggestion".to_owned(), 5), ("micro_consultation".to_owned(), 1)])
    );
    let by_month: Value = app
        .get(
            &app.tokens.staff,
            "/api/v1/outcomes?from=2026-01-01&to=2026-02-01&group_by=month",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_month["groups"][0]["group"], "2026-01");
    assert_eq!(by_month["groups"][0]["submitted"], 2);

    let overdue: Value = app
        .get(&app.tokens.staff, "/api/v1/overdue")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overdue[0]["department"], "市教育局");
    assert_eq!(overdue[0]["cases"][0]["id"], c4.as_str());
}

async fn two_years_below_quota_is_flagged_when_the_second_year_ends(backend: Backend) {
    let app = TestApp::spawn_at(backend, Utc.with_ymd_and_hms(2025, 6, 1, 9, 0, 0).unwrap()).await;
    let log = |date: &'static str| {
        let app = &app;
        async move {
            let contact = json!({"date": date, "constituent": "牧民", "summary": "走访"});
            let response = app
                .post(
                    &app.tokens.member,
                    &format!("/api/v1/members/{MEMBER_ID}/contacts"),
                    &contact,
                )
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
            response.json::<Value>().await.unwrap()["position"].as_i64().unwrap()
        }
    };
    log("2025-06-01").await;
    app.set_time(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap());
    let position = log("2026-06-01").await;
    let standing = |year: i32, moment: DateTime<Utc>| {
        let app = &app;
        async move {
            app.set_time(moment);
            let body: Value = app
                .get(
                    &app.tokens.staff,
                    &format!("/api/v1/members/assessment?year={year}&min_position={position}"),
                )
                .await
                .json()
                .await
                .unwrap();
            let member = body["members"]
                .as_array()
                .unwrap()
                .iter()
                .find(|member| member["member_id"] == MEMBER_ID)
                .cloned()
                .unwrap();
            member["standing"].as_str().unwrap().to_owned()
        }
    };
    // The duty year ends in the deployment's time zone: 23:00 and midnight in Beijing.
    let last_day = Utc.with_ymd_and_hms(2026, 12, 31, 15, 0, 0).unwrap();
    let new_year = Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap();
    assert_eq!(standing(2025, last_day).await, "below_quota");
    assert_eq!(standing(2026, last_day).await, "at_risk");
    assert_eq!(standing(2026, new_year).await, "below_two_years_running");
    let record: Value = app
        .get(
            &app.tokens.staff,
            &format!("/api/v1/members/{MEMBER_ID}/record?year=2026"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["contacts"], 1);
    assert_eq!(record["standing"], "below_two_years_running");
    assert_eq!(
        record["shortfalls"][0],
        json!({"quota": "contacts", "required": 5, "actual": 1})
    );
}

/// Cases submitted within one microsecond page one by one without a skip or a repeat, whatever
/// their ids (SQLite keeps nanoseconds).
async fn cases_of_one_microsecond_page_without_a_skip(backend: Backend) {
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::microseconds(7);
    let app = TestApp::spawn_at(backend, start).await;
    let mut ids = Vec::new();
    for nanos in [0, 300, 600] {
        app.set_time(start + chrono::Duration::nanoseconds(nanos));
        ids.push(app.submitted(&suggestion()).await);
    }
    app.settled().await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let page: Value = app
            .get(&app.tokens.staff, &format!("/api/v1/cases?limit=1{cursor}"))
            .await
            .json()
            .await
            .unwrap();
        seen.extend(page["cases"].as_array().unwrap().iter().map(|case| case["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    ids.sort();
    let mut seen: Vec<String> = seen.iter().map(|id| id.as_str().unwrap().to_owned()).collect();
    seen.sort();
    assert_eq!(seen, ids);
}

async fn the_case_list_filters_pages_and_reads_its_own_writes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for (title, category) in [("充电桩", "交通"), ("学校门口拥堵", "交通"), ("老旧管网", "住房")] {
        let mut body = suggestion();
        body["title"] = json!(title);
        body["category"] = json!(category);
        ids.push(app.submitted(&body).await);
    }
    let assigned = app
        .staff_does(&ids[2], "assign", &json!({"department": "市住建局"}))
        .await;
    let position = assigned["position"].as_i64().unwrap();
    let list = |query: String| {
        let app = &app;
        async move {
            let response = app.get(&app.tokens.staff, &format!("/api/v1/cases?{query}")).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let titles = |page: &Value| -> Vec<String> {
        page["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|case| case["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = list(format!("min_position={position}")).await;
    assert_eq!(titles(&all), ["老旧管网", "学校门口拥堵", "充电桩"], "newest first");
    assert_eq!(
        titles(&list("category=%E4%BA%A4%E9%80%9A".to_owned()).await),
        ["学校门口拥堵", "充电桩"]
    );
    assert_eq!(titles(&list("status=assigned".to_owned()).await), ["老旧管网"]);
    assert_eq!(
        titles(&list("department=%E5%B8%82%E4%BD%8F%E5%BB%BA%E5%B1%80".to_owned()).await),
        ["老旧管网"]
    );
    assert_eq!(titles(&list("q=%E6%8B%A5%E5%A0%B5".to_owned()).await), ["学校门口拥堵"]);
    assert_eq!(titles(&list("overdue=true".to_owned()).await), Vec::<String>::new());
    assert_eq!(
        titles(&list("kind=joint_research".to_owned()).await),
        Vec::<String>::new()
    );
    let first = list("limit=2".to_owned()).await;
    assert_eq!(titles(&first), ["老旧管网", "学校门口拥堵"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = list(format!("limit=2&cursor={cursor}")).await;
    assert_eq!(titles(&second), ["充电桩"]);
    assert!(second.get("next_cursor").is_none());
    for bad in [
        "limit=0",
        "status=lost",
        "cursor=nonsense",
        "submitted_from=yesterday",
        "colour=red",
    ] {
        problem(
            app.get(&app.tokens.staff, &format!("/api/v1/cases?{bad}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let beyond = app
        .get(
            &app.tokens.staff,
            &format!("/api/v1/cases?min_position={}", position + 1000),
        )
        .await;
    assert_eq!(
        problem(beyond, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "min_position"
    );
}

/// Two service processes on one database take commands at once; each projection is advanced
/// by one of them at a time, and what they build equals a fresh rebuild.
async fn two_processes_on_one_database_build_the_views_a_rebuild_builds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.sibling().await;
    let through = |base: String, staff: String, client: reqwest::Client| async move {
        for round in 0..12 {
            let created: Value = client
                .post(format!("{base}/api/v1/cases"))
                .bearer_auth(&staff)
                .json(&suggestion())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = created["id"].as_str().unwrap().to_owned();
            for (action, body) in [
                ("assign", json!({"department": format!("部门{}", round % 3)})),
                ("consult", json!({"note": "协商", "members": [MEMBER_ID]})),
            ] {
                let response = client
                    .post(format!("{base}/api/v1/cases/{id}/{action}"))
                    .bearer_auth(&staff)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        }
    };
    tokio::join!(
        through(app.base_url.clone(), app.tokens.staff.clone(), app.client.clone()),
        through(sibling.base_url.clone(), app.tokens.staff.clone(), app.client.clone()),
    );
    app.settled().await;
    let projector = Projector::new(app.test_store.store.clone(), domain::Policy::default());
    let live = projector.dump().await.unwrap();
    assert_eq!(live["case_summaries"].len(), 24);
    assert_eq!(live["member_records"].len(), 24, "one credit per session");
    assert!(
        live["member_records"]
            .iter()
            .all(|line| line.starts_with(&format!("{MEMBER_ID} consultations "))),
        "{:?}",
        live["member_records"]
    );
    projector.rebuild(&names(), |_| {}).await.unwrap();
    assert_eq!(projector.dump().await.unwrap(), live);
}

/// Read-your-writes holds on every process of a deployment, not only on the one whose runners
/// apply the projections: a process that does not apply them hears of the batches another one
/// commits. Each process writes a case and at once reads the list with the write's position;
/// the answer must come as the batch commits, not at the wait's five-second limit (the margin
/// tells a missed batch from a slow one; the test does not measure speed).
async fn a_write_is_read_back_at_once_on_either_of_two_processes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.sibling().await;
    let staff = &app.tokens.staff;
    for (round, base) in [&app.base_url, &sibling.base_url].into_iter().enumerate() {
        for _ in 0..3 {
            let created: Value = app
                .post_to(base, staff, "/api/v1/cases", &suggestion())
                .await
                .json()
                .await
                .unwrap();
            let (id, position) = (created["id"].as_str().unwrap(), created["position"].as_i64().unwrap());
            let path = format!("/api/v1/cases?min_position={position}");
            let read = app.get_from(base, staff, &path);
            let listed: Value = tokio::time::timeout(Duration::from_secs(3), read)
                .await
                .unwrap_or_else(|_| panic!("process {round} waited for a batch another process committed"))
                .json()
                .await
                .unwrap();
            let listed_ids = listed["cases"].as_array().unwrap().iter().map(|case| &case["id"]);
            assert!(
                listed_ids.into_iter().any(|listed| listed == id),
                "process {round} lists its write"
            );
        }
    }
}

/// Every page of `/cases?{query}` as `token` sees it, `limit` at a time, following the cursors;
/// the ids in the order they came.
async fn every_page(app: &TestApp, token: &str, query: &str, limit: usize, min_position: i64) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let after = cursor
            .as_ref()
            .map(|cursor| format!("&cursor={cursor}"))
            .unwrap_or_default();
        let response = app
            .get(
                token,
                &format!("/api/v1/cases?{query}&limit={limit}&min_position={min_position}{after}"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let page: Value = response.json().await.unwrap();
        let cases = page["cases"].as_array().unwrap();
        assert!(cases.len() <= limit);
        ids.extend(cases.iter().map(|case| case["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(cases.len(), limit, "only a full page has a next one");
                cursor = Some(next.to_owned());
            }
            None => return ids,
        }
    }
    panic!("the pages of {query} never ended");
}

/// A member's list holds the cases it submitted and those it carries (relayed, reported,
/// convened into), each once, in the order and with the filters of everyone else's list. The
/// auditor's list (every case, one plain query) is the oracle: the member's pages, at every
/// page size, are the auditor's cases of that filter that are the member's.
async fn a_members_list_holds_exactly_the_cases_it_submitted_or_carries_in_pages(backend: Backend) {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let minutes = |minutes: i64| start + chrono::Duration::minutes(minutes);
    let with = |kind: &str, title: &str, channel: Option<&str>| {
        let mut body = suggestion();
        body["kind"] = json!(kind);
        body["title"] = json!(title);
        if let Some(channel) = channel {
            body["channel"] = json!(channel);
        }
        body
    };
    let mut members = HashSet::new();
    let mut relayed = Vec::new();
    // Several cases share a submission time, in both halves, so that ids break the ties.
    let plan: [(i64, &str, &str, &str); 14] = [
        (0, "citizen", "suggestion", "路灯不亮"),
        (0, "member", "suggestion", "委员建议：老旧管网"),
        (0, "relayed", "suggestion", "学校门口拥堵"),
        (1, "member", "micro_consultation", "协商：停车难"),
        (2, "relayed", "suggestion", "充电桩安装难"),
        (2, "relayed", "suggestion", "菜市场改造"),
        (3, "reported", "suggestion", "社情民意：草场补贴"),
        (4, "citizen", "suggestion", "公园厕所"),
        (5, "convened", "micro_consultation", "协商：养老助餐"),
        (6, "member", "suggestion", "委员建议：校车"),
        (6, "relayed", "suggestion", "供暖不热"),
        (6, "citizen", "suggestion", "噪声扰民"),
        (7, "relayed", "suggestion", "学校食堂"),
        (8, "member", "suggestion", "委员建议：学校操场"),
    ];
    let mut ids = Vec::new();
    for (minute, how, kind, title) in plan {
        app.set_time(minutes(minute));
        let id = match how {
            "member" => app.submitted_by(&app.tokens.member, &with(kind, title, None)).await,
            "reported" => {
                let body = with(kind, title, Some("member_report"));
                app.submitted_by(&app.tokens.member, &body).await
            }
            "convened" => app.submitted_by(&app.tokens.staff, &with(kind, title, None)).await,
            _ => app.submitted(&with(kind, title, None)).await,
        };
        match how {
            "citizen" => {}
            "relayed" => relayed.push(id.clone()),
            "convened" => {
                let body = json!({"venue": "协商议事室", "members": [MEMBER_ID, "m-0002"]});
                app.staff_does(&id, "convene", &body).await;
                members.insert(id.clone());
            }
            _ => {
                members.insert(id.clone());
            }
        }
        ids.push(id);
    }
    app.set_time(minutes(30));
    for id in &relayed {
        let response = app
            .act(&app.tokens.member, id, "relay", &json!({"note": "走访中群众反映"}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        members.insert(id.clone());
    }
    // The member also relays a case it reported itself: it is in both halves, listed once.
    let reported = &ids[6];
    let response = app
        .act(&app.tokens.member, reported, "relay", &json!({"note": "再次反映"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let due = minutes(60 * 24 * 3).to_rfc3339();
    for id in [&ids[1], &ids[2], &ids[7], &ids[10]] {
        app.staff_does(id, "assign", &json!({"department": "市住建局", "due_at": due}))
            .await;
    }
    let last = app
        .staff_does(&ids[5], "assign", &json!({"department": "市交通局"}))
        .await;
    let position = last["position"].as_i64().unwrap();
    app.set_time(minutes(60 * 24 * 4));

    let mine = every_page(&app, &app.tokens.member, "", 50, position).await;
    let listed: HashSet<String> = mine.iter().cloned().collect();
    assert_eq!(listed, members, "exactly the cases the member submitted or carries");
    assert_eq!(mine.len(), members.len(), "each once");
    let encoded = |text: &str| text.bytes().map(|byte| format!("%{byte:02X}")).collect::<String>();
    let filters = [
        String::new(),
        "status=assigned".to_owned(),
        "kind=suggestion".to_owned(),
        "kind=micro_consultation".to_owned(),
        format!("department={}", encoded("市住建局")),
        format!("q={}", encoded("学校")),
        "overdue=true".to_owned(),
        "overdue=false".to_owned(),
        format!(
            "submitted_from={}&submitted_to={}",
            encoded(&minutes(2).to_rfc3339()),
            encoded(&minutes(7).to_rfc3339())
        ),
    ];
    for filter in filters {
        let everyone = every_page(&app, &app.tokens.auditor, &filter, 200, position).await;
        let expected: Vec<String> = everyone.into_iter().filter(|id| members.contains(id)).collect();
        assert!(
            filter.is_empty() || expected.len() < members.len(),
            "{filter} leaves some out"
        );
        for limit in [1, 2, 3, 50] {
            let pages = every_page(&app, &app.tokens.member, &filter, limit, position).await;
            assert_eq!(pages, expected, "{filter}, {limit} a page");
        }
    }
}

/// The overdue list: per department (in name order) the count of its open cases past their
/// deadline and the most overdue of them, `limit` at a time; one department's cases paged with
/// its cursor, ties on the deadline broken by id; closed and not yet due cases left out; bad
/// parameters refused.
async fn the_overdue_list_counts_each_department_and_pages_its_most_overdue_cases_first(backend: Backend) {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let housing = "市住建局";
    let transport = "市交通局";
    let education = "市教育局";
    // Deadlines with nanoseconds (SQLite keeps them), two of them equal.
    let due = |days: i64, nanos: i64| start + chrono::Duration::days(days) + chrono::Duration::nanoseconds(nanos);
    let cases = [
        (housing, due(3, 500)),
        (housing, due(1, 123_456_789)),
        (transport, due(5, 0)),
        (housing, due(4, 0)),
        (housing, due(1, 123_456_789)),
        (transport, due(2, 7)),
        (housing, due(2, 0)),
        (education, due(30, 0)),
        (education, due(1, 0)),
    ];
    let mut assigned = Vec::new();
    for (department, due_at) in cases {
        let id = app.submitted(&suggestion()).await;
        let due_at_text = due_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        app.staff_does(&id, "assign", &json!({"department": department, "due_at": due_at_text}))
            .await;
        assigned.push((department, due_at, id));
    }
    // The education case due first is closed; the other is not due yet when the list is read.
    let closed = &assigned[8].2;
    app.staff_does(closed, "decline", &json!({"reason": "不属于受理范围"}))
        .await;
    let position = app
        .staff_does(closed, "close", &json!({"outcome": "C", "summary": "已解释"}))
        .await["position"]
        .as_i64()
        .unwrap();
    let now = start + chrono::Duration::days(10);
    app.set_time(now);
    let in_order = |department: &str| -> Vec<String> {
        let mut cases: Vec<_> = assigned.iter().filter(|(name, ..)| *name == department).collect();
        cases.sort_by(|left, right| (left.1, &left.2).cmp(&(right.1, &right.2)));
        cases.iter().map(|(.., id)| id.clone()).collect()
    };
    let read = |query: String| {
        let app = &app;
        async move {
            let response = app.get(&app.tokens.staff, &format!("/api/v1/overdue?{query}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            response.json::<Value>().await.unwrap()
        }
    };
    let ids = |group: &Value| -> Vec<String> {
        group["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|case| case["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let all = read(format!("min_position={position}")).await;
    let groups = all.as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|group| group["department"].as_str().unwrap())
        .collect();
    assert_eq!(names, [transport, housing], "in name order; none overdue in education");
    assert_eq!(groups[0]["count"], 2);
    assert_eq!(groups[1]["count"], 5);
    assert_eq!(ids(&groups[0]), in_order(transport));
    assert_eq!(ids(&groups[1]), in_order(housing), "most overdue first, ties by id");
    assert!(groups.iter().all(|group| group.get("next_cursor").is_none()));
    let first = &groups[1]["cases"][0];
    assert_eq!(first["status"], "assigned");
    assert_eq!(first["kind"], "suggestion");
    assert_eq!(first["title"], suggestion()["title"]);
    let days = first["days_overdue"].as_f64().unwrap();
    assert!((days - 9.0).abs() < 0.001, "{days} days overdue");

    let two = read("limit=2".to_owned()).await;
    assert_eq!(two[0]["count"], 2);
    assert_eq!(ids(&two[0]), in_order(transport));
    assert!(two[0].get("next_cursor").is_none(), "no more in transport");
    assert_eq!(two[1]["count"], 5);
    assert_eq!(ids(&two[1]), in_order(housing)[..2]);
    assert!(two[1]["next_cursor"].is_string());

    let department = housing.bytes().map(|byte| format!("%{byte:02X}")).collect::<String>();
    for limit in [1, 2, 3] {
        let mut paged = Vec::new();
        let mut cursor = String::new();
        for _ in 0..=5 {
            let page = read(format!("department={department}&limit={limit}{cursor}")).await;
            let groups = page.as_array().unwrap();
            assert_eq!(groups.len(), 1);
            assert_eq!(groups[0]["department"], housing);
            assert_eq!(groups[0]["count"], 5, "the whole department's count on every page");
            paged.extend(ids(&groups[0]));
            match groups[0]["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(paged, in_order(housing), "{limit} a page, each case once");
    }
    assert_eq!(
        read(format!("department={}", "%E5%B8%82%E5%86%9C%E7%89%A7%E5%B1%80")).await,
        json!([])
    );
    assert_eq!(
        read("department=".to_owned()).await,
        json!([]),
        "every case has a department"
    );

    let long = "局".repeat(101);
    for bad in [
        "limit=0".to_owned(),
        "limit=101".to_owned(),
        "limit=ten".to_owned(),
        "cursor=1_x".to_owned(),
        format!("department={department}&cursor=nonsense"),
        "colour=red".to_owned(),
        format!("department={long}"),
    ] {
        problem(
            app.get(&app.tokens.staff, &format!("/api/v1/overdue?{bad}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}

/// The overdue list and the figures by handling level: a case escalated to the city (市旗联动)
/// counts at the city level, a case its banner or district handles at the local level.
async fn the_overdue_list_and_the_figures_are_read_per_handling_level(backend: Backend) {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let due = (start + chrono::Duration::days(1)).to_rfc3339();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = app.submitted(&suggestion()).await;
        app.staff_does(&id, "assign", &json!({"department": "市住建局", "due_at": due}))
            .await;
        ids.push(id);
    }
    let (local, city) = (&ids[0], &ids[1]);
    app.set_time(start + chrono::Duration::days(2));
    let escalate = json!({"reason": "逾期未办复", "level": "city", "department": "市交通局"});
    let position = app.staff_does(city, "escalate", &escalate).await["position"]
        .as_i64()
        .unwrap();
    // Past the deadline the escalation gave as well.
    app.set_time(start + chrono::Duration::days(60));
    let read = |query: String| {
        let app = &app;
        async move {
            let response = app.get(&app.tokens.staff, &query).await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            response.json::<Value>().await.unwrap()
        }
    };
    let overdue = |level: &str| read(format!("/api/v1/overdue?level={level}&min_position={position}"));
    let at_city = overdue("city").await;
    assert_eq!(at_city.as_array().unwrap().len(), 1, "{at_city}");
    assert_eq!(at_city[0]["department"], "市交通局");
    assert_eq!(at_city[0]["count"], 1);
    assert_eq!(at_city[0]["cases"][0]["id"], city.as_str());
    let at_banner = overdue("local").await;
    assert_eq!(at_banner.as_array().unwrap().len(), 1, "{at_banner}");
    assert_eq!(at_banner[0]["department"], "市住建局");
    assert_eq!(at_banner[0]["count"], 1);
    assert_eq!(at_banner[0]["cases"][0]["id"], local.as_str());
    let everywhere = read("/api/v1/overdue".to_owned()).await;
    assert_eq!(everywhere.as_array().unwrap().len(), 2, "both units: {everywhere}");
    assert_eq!(
        app.get(&app.tokens.staff, "/api/v1/overdue?level=province")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    let by_level = read("/api/v1/outcomes?from=2026-03-01&to=2026-04-01&group_by=level".to_owned()).await;
    let groups: Vec<(&str, &Value, &Value)> = by_level["groups"]
        .as_array()
        .unwrap()
        .iter()
        .zip(by_level["figures"].as_array().unwrap())
        .map(|(funnel, figures)| {
            (
                funnel["group"].as_str().unwrap(),
                &funnel["open_overdue"],
                &figures["voices"],
            )
        })
        .collect();
    assert_eq!(
        groups,
        [("city", &json!(1), &json!(1)), ("local", &json!(1), &json!(1))]
    );
}

on_both_backends!(
    the_runners_take_their_engines_appends_from_memory_and_build_what_a_rebuild_builds,
    the_projections_count_their_batches_beside_their_events,
    a_write_is_read_back_at_once_on_either_of_two_processes,
    cases_of_one_microsecond_page_without_a_skip,
    a_projection_started_again_is_rebuilt_in_one_pass,
    two_processes_on_one_database_build_the_views_a_rebuild_builds,
    a_projection_rebuilt_from_zero_equals_the_live_one_after_a_long_random_history,
    outcome_figures_from_the_cells_equal_those_computed_over_the_case_summaries,
    a_projector_stopped_before_its_checkpoint_loses_and_repeats_nothing,
    outcome_figures_match_a_year_worked_out_by_hand,
    two_years_below_quota_is_flagged_when_the_second_year_ends,
    the_case_list_filters_pages_and_reads_its_own_writes,
    a_members_list_holds_exactly_the_cases_it_submitted_or_carries_in_pages,
    the_overdue_list_counts_each_department_and_pages_its_most_overdue_cases_first,
    the_overdue_list_and_the_figures_are_read_per_handling_level,
);

/// An event that an older transaction hides from the log's readers is applied once that
/// transaction ends, though no append comes after it to wake the projections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_an_older_transaction_hid_is_applied_when_it_ends() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.settled().await;
    let url = app.test_store.database_url.clone().expect("a PostgreSQL database");
    let mut older = tests::running_transaction(&url).await;
    let response = app.submit(&app.tokens.staff, &suggestion()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let lag = |projections: Value| {
        projections["projections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|projection| projection["lag"].as_i64().unwrap())
            .max()
            .unwrap()
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let held: Value = app
        .get(&app.tokens.staff, "/api/v1/projections")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lag(held.clone()), 1, "the older transaction hides the event: {held}");
    sqlx::query("COMMIT").execute(&mut older).await.unwrap();
    let position = created["position"].as_i64().unwrap();
    let page = app
        .get(&app.tokens.staff, &format!("/api/v1/cases?min_position={position}"))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["cases"][0]["id"], created["id"], "{page}");
}
