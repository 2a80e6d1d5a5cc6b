//! The member registry and the duty assessment through the HTTP API: what counts once, the
//! deployment's day, closed years, terms and the configured quota set.

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{DateTime, TimeZone, Utc};
use projections::Quotas;
use reqwest::StatusCode;
use serde_json::{json, Value};
use service::app::ServiceOptions;
use service::read::{names, queries, Projector};
use service::write::engine::{Clock, Engine};
use tests::{fetched, on_both_backends, suggestion, Backend, TestApp, TestStore, BANNER, MEMBER_ID};

fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 2, 0, 0).unwrap()
}

/// Registers `member` with a term, as staff.
async fn register(app: &TestApp, member: &str, term: (&str, &str), jurisdiction: Option<&str>) -> i64 {
    let mut body = json!({
        "name": "赵委员", "sector": "农牧界", "level": "district",
        "term_start": term.0, "term_end": term.1,
    });
    if let Some(jurisdiction) = jurisdiction {
        body["jurisdiction"] = json!(jurisdiction);
    }
    posted(
        app,
        &app.tokens.staff,
        &format!("/api/v1/members/{member}/register"),
        &body,
        StatusCode::CREATED,
    )
    .await
}

async fn posted(app: &TestApp, token: &str, path: &str, body: &Value, status: StatusCode) -> i64 {
    let response = app.post(token, path, body).await;
    let code = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(code, status, "{path}: {body}");
    body["position"].as_i64().unwrap_or_default()
}

async fn contact(app: &TestApp, date: &str, constituent: &str, status: StatusCode) -> i64 {
    let body = json!({"date": date, "constituent": constituent, "summary": "走访"});
    posted(
        app,
        &app.tokens.member,
        &format!("/api/v1/members/{MEMBER_ID}/contacts"),
        &body,
        status,
    )
    .await
}

/// A micro-consultation `token` submits, staff assign and convene with `members`: a session
/// scheduled, not yet held. Its id.
async fn convened(app: &TestApp, token: &str, members: &[&str]) -> String {
    let mut micro = suggestion();
    micro["kind"] = json!("micro_consultation");
    let session = app.submitted_by(token, &micro).await;
    app.staff_does(&session, "assign", &json!({"department": "街道办"}))
        .await;
    let convene = json!({"venue": "议事室", "members": members});
    app.staff_does(&session, "convene", &convene).await;
    session
}

async fn read(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(token, path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

async fn record(app: &TestApp, year: i32) -> Value {
    app.settled().await;
    read(
        app,
        &app.tokens.staff,
        &format!("/api/v1/members/{MEMBER_ID}/record?year={year}"),
    )
    .await
}

async fn a_member_silent_for_two_years_of_the_term_is_flagged(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(2026, 3, 1)).await;
    register(&app, MEMBER_ID, ("2023-01-01", "2027-12-31"), None).await;
    register(&app, "m-0002", ("2024-01-01", "2028-12-31"), None).await;
    app.settled().await;
    let assessment = read(&app, &app.tokens.staff, "/api/v1/members/assessment?year=2025").await;
    let standing = |member: &str| {
        assessment["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|standing| standing["member_id"] == member)
            .map(|standing| standing["standing"].clone())
    };
    assert_eq!(standing(MEMBER_ID), Some(json!("below_two_years_running")));
    assert_eq!(standing("m-0002"), Some(json!("below_two_years_running")));
    let archive = read(
        &app,
        &app.tokens.member,
        &format!("/api/v1/members/{MEMBER_ID}/archive"),
    )
    .await;
    let years: Vec<i64> = archive["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|year| year["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years, [2026, 2025, 2024, 2023], "every year of the term so far");
    assert_eq!(archive["registry"]["sector"], "农牧界");
}

async fn a_term_started_last_july_is_judged_on_the_part_of_the_year_in_it(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(2025, 11, 3)).await;
    register(&app, MEMBER_ID, ("2025-07-01", "2030-06-30"), None).await;
    for constituent in ["牧区-01", "牧区-02", "牧区-03"] {
        contact(&app, "2025-11-03", constituent, StatusCode::CREATED).await;
    }
    let session = convened(&app, &app.tokens.staff, &[MEMBER_ID]).await;
    app.staff_does(&session, "consult", &json!({"note": "议事"})).await;
    app.submitted_by(&app.tokens.member, &suggestion()).await;
    app.set_time(at(2026, 3, 1));
    let judged = record(&app, 2025).await;
    assert_eq!(judged["months_in_term"], 6);
    assert_eq!(judged["standing"], "on_track", "{judged}");
    assert_eq!(
        judged["items"][0],
        json!({"quota": "contacts", "required": 3, "actual": 3})
    );
    // Before the term, nothing is asked.
    assert_eq!(judged["shortfalls"], json!([]));
}

async fn each_activity_counts_once(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(2026, 3, 2)).await;
    // Three contacts with one constituent are one constituent.
    for _ in 0..3 {
        contact(&app, "2026-03-02", "牧区-07", StatusCode::CREATED).await;
    }
    // A session scheduled is no attendance; held, it is one, however many events name it.
    let session = convened(&app, &app.tokens.member, &[MEMBER_ID, "m-0002"]).await;
    let scheduled = record(&app, 2026).await;
    assert_eq!(scheduled["consultations"], 0, "scheduled, not held");
    assert_eq!(
        scheduled["reports"], 0,
        "a micro-consultation is no social-opinion report"
    );
    app.staff_does(&session, "consult", &json!({"note": "议事", "members": [MEMBER_ID]}))
        .await;
    let held = record(&app, 2026).await;
    assert_eq!(held["contacts"], 1);
    assert_eq!(held["consultations"], 1);
    // A voice relayed and solved, then reopened: "solved" is taken back.
    let voice = relayed_and_solved(&app).await;
    assert_eq!(record(&app, 2026).await["solved"], 1);
    reopened(&app, &voice).await;
    let after_reopen = record(&app, 2026).await;
    assert_eq!(after_reopen["solved"], 0);
    assert_eq!(after_reopen["relays"], 1);
}

async fn the_deployments_day_and_closed_years(backend: Backend) {
    // 07:30 on 1 April 2026 in Beijing: still 31 March in UTC.
    let app = TestApp::spawn_at(backend, Utc.with_ymd_and_hms(2026, 3, 31, 23, 30, 0).unwrap()).await;
    contact(&app, "2026-04-01", "牧区-01", StatusCode::CREATED).await;
    // 2025 was assessed on 31 January 2026: its shortfall is not filled afterwards.
    contact(&app, "2025-12-20", "牧区-02", StatusCode::CONFLICT).await;
    let reopen = json!({"year": 2025, "reason": "漏报补录，经主任会议同意"});
    let path = format!("/api/v1/members/{MEMBER_ID}/reopened_years");
    posted(&app, &app.tokens.member, &path, &reopen, StatusCode::FORBIDDEN).await;
    posted(&app, &app.tokens.staff, &path, &reopen, StatusCode::CREATED).await;
    contact(&app, "2025-12-20", "牧区-02", StatusCode::CREATED).await;
    let talk = json!({"year": 2025, "reason": "约谈提醒：联系群众不足"});
    posted(
        &app,
        &app.tokens.staff,
        &format!("/api/v1/members/{MEMBER_ID}/reminder_talks"),
        &talk,
        StatusCode::CREATED,
    )
    .await;
    let last_year = record(&app, 2025).await;
    assert_eq!(last_year["contacts"], 1);
    let kinds: Vec<&str> = last_year["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|decision| decision["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["year_reopened", "reminder_talk_held"]);
    let staff = app.subject(&app.tokens.staff).await;
    assert_eq!(last_year["decisions"][1]["by"], staff.as_str());
}

async fn a_six_item_quota_set_changes_the_assessment_without_a_rebuild(backend: Backend) {
    let clock = Clock::Fixed(std::sync::Arc::new(std::sync::Mutex::new(at(2026, 3, 2))));
    let mut app = TestApp::spawn_configured(
        backend,
        ServiceOptions {
            clock,
            ..ServiceOptions::default()
        },
    )
    .await;
    for constituent in ["1", "2", "3", "4", "5"] {
        contact(&app, "2026-03-02", constituent, StatusCode::CREATED).await;
    }
    app.submitted_by(&app.tokens.member, &suggestion()).await;
    for _ in 0..2 {
        let session = convened(&app, &app.tokens.staff, &[]).await;
        app.staff_does(&session, "consult", &json!({"note": "议事", "members": [MEMBER_ID]}))
            .await;
    }
    app.set_time(at(2027, 1, 5));
    assert_eq!(record(&app, 2026).await["standing"], "on_track");
    let positions = app.test_store.store.count_events().await.unwrap();
    app.options.quotas = Quotas::parse(
        "contacts=constituents:5,consultations=grassroots_consultations:2,reports=social_opinion_reports:1,\
         voices=voices_relayed:1,research=research_reports:1,training=training:1",
    )
    .unwrap();
    app.restart().await;
    let six = record(&app, 2026).await;
    assert_eq!(six["items"].as_array().unwrap().len(), 6);
    assert_eq!(six["standing"], "below_quota");
    assert_eq!(six["shortfalls"][0]["quota"], "voices");
    assert_eq!(
        app.test_store.store.count_events().await.unwrap(),
        positions,
        "the log is as it was"
    );
    // A further item counts what staff record under its name.
    let training = json!({"activity": "training", "date": "2026-12-10", "note": "委员履职培训"});
    let path = format!("/api/v1/members/{MEMBER_ID}/activities");
    posted(&app, &app.tokens.member, &path, &training, StatusCode::FORBIDDEN).await;
    posted(&app, &app.tokens.staff, &path, &training, StatusCode::CREATED).await;
    let trained = record(&app, 2026).await;
    assert_eq!(
        trained["items"][5],
        json!({"quota": "training", "required": 1, "actual": 1})
    );
}

async fn district_staff_read_their_districts_members(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(2026, 3, 2)).await;
    register(&app, MEMBER_ID, ("2023-01-01", "2027-12-31"), Some(BANNER)).await;
    register(&app, "m-0002", ("2023-01-01", "2027-12-31"), Some("达拉特旗")).await;
    app.settled().await;
    let own = app
        .get(
            &app.tokens.banner_staff,
            &format!("/api/v1/members/{MEMBER_ID}/archive"),
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app.get(&app.tokens.banner_staff, "/api/v1/members/m-0002/record").await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let assessment = read(&app, &app.tokens.banner_staff, "/api/v1/members/assessment?year=2026").await;
    let members: Vec<&str> = assessment["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["member_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, [MEMBER_ID]);
    let csv = app
        .get(
            &app.tokens.auditor,
            &format!("/api/v1/members/{MEMBER_ID}/archive?format=csv"),
        )
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    let bytes = csv.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}年度,".as_bytes()));
    let xlsx = app
        .get(
            &app.tokens.auditor,
            &format!("/api/v1/members/{MEMBER_ID}/archive?format=xlsx"),
        )
        .await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    let bytes = xlsx.bytes().await.unwrap().to_vec();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range("一人一档").unwrap();
    assert_eq!(sheet.get((0, 0)), Some(&Data::String("年度".to_owned())));
    assert!(
        matches!(sheet.get((1, 0)), Some(Data::Float(year)) if *year >= 2025.0),
        "the year as a number: {:?}",
        sheet.get((1, 0))
    );
}

/// The demo's members are registered once each, with sectors, both levels and a term started in
/// July of the year before; registering them again registers nobody.
async fn the_demo_members_are_registered_once(backend: Backend) {
    let test = TestStore::new(backend).await;
    let clock = Clock::Fixed(std::sync::Arc::new(std::sync::Mutex::new(at(2026, 1, 1))));
    let engine = Engine::new(test.store.clone(), domain::Policy::default(), clock);
    let members: Vec<(String, String)> = (1..=60)
        .map(|index| (format!("m-{index:04}"), format!("委员{index:02}")))
        .collect();
    let mut term_starts = Vec::new();
    assert_eq!(
        lianxin::members::register_demo_members(&engine, &members, 2026, |day| term_starts.push(day))
            .await
            .unwrap(),
        60
    );
    assert_eq!(term_starts.len(), 60, "each registration is dated by its term");
    assert_eq!(
        lianxin::members::register_demo_members(&engine, &members, 2026, |_| {})
            .await
            .unwrap(),
        0
    );
    let projector = Projector::new(test.store.clone(), domain::Policy::default());
    for name in names() {
        projector.catch_up(name, |_| {}).await.unwrap();
    }
    let entries = queries::entries(&test.store, None).await.unwrap();
    assert_eq!(entries.len(), 60);
    let levels: std::collections::BTreeSet<&str> = entries.iter().map(|entry| entry.level.as_str()).collect();
    assert_eq!(levels.len(), 2);
    let sectors: std::collections::BTreeSet<&str> = entries.iter().map(|entry| entry.sector.as_str()).collect();
    assert!(sectors.len() >= 5, "{sectors:?}");
    assert!(entries.iter().any(|entry| entry.term_start.to_string() == "2025-07-01"));
}

/// A registered member is shown by the registry's name, over one kept beside the registry.
async fn a_registered_member_is_shown_by_the_registrys_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    service::access::names::name_actor(&app.test_store.store, "m-0042", "旧名")
        .await
        .unwrap();
    register(&app, "m-0042", ("2025-01-01", "2027-12-31"), Some("东胜区")).await;
    app.settled().await;
    let names: Value = app.get(&app.tokens.staff, "/api/v1/names").await.json().await.unwrap();
    assert_eq!(names["names"]["m-0042"], "赵委员", "{names}");
}

/// A contact dated before the term or after the member left is refused as a conflict with the
/// term, and nothing is written; the first day of the term and the day of leaving are in it.
async fn a_contact_outside_the_term_is_refused_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(2026, 3, 10)).await;
    register(&app, MEMBER_ID, ("2026-03-01", "2030-12-31"), None).await;
    let events = app.test_store.store.count_events().await.unwrap();
    let early = json!({"date": "2026-02-27", "constituent": "牧区-01", "summary": "走访"});
    let response = app
        .post(
            &app.tokens.member,
            &format!("/api/v1/members/{MEMBER_ID}/contacts"),
            &early,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/outside-term", "{problem}");
    assert_eq!(problem["term_start"], "2026-03-01", "{problem}");
    assert_eq!(
        app.test_store.store.count_events().await.unwrap(),
        events,
        "nothing written"
    );
    contact(&app, "2026-03-01", "牧区-01", StatusCode::CREATED).await;
    let leave = json!({"on": "2026-03-05", "reason": "工作调动"});
    let path = format!("/api/v1/members/{MEMBER_ID}/leave");
    posted(&app, &app.tokens.staff, &path, &leave, StatusCode::CREATED).await;
    let events = app.test_store.store.count_events().await.unwrap();
    contact(&app, "2026-03-06", "牧区-02", StatusCode::CONFLICT).await;
    let training = json!({"activity": "training", "date": "2026-03-08", "note": "委员履职培训"});
    let path = format!("/api/v1/members/{MEMBER_ID}/activities");
    posted(&app, &app.tokens.staff, &path, &training, StatusCode::CONFLICT).await;
    assert_eq!(
        app.test_store.store.count_events().await.unwrap(),
        events,
        "nothing written"
    );
    contact(&app, "2026-03-05", "牧区-02", StatusCode::CREATED).await;
}

/// Term 2025-01-01 to 2029-12-31, left on 20 March 2025: 2025 is judged on January to March
/// (contacts ⌈5×3/12⌉ = 2, sessions ⌈2×3/12⌉ = 1, reports ⌈1×3/12⌉ = 1, all met), and 2026 is
/// not assessed at all — a whole silent year would otherwise be below quota.
async fn a_member_who_left_is_not_assessed_after_leaving(backend: Backend) {
    let app = TestApp::spawn_at(backend, at(2025, 3, 20)).await;
    register(&app, MEMBER_ID, ("2025-01-01", "2029-12-31"), None).await;
    register(&app, "m-0002", ("2025-01-01", "2029-12-31"), None).await;
    for constituent in ["牧区-01", "牧区-02"] {
        contact(&app, "2025-02-10", constituent, StatusCode::CREATED).await;
    }
    let session = convened(&app, &app.tokens.staff, &[MEMBER_ID]).await;
    app.staff_does(&session, "consult", &json!({"note": "议事"})).await;
    app.submitted_by(&app.tokens.member, &suggestion()).await;
    let leave = json!({"on": "2025-03-20", "reason": "工作调动"});
    let path = format!("/api/v1/members/{MEMBER_ID}/leave");
    posted(&app, &app.tokens.staff, &path, &leave, StatusCode::CREATED).await;
    app.set_time(at(2027, 3, 1));
    app.settled().await;
    let standing = |assessment: &Value, member: &str| {
        assessment["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|standing| standing["member_id"] == member)
            .cloned()
    };
    let last_term_year = read(&app, &app.tokens.staff, "/api/v1/members/assessment?year=2025").await;
    let left = standing(&last_term_year, MEMBER_ID).expect("assessed for the months in the term");
    assert_eq!(left["months_in_term"], 3);
    assert_eq!(left["standing"], "on_track", "{left}");
    let required: Vec<&Value> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["required"])
        .collect();
    assert_eq!(required, [&json!(2), &json!(1), &json!(1)]);
    let after = read(&app, &app.tokens.staff, "/api/v1/members/assessment?year=2026").await;
    assert_eq!(standing(&after, MEMBER_ID), None, "not assessed after leaving: {after}");
    assert_eq!(
        standing(&after, "m-0002").map(|standing| standing["standing"].clone()),
        Some(json!("below_two_years_running")),
        "the one who stayed and did nothing is"
    );
    assert_eq!(
        (after["below_quota"].clone(), after["below_two_years_running"].clone()),
        (json!(0), json!(1))
    );
    let record = record(&app, 2026).await;
    assert_eq!(
        (
            record["months_in_term"].clone(),
            record["shortfalls"].clone(),
            record["standing"].clone()
        ),
        (json!(0), json!([]), json!("not_in_term")),
        "nothing is asked of a year after leaving, and it is not called on track: {record}"
    );
    let archive = read(&app, &app.tokens.staff, &format!("/api/v1/members/{MEMBER_ID}/archive")).await;
    let years: Vec<i64> = archive["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|year| year["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years, [2025], "the archive ends with the term");
}

/// `MEMBER_ID`'s year counts as the projection keeps them, after checking that every member's
/// equal the credits counted by their duty year in the deployment's zone.
async fn year_counts(app: &TestApp) -> Vec<(i64, String, i64)> {
    app.settled().await;
    let store = &app.test_store.store;
    let credits: Vec<(String, String, Option<String>, DateTime<Utc>)> =
        fetched(store, "SELECT member_id, activity, on_date, at FROM member_credits").await;
    let mut counted = std::collections::BTreeMap::new();
    for (member, activity, on_date, at) in credits {
        let on_date = on_date.map(|date| date.parse().unwrap());
        let year = i64::from(projections::duty_year(on_date, at, domain::Policy::default().offset));
        *counted.entry((member, year, activity)).or_insert(0_i64) += 1;
    }
    let kept: Vec<(String, i64, String, i64)> = fetched(
        store,
        "SELECT member_id, year, activity, count FROM member_year_counts ORDER BY member_id, year, activity",
    )
    .await;
    let counted: Vec<(String, i64, String, i64)> = counted
        .into_iter()
        .map(|((member, year, activity), count)| (member, year, activity, count))
        .collect();
    assert_eq!(kept, counted, "the year counts are the credits counted");
    kept.into_iter()
        .filter(|(member, ..)| member == MEMBER_ID)
        .map(|(_, year, activity, count)| (year, activity, count))
        .collect()
}

/// A voice `MEMBER_ID` relays, solved: it credits a relay and, closed A, a problem solved.
async fn relayed_and_solved(app: &TestApp) -> String {
    let voice = app.submitted(&suggestion()).await;
    let relayed = app
        .act(&app.tokens.member, &voice, "relay", &json!({"note": "反映"}))
        .await;
    assert_eq!(relayed.status(), StatusCode::OK);
    app.staff_does(&voice, "assign", &json!({"department": "市住建局"}))
        .await;
    app.staff_does(&voice, "adopt", &json!({"by": "市住建局", "extent": "full"}))
        .await;
    app.staff_does(&voice, "close", &json!({"outcome": "A", "summary": "已解决"}))
        .await;
    voice
}

async fn reopened(app: &TestApp, voice: &str) {
    let unsatisfied = app
        .act(
            &app.tokens.citizen,
            voice,
            "feedback",
            &json!({"rating": "unsatisfied"}),
        )
        .await;
    assert_eq!(unsatisfied.status(), StatusCode::OK);
    app.staff_does(voice, "reopen", &json!({"reason": "提出人不满意，重办"}))
        .await;
}

fn count(year: i64, activity: &str, count: i64) -> (i64, String, i64) {
    (year, activity.to_owned(), count)
}

/// 17:00 UTC on 31 December 2025 is 01:00 on 1 January 2026 in the deployment's zone (+08:00):
/// case events then count in 2026, a contact dated 31 December in 2025. A credit granted again
/// counts once; a reopen takes "solved" back, down to no row at all.
async fn year_counts_follow_the_credits_in_the_deployments_zone(backend: Backend) {
    let app = TestApp::spawn_at(backend, Utc.with_ymd_and_hms(2025, 12, 31, 17, 0, 0).unwrap()).await;
    for _ in 0..2 {
        contact(&app, "2026-01-01", "牧区-01", StatusCode::CREATED).await;
    }
    contact(&app, "2025-12-31", "牧区-02", StatusCode::CREATED).await;
    let first = relayed_and_solved(&app).await;
    let second = relayed_and_solved(&app).await;
    assert_eq!(
        year_counts(&app).await,
        [
            count(2025, "constituents", 1),
            count(2026, "constituents", 1),
            count(2026, "problems_solved", 2),
            count(2026, "voices_relayed", 2),
        ]
    );
    reopened(&app, &first).await;
    assert_eq!(
        year_counts(&app).await,
        [
            count(2025, "constituents", 1),
            count(2026, "constituents", 1),
            count(2026, "problems_solved", 1),
            count(2026, "voices_relayed", 2),
        ],
        "one solved taken back"
    );
    reopened(&app, &second).await;
    assert_eq!(
        year_counts(&app).await,
        [
            count(2025, "constituents", 1),
            count(2026, "constituents", 1),
            count(2026, "voices_relayed", 2),
        ],
        "no row for a count of 0"
    );
    let year = record(&app, 2026).await;
    assert_eq!(
        (&year["contacts"], &year["relays"], &year["solved"]),
        (&json!(1), &json!(2), &json!(0))
    );
    assert_eq!(record(&app, 2025).await["contacts"], 1);
    let projector = Projector::new(app.test_store.store.clone(), domain::Policy::default());
    let live = projector.dump().await.unwrap();
    projector.rebuild(&names(), |_| {}).await.unwrap();
    assert_eq!(projector.dump().await.unwrap(), live, "a rebuild counts the same");
}

on_both_backends!(
    a_contact_outside_the_term_is_refused_and_nothing_is_written,
    a_member_who_left_is_not_assessed_after_leaving,
    a_registered_member_is_shown_by_the_registrys_name,
    the_demo_members_are_registered_once,
    a_member_silent_for_two_years_of_the_term_is_flagged,
    a_term_started_last_july_is_judged_on_the_part_of_the_year_in_it,
    each_activity_counts_once,
    the_deployments_day_and_closed_years,
    a_six_item_quota_set_changes_the_assessment_without_a_rebuild,
    district_staff_read_their_districts_members,
    year_counts_follow_the_credits_in_the_deployments_zone,
);
