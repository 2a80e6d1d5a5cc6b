//! A handling unit's queue and the units' scorecards over HTTP, against counts worked out by
//! hand from the steps taken; a unit's case list; and who may read a queue.

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp};

const LEAD: &str = "市住建局";
const OTHER: &str = "市交通局";

/// The ids of a bucket's cases, in the queue's order.
fn ids(queue: &Value, bucket: &str) -> Vec<String> {
    let cases = queue[bucket]["cases"].as_array().unwrap();
    assert_eq!(queue[bucket]["count"], cases.len(), "{bucket}");
    cases
        .iter()
        .map(|case| case["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn read(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(token, path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// The ids of the cases a token's list shows, sorted.
async fn listed(app: &TestApp, token: &str) -> Vec<String> {
    let page = read(app, token, "/api/v1/cases").await;
    let cases = page["cases"].as_array().unwrap().iter();
    sorted(cases.map(|case| case["id"].as_str().unwrap().to_owned()).collect())
}

async fn a_units_queue_and_scorecard_count_what_it_did(backend: Backend) {
    // Monday 2 March 2026, 09:00 in Ordos: no holiday near.
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let lead = app.unit_token(LEAD).await;
    let other = app.unit_token(OTHER).await;
    let mut cases = Vec::new();
    for _ in 0..7 {
        cases.push(app.submitted(&suggestion()).await);
    }
    let [a, b, c, d, e, f, g] = <[String; 7]>::try_from(cases).unwrap();
    for case in [&a, &c, &d, &f] {
        app.staff_does(case, "assign", &json!({"department": LEAD})).await;
    }
    app.staff_does(&b, "assign", &json!({"department": LEAD, "co_departments": [OTHER]}))
        .await;
    app.staff_does(&e, "assign", &json!({"department": OTHER, "co_departments": [LEAD]}))
        .await;
    app.staff_does(&g, "assign", &json!({"department": OTHER})).await;
    for case in [&b, &d, &f] {
        let signed = app.act(&lead, case, "acknowledge", &json!({})).await;
        assert_eq!(signed.status(), StatusCode::OK);
    }
    let steps = [
        (&c, "object", json!({"reason": "不属于本单位职责"})),
        (&d, "request_extension", json!({"days": 10, "reason": "需会商"})),
        (
            &f,
            "reply",
            json!({"text": "已解决", "proposed_grade": "A", "measures": "已完成整改"}),
        ),
    ];
    for (case, action, body) in steps {
        let done = app.act(&lead, case, action, &body).await;
        assert_eq!(done.status(), StatusCode::OK, "{action}");
    }
    app.staff_does(
        &f,
        "evaluate",
        &json!({"rating": "satisfied", "on_behalf_reason": "电话回访"}),
    )
    .await;

    // Friday 13 March: the deadline (15 calendar days, the 17th) lies within 3 working days.
    app.set_time(Utc.with_ymd_and_hms(2026, 3, 13, 1, 0, 0).unwrap());
    app.settled().await;
    let path = format!("/api/v1/departments/{LEAD}/queue?due_within=3");
    let queue = read(&app, &lead, &path).await;
    assert_eq!(ids(&queue, "to_sign"), [a.as_str()]);
    assert_eq!(sorted(ids(&queue, "to_reply")), sorted(vec![b.clone(), d.clone()]));
    assert_eq!(ids(&queue, "opinions_to_send"), [e.as_str()]);
    assert_eq!(sorted(ids(&queue, "due_soon")), sorted(vec![b.clone(), d.clone()]));
    assert!(ids(&queue, "overdue").is_empty());
    assert_eq!(
        sorted(ids(&queue, "waiting_on_staff")),
        sorted(vec![c.clone(), d.clone()])
    );
    assert_eq!(
        read(&app, &app.tokens.staff, &path).await,
        queue,
        "staff read the same queue"
    );
    app.staff_does(&d, "grant_extension", &json!({})).await;

    // Friday 20 March: A, B and C (its objection not yet answered) are past their deadline;
    // D's was extended by ten days.
    app.set_time(Utc.with_ymd_and_hms(2026, 3, 20, 1, 0, 0).unwrap());
    app.settled().await;
    let queue = read(&app, &lead, &path).await;
    assert_eq!(
        sorted(ids(&queue, "overdue")),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    assert!(ids(&queue, "due_soon").is_empty());
    assert_eq!(ids(&queue, "waiting_on_staff"), [c.as_str()]);

    // The unit lists the cases it handles, lead or co-handling, and no other.
    assert_eq!(
        listed(&app, &lead).await,
        sorted(vec![a, b.clone(), c, d, e.clone(), f])
    );
    assert_eq!(listed(&app, &other).await, sorted(vec![b, e, g]));

    // Worked out by hand from the steps above; units in id order.
    let cards = read(
        &app,
        &app.tokens.staff,
        "/api/v1/departments/scorecards?from=2026-01-01&to=2027-01-01",
    )
    .await;
    let expected = json!([
        {"department": OTHER, "assigned": 2, "signed": 0, "signed_on_time": 0, "objected": 0,
         "extensions_requested": 0, "extensions_granted": 0, "extensions_refused": 0, "replied": 0,
         "replied_on_time_first": 0, "replied_on_time_effective": 0,
         "evaluations": {"satisfied": 0, "basically_satisfied": 0, "unsatisfied": 0}},
        {"department": LEAD, "assigned": 5, "signed": 3, "signed_on_time": 3, "objected": 1,
         "extensions_requested": 1, "extensions_granted": 1, "extensions_refused": 0, "replied": 1,
         "replied_on_time_first": 1, "replied_on_time_effective": 1,
         "evaluations": {"satisfied": 1, "basically_satisfied": 0, "unsatisfied": 0}},
    ]);
    assert_eq!(cards["units"], expected);
    // One unit's scorecard, as the list counts it: read by the unit itself, staff and auditors.
    let period = "from=2026-01-01&to=2027-01-01";
    for token in [&lead, &app.tokens.staff, &app.tokens.auditor] {
        let card = read(&app, token, &format!("/api/v1/departments/{LEAD}/scorecard?{period}")).await;
        let mut fields = card.as_object().unwrap().clone();
        assert_eq!(fields.remove("from"), Some(json!("2025-12-31T16:00:00Z")));
        assert!(fields.remove("to").is_some());
        assert_eq!(Value::Object(fields), expected[1]);
    }
    let others = app.get(&other, &format!("/api/v1/departments/{LEAD}/scorecard")).await;
    problem(others, StatusCode::FORBIDDEN).await;
    let unknown = app
        .get(&app.tokens.staff, "/api/v1/departments/无此单位/scorecard")
        .await;
    problem(unknown, StatusCode::NOT_FOUND).await;
    // Only the steps of the period count: after the 2nd, only the extension granted on the 13th.
    let later = read(
        &app,
        &app.tokens.staff,
        "/api/v1/departments/scorecards?from=2026-03-03",
    )
    .await;
    let units = later["units"].as_array().unwrap();
    assert_eq!(units.len(), 1, "{later}");
    assert_eq!(
        (
            &units[0]["department"],
            &units[0]["extensions_granted"],
            &units[0]["assigned"]
        ),
        (&json!(LEAD), &json!(1), &json!(0))
    );

    // A unit reads its own queue only, and no scorecards.
    let forbidden = app.get(&other, &format!("/api/v1/departments/{LEAD}/queue")).await;
    problem(forbidden, StatusCode::FORBIDDEN).await;
    // An id no unit can have (a control character, more than 100 characters) names nothing,
    // where a well-formed unknown id is an empty queue.
    for unfit in ["%C2%95unit".to_owned(), "a%05b".to_owned(), "u".repeat(101)] {
        let queue = app
            .get(&app.tokens.staff, &format!("/api/v1/departments/{unfit}/queue"))
            .await;
        problem(queue, StatusCode::NOT_FOUND).await;
    }
    let unknown = read(
        &app,
        &app.tokens.staff,
        &format!("/api/v1/departments/{}/queue", "u".repeat(100)),
    )
    .await;
    assert_eq!(unknown["to_sign"]["count"], 0, "{unknown}");
    let cards = app.get(&lead, "/api/v1/departments/scorecards").await;
    problem(cards, StatusCode::FORBIDDEN).await;
    let me = read(&app, &lead, "/api/v1/departments/me").await;
    assert_eq!(me["id"], LEAD);
    problem(
        app.get(&app.tokens.staff, "/api/v1/departments/me").await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

async fn the_public_channel_evaluates_a_units_reply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lead = app.unit_token(LEAD).await;
    let body = json!({"title": "路灯坏了", "body": "小区门口路灯坏了一个月", "category": "住房",
                      "jurisdiction": "东胜区"});
    let created: Value = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, code) = (
        created["id"].as_str().unwrap(),
        created["tracking_code"].as_str().unwrap(),
    );
    app.staff_does(id, "assign", &json!({"department": LEAD})).await;
    for (action, body) in [
        ("acknowledge", json!({})),
        (
            "reply",
            json!({"text": "已修复", "proposed_grade": "A", "measures": "更换灯具"}),
        ),
    ] {
        assert_eq!(
            app.act(&lead, id, action, &body).await.status(),
            StatusCode::OK,
            "{action}"
        );
    }
    // The case is open: a rating of a closed case would be refused; the reply is evaluated.
    let rated = app
        .client
        .post(app.url(&format!("/api/v1/public/suggestions/{id}/feedback?code={code}")))
        .json(&json!({"rating": "basically_satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rated.status(), StatusCode::OK);
    let history = app.history(id).await;
    let last = history.last().unwrap();
    assert_eq!(last["type"], "feedback_given", "{last}");
    assert_eq!(app.case(id).await["status"], "assigned", "evaluated, not closed");
}

on_both_backends!(
    a_units_queue_and_scorecard_count_what_it_did,
    the_public_channel_evaluates_a_units_reply,
);
