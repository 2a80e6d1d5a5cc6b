//! Who may do what: every endpoint against every role (and no token, a revoked token, a wrong
//! tracking code) gets exactly the status the rules in `access.rs` and ARCHITECTURE.md say,
//! and denied requests write nothing. Personal data stays out of public answers, members'
//! lists and the log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use service::access::tokens;
use tests::{new_token, on_both_backends, problem, suggestion, Backend, TestApp, BANNER, MEMBER_ID};

const OK: u16 = 200;
const CREATED: u16 = 201;
const UNAUTHENTICATED: u16 = 401;
const FORBIDDEN: u16 = 403;
const HIDDEN: u16 = 404;

/// The callers of the matrix, in column order.
const CALLERS: [&str; 9] = [
    "citizen",
    "other_citizen",
    "member",
    "staff",
    "banner_staff",
    "auditor",
    "admin",
    "no token",
    "revoked",
];

async fn revoked_token(app: &TestApp) -> String {
    let issued = tokens::create(&app.test_store.store, &new_token("former-staff", domain::Role::Staff))
        .await
        .unwrap();
    tokens::revoke(&app.test_store.store, &issued.id.to_string())
        .await
        .unwrap();
    issued.secret
}

async fn send(app: &TestApp, token: Option<&str>, method: Method, path: &str, body: Option<&Value>) -> StatusCode {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap().status()
}

async fn every_endpoint_answers_every_caller_as_the_rules_say(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let revoked = revoked_token(&app).await;
    let case = app.submitted(&suggestion()).await;
    let token = |caller: &str| -> Option<String> {
        let tokens = &app.tokens;
        match caller {
            "citizen" => Some(tokens.citizen.clone()),
            "other_citizen" => Some(tokens.other_citizen.clone()),
            "member" => Some(tokens.member.clone()),
            "staff" => Some(tokens.staff.clone()),
            "banner_staff" => Some(tokens.banner_staff.clone()),
            "auditor" => Some(tokens.auditor.clone()),
            "admin" => Some(tokens.admin.clone()),
            "revoked" => Some(revoked.clone()),
            _ => None,
        }
    };
    let mut micro = suggestion();
    micro["kind"] = json!("micro_consultation");
    let contact = json!({"date": "2026-01-02", "constituent": "居民", "summary": "走访"});
    let assign = json!({"department": "市住建局"});
    // Reads first, then writes that every caller is refused, then the ones some may do.
    #[rustfmt::skip]
    let rows: Vec<(Method, String, Option<Value>, [u16; 9])> = vec![
        (Method::GET, format!("/api/v1/cases/{case}"), None, [OK, HIDDEN, OK, OK, HIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, format!("/api/v1/cases/{case}/state?sequence=1"), None, [OK, HIDDEN, OK, OK, HIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, format!("/api/v1/cases/{case}/history"), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, HIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/cases".to_owned(), None, [OK, OK, OK, OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/outcomes".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/overdue".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/members/assessment".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, format!("/api/v1/members/{MEMBER_ID}/record"), None, [FORBIDDEN, FORBIDDEN, OK, OK, FORBIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/members/m-0002/record".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/projections".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK, OK, OK, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/audit/events".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::GET, "/api/v1/audit/verify".to_owned(), None, [FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::POST, format!("/api/v1/cases/{case}/assign"), Some(assign.clone()), [FORBIDDEN, HIDDEN, FORBIDDEN, 0, HIDDEN, FORBIDDEN, HIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::POST, "/api/v1/members/m-0002/contacts".to_owned(), Some(contact.clone()), [FORBIDDEN, FORBIDDEN, FORBIDDEN, 0, FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::POST, format!("/api/v1/members/{MEMBER_ID}/contacts"), Some(contact), [FORBIDDEN, FORBIDDEN, CREATED, CREATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::POST, "/api/v1/cases".to_owned(), Some(micro), [FORBIDDEN, FORBIDDEN, CREATED, CREATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
        (Method::POST, "/api/v1/cases".to_owned(), Some(suggestion()), [CREATED, CREATED, CREATED, CREATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    ];
    for (method, path, body, expected) in rows {
        for (caller, expected) in CALLERS.iter().zip(expected) {
            // 0: allowed, but left out so the refusals above are checked on an unchanged case.
            if expected == 0 {
                continue;
            }
            let status = send(&app, token(caller).as_deref(), method.clone(), &path, body.as_ref()).await;
            assert_eq!(status.as_u16(), expected, "{method} {path} as {caller}");
        }
    }
    assert_eq!(app.history(&case).await.len(), 1, "no refused request wrote anything");
    let staff_assigns = send(
        &app,
        token("staff").as_deref(),
        Method::POST,
        &format!("/api/v1/cases/{case}/assign"),
        Some(&assign),
    )
    .await;
    assert_eq!(staff_assigns, StatusCode::OK);
}

async fn lists_show_each_caller_only_its_cases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let own = app.submitted(&suggestion()).await;
    let mut elsewhere = suggestion();
    elsewhere["jurisdiction"] = json!(tests::BANNER);
    let other = app.submitted_by(&app.tokens.other_citizen, &elsewhere).await;
    let relayed = app
        .act(&app.tokens.member, &other, "relay", &json!({"note": "反映"}))
        .await;
    assert_eq!(relayed.status(), StatusCode::OK);
    let position = relayed.json::<Value>().await.unwrap()["position"].as_i64().unwrap();
    let listed = |token: String| {
        let app = &app;
        async move {
            let path = format!("/api/v1/cases?min_position={position}");
            let page: Value = app.get(&token, &path).await.json().await.unwrap();
            let mut ids: Vec<String> = page["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|case| case["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![own.clone(), other.clone()];
    both.sort();
    assert_eq!(listed(app.tokens.citizen.clone()).await, std::slice::from_ref(&own));
    assert_eq!(
        listed(app.tokens.other_citizen.clone()).await,
        std::slice::from_ref(&other)
    );
    assert_eq!(
        listed(app.tokens.member.clone()).await,
        std::slice::from_ref(&other),
        "the member carries only this one"
    );
    assert_eq!(
        listed(app.tokens.banner_staff.clone()).await,
        std::slice::from_ref(&other),
        "staff see their banner"
    );
    assert_eq!(
        listed(app.tokens.staff.clone()).await,
        both,
        "city staff see everything"
    );
    assert_eq!(listed(app.tokens.auditor.clone()).await, both);
}

async fn the_public_channel_tracks_a_suggestion_by_its_code_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"title": "路灯坏了", "body": "小区门口路灯坏了一个月", "category": "住房",
                      "jurisdiction": "东胜区", "name": "李秀英", "phone": "138 0000 1234"});
    let response = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["tracking_code"].as_str().unwrap().to_owned();
    assert!(code.len() >= 32, "at least 128 bits");
    let status_of = |id: String, code: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/api/v1/public/suggestions/{id}?code={code}")))
                .send()
                .await
                .unwrap()
        }
    };
    let status: Value = status_of(id.clone(), code.clone()).await.json().await.unwrap();
    assert_eq!(status["status"], "submitted");
    let text = status.to_string();
    assert!(
        !text.contains("李秀英") && !text.contains("1234"),
        "no personal data in public answers: {text}"
    );

    let wrong_code = problem(status_of(id.clone(), "0".repeat(32)).await, StatusCode::NOT_FOUND).await;
    let unknown_case = problem(
        status_of(uuid::Uuid::now_v7().to_string(), code.clone()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        wrong_code, unknown_case,
        "a wrong code looks exactly like an unknown case"
    );

    for (action, body) in [
        ("assign", json!({"department": "市住建局"})),
        ("adopt", json!({"by": "市住建局", "extent": "full"})),
        ("close", json!({"outcome": "A", "summary": "已修复"})),
    ] {
        app.staff_does(&id, action, &body).await;
    }
    let staff_view = app.case(&id).await;
    assert_eq!(
        staff_view["submitter_contact"],
        json!({"name": "李秀英", "phone": "138 0000 1234"})
    );
    let rate = |code: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.client
                .post(app.url(&format!("/api/v1/public/suggestions/{id}/feedback?code={code}")))
                .json(&json!({"rating": "satisfied"}))
                .send()
                .await
                .unwrap()
        }
    };
    problem(rate("f".repeat(32)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(rate(code.clone()).await.status(), StatusCode::OK);
    let status: Value = status_of(id.clone(), code).await.json().await.unwrap();
    assert_eq!(status["answer"], "已修复");
    assert_eq!(status["rating"], "satisfied");
    assert_eq!(app.history(&id).await.len(), 5);

    let member_page: Value = app
        .get(&app.tokens.auditor, "/api/v1/cases")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !member_page.to_string().contains("李秀英"),
        "no personal data in list views"
    );
}

async fn the_public_channel_is_rate_limited_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"title": "建议", "body": "内容", "category": "交通", "jurisdiction": "东胜区"});
    for _ in 0..20 {
        let response = app
            .client
            .post(app.url("/api/v1/public/suggestions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let limited = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
    problem(limited, StatusCode::TOO_MANY_REQUESTS).await;
    let bad = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(&json!({"title": "x", "body": "y", "category": "c", "jurisdiction": "j", "phone": "call me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the limit comes before anything else"
    );
}

/// A log writer that keeps every line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn personal_data_never_reaches_the_log(backend: Backend) {
    let captured = Captured::default();
    let writer = captured.clone();
    let installed = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .json()
        .with_writer(move || writer.clone())
        .try_init();
    if installed.is_err() {
        // Another test of this process installed the global subscriber first (cargo test
        // without nextest); this test needs a process of its own.
        return;
    }
    let app = TestApp::spawn(backend).await;
    let body = json!({"title": "噪音扰民", "body": "夜间施工", "category": "生态环境", "jurisdiction": "东胜区",
                      "name": "王建国", "phone": "13912345678"});
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
    let id = created["id"].as_str().unwrap();
    app.case(id).await;
    app.history(id).await;
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("/api/v1/public/suggestions"), "the log was captured");
    assert!(
        !log.contains("王建国") && !log.contains("13912345678"),
        "personal data leaked into the log"
    );
    assert!(
        !log.contains(created["tracking_code"].as_str().unwrap()),
        "the tracking code leaked into the log"
    );
}

async fn a_rating_is_the_proposers_and_staff_only_pass_one_on(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let case = app.submitted(&suggestion()).await;
    let unexplained = app.act(&app.tokens.staff, &case, "withdraw", &json!({})).await;
    problem(unexplained, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.staff_does(&case, "assign", &json!({"department": "市住建局"}))
        .await;
    app.staff_does(&case, "adopt", &json!({"by": "市住建局", "extent": "full"}))
        .await;
    app.staff_does(&case, "close", &json!({"outcome": "A", "summary": "已修复"}))
        .await;
    let written = app.history(&case).await.len();

    let for_themselves = app
        .act(&app.tokens.staff, &case, "feedback", &json!({"rating": "satisfied"}))
        .await;
    problem(for_themselves, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.history(&case).await.len(), written, "nothing written");

    let passed_on = app
        .act(
            &app.tokens.staff,
            &case,
            "feedback",
            &json!({"rating": "unsatisfied", "on_behalf_reason": "电话回访"}),
        )
        .await;
    assert_eq!(passed_on.status(), StatusCode::OK);
    let history = app.history(&case).await;
    let last = history.last().unwrap();
    assert_eq!(last["payload"]["on_behalf_reason"], "电话回访", "marked in the history");
    assert_eq!(last["actor"]["role"], "staff");
}

/// The number of events in the whole log, to show that refused requests wrote nothing.
async fn events_in_log(app: &TestApp) -> u64 {
    app.test_store.store.count_events().await.unwrap()
}

async fn staff_of_a_jurisdiction_act_only_inside_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let elsewhere = app.submitted(&suggestion()).await;
    let mut inside = suggestion();
    inside["jurisdiction"] = json!(BANNER);
    let written = events_in_log(&app).await;

    let submitted_elsewhere = app.submit(&app.tokens.banner_staff, &suggestion()).await;
    problem(submitted_elsewhere, StatusCode::FORBIDDEN).await;
    let acted_elsewhere = app
        .act(
            &app.tokens.banner_staff,
            &elsewhere,
            "assign",
            &json!({"department": "市住建局"}),
        )
        .await;
    problem(acted_elsewhere, StatusCode::NOT_FOUND).await;
    let merged_elsewhere = app
        .act(
            &app.tokens.banner_staff,
            &elsewhere,
            "merge",
            &json!({"into": elsewhere}),
        )
        .await;
    problem(merged_elsewhere, StatusCode::NOT_FOUND).await;
    assert_eq!(events_in_log(&app).await, written, "nothing written");

    let own = app.submitted_by(&app.tokens.banner_staff, &inside).await;
    let assigned = app
        .act(
            &app.tokens.banner_staff,
            &own,
            "assign",
            &json!({"department": "区住建局"}),
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::OK);
}

async fn merge_targets_are_open_readable_cases_of_the_same_kind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let merging = app.submitted(&suggestion()).await;
    let mut micro = suggestion();
    micro["kind"] = json!("micro_consultation");
    let other_kind = app.submitted_by(&app.tokens.member, &micro).await;
    let withdrawn = app.submitted(&suggestion()).await;
    app.staff_does(&withdrawn, "withdraw", &json!({"reason": "重复"})).await;
    let (first, second) = (app.submitted(&suggestion()).await, app.submitted(&suggestion()).await);
    app.staff_does(&first, "merge", &json!({"into": second})).await;
    let mut inside = suggestion();
    inside["jurisdiction"] = json!(BANNER);
    let banner_case = app.submitted_by(&app.tokens.banner_staff, &inside).await;
    let written = events_in_log(&app).await;

    let merge = |token: String, case: String, into: String| {
        let app = &app;
        async move {
            let response = app.act(&token, &case, "merge", &json!({ "into": into })).await;
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    let staff = app.tokens.staff.clone();
    let missing = merge(staff.clone(), merging.clone(), uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(missing.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.1);
    // Banner staff may not read `merging` (another jurisdiction): for them it is as missing.
    let hidden = merge(app.tokens.banner_staff.clone(), banner_case.clone(), merging.clone()).await;
    assert_eq!(
        hidden, missing,
        "a target the caller may not read answers as a missing one"
    );
    for (target, why) in [
        (other_kind, "another kind"),
        (withdrawn, "withdrawn"),
        (first.clone(), "merged"),
    ] {
        let refused = merge(staff.clone(), merging.clone(), target).await;
        assert_eq!(
            refused.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "into a {why} case: {}",
            refused.1
        );
    }
    // `first` went into `second`: `second` into `first` would loop.
    let looped = merge(staff.clone(), second.clone(), first).await;
    assert_eq!(looped.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", looped.1);
    assert_eq!(events_in_log(&app).await, written, "no refused merge wrote anything");
    let merged = merge(staff, merging, second).await;
    assert_eq!(merged.0, StatusCode::OK, "{}", merged.1);
}

async fn a_member_relays_only_the_open_voices_it_may_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut banner_member = new_token("包委员", domain::Role::Member);
    banner_member.member_id = Some("m-0007".to_owned());
    banner_member.jurisdiction = Some(BANNER.to_owned());
    let banner_member = app.issue(&banner_member).await;
    let relay = |token: String, case: String| {
        let app = &app;
        async move { app.act(&token, &case, "relay", &json!({"note": "反映"})).await.status() }
    };
    let elsewhere = app.submitted(&suggestion()).await;
    let mut inside = suggestion();
    inside["jurisdiction"] = json!(BANNER);
    let nearby = app.submitted(&inside).await;
    let members_report = app.submitted_by(&app.tokens.member, &inside).await;
    let closed_voice = app.submitted(&inside).await;
    app.staff_does(&closed_voice, "withdraw", &json!({"reason": "重复"}))
        .await;
    let written = events_in_log(&app).await;

    assert_eq!(
        relay(banner_member.clone(), elsewhere).await,
        StatusCode::NOT_FOUND,
        "another jurisdiction"
    );
    assert_eq!(
        relay(banner_member.clone(), members_report).await,
        StatusCode::NOT_FOUND,
        "another member's report"
    );
    assert_eq!(
        relay(banner_member.clone(), closed_voice).await,
        StatusCode::NOT_FOUND,
        "no longer open"
    );
    assert_eq!(events_in_log(&app).await, written, "nothing written");
    assert_eq!(relay(banner_member, nearby).await, StatusCode::OK);
}

async fn a_hidden_case_answers_exactly_as_a_missing_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hidden = app.submitted(&suggestion()).await;
    let missing = uuid::Uuid::now_v7().to_string();
    let answer = |token: String, method: Method, path: String| {
        let app = &app;
        async move {
            let mut request = app.client.request(method.clone(), app.url(&path)).bearer_auth(token);
            if method == Method::POST {
                request = request.json(&json!({"department": "区住建局"}));
            }
            let response = request.send().await.unwrap();
            let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
            (response.status(), content_type, response.bytes().await.unwrap())
        }
    };
    let routes = |id: &str| {
        [
            (Method::GET, format!("/api/v1/cases/{id}")),
            (Method::GET, format!("/api/v1/cases/{id}/state?sequence=1")),
            (Method::GET, format!("/api/v1/cases/{id}/state?at=2030-01-01T00:00:00Z")),
            (Method::GET, format!("/api/v1/cases/{id}/history")),
            (Method::POST, format!("/api/v1/cases/{id}/assign")),
        ]
    };
    for token in [app.tokens.banner_staff.clone(), app.tokens.other_citizen.clone()] {
        for ((method, of_hidden), (_, of_missing)) in routes(&hidden).into_iter().zip(routes(&missing)) {
            let hidden_answer = answer(token.clone(), method.clone(), of_hidden.clone()).await;
            let missing_answer = answer(token.clone(), method.clone(), of_missing).await;
            assert_eq!(hidden_answer.0.as_u16() / 100, 4, "{method} {of_hidden}");
            assert_eq!(
                hidden_answer, missing_answer,
                "{method} {of_hidden}: hidden and missing differ"
            );
        }
    }
    assert_eq!(app.history(&hidden).await.len(), 1, "nothing written");
}

async fn figures_of_a_jurisdiction_are_its_own(backend: Backend) {
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 2, 9, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let elsewhere = app.submitted(&suggestion()).await;
    let mut inside = suggestion();
    inside["jurisdiction"] = json!(BANNER);
    let own = app.submitted(&inside).await;
    let mut position = 0;
    for case in [&elsewhere, &own] {
        let written = app.staff_does(case, "assign", &json!({"department": "市住建局"})).await;
        position = written["position"].as_i64().unwrap();
    }
    let read = |token: String, path: String| {
        let app = &app;
        async move { app.get(&token, &path).await.json::<Value>().await.unwrap() }
    };
    let figures = |token: String| {
        read(
            token,
            format!("/api/v1/outcomes?group_by=department&min_position={position}"),
        )
    };
    let city = figures(app.tokens.staff.clone()).await;
    let banner = figures(app.tokens.banner_staff.clone()).await;
    assert_eq!(city["groups"][0]["submitted"], 2);
    assert_eq!(banner["groups"][0]["submitted"], 1, "{banner}");
    assert_eq!(banner["groups"][0]["assigned"], 1);

    // Three months on, both are overdue: the city sees both, the banner its own alone.
    app.set_time(start + chrono::Duration::days(90));
    let overdue_ids = |token: String| {
        let read = &read;
        async move {
            let overdue = read(token, format!("/api/v1/overdue?min_position={position}")).await;
            let mut ids: Vec<String> = overdue
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|department| department["cases"].as_array().unwrap().clone())
                .map(|case| case["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            let counted: u64 = overdue
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["count"].as_u64().unwrap())
                .sum();
            (ids, counted)
        }
    };
    let mut both = vec![elsewhere.clone(), own.clone()];
    both.sort();
    assert_eq!(overdue_ids(app.tokens.staff.clone()).await, (both, 2));
    assert_eq!(overdue_ids(app.tokens.banner_staff.clone()).await, (vec![own], 1));
}

async fn a_department_sees_exactly_the_cases_it_handles_and_acts_only_through_its_steps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unit = app.unit_token("市住建局").await;
    let nameless = tokens::NewToken {
        name: "某局".to_owned(),
        role: domain::Role::Department,
        member_id: None,
        department_id: None,
        jurisdiction: None,
        subject: None,
        expires_at: None,
    };
    let refused = tokens::create(&app.test_store.store, &nameless).await;
    assert!(
        matches!(refused, Err(tokens::TokenError::DepartmentIdMissing)),
        "{refused:?}"
    );
    assert_eq!(app.subject(&unit).await, "市住建局", "a unit's token acts as the unit");
    let own = app.submitted(&suggestion()).await;
    app.staff_does(&own, "assign", &json!({"department": "市住建局"})).await;
    let co_handled = app.submitted(&suggestion()).await;
    app.staff_does(
        &co_handled,
        "assign",
        &json!({"department": "市交通局", "co_departments": ["市住建局"]}),
    )
    .await;
    let other = app.submitted(&suggestion()).await;
    app.staff_does(&other, "assign", &json!({"department": "市交通局"}))
        .await;
    let unassigned = app.submitted(&suggestion()).await;

    for case in [&own, &co_handled] {
        for path in [
            format!("/api/v1/cases/{case}"),
            format!("/api/v1/cases/{case}/state?sequence=2"),
        ] {
            assert_eq!(app.get(&unit, &path).await.status().as_u16(), OK, "{path}");
        }
        let history = app.get(&unit, &format!("/api/v1/cases/{case}/history")).await;
        problem(history, StatusCode::FORBIDDEN).await;
    }
    for case in [&other, &unassigned] {
        for path in [
            format!("/api/v1/cases/{case}"),
            format!("/api/v1/cases/{case}/state?sequence=1"),
        ] {
            problem(app.get(&unit, &path).await, StatusCode::NOT_FOUND).await;
        }
        let acted = app.act(&unit, case, "acknowledge", &json!({})).await;
        problem(acted, StatusCode::NOT_FOUND).await;
    }
    app.settled().await;
    let listed: Value = app.get(&unit, "/api/v1/cases").await.json().await.unwrap();
    let mut listed: Vec<&str> = listed["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["id"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut handled = [own.as_str(), co_handled.as_str()];
    handled.sort_unstable();
    assert_eq!(listed, handled, "a unit lists the cases it handles");
    for path in [
        "/api/v1/outcomes",
        "/api/v1/overdue",
        "/api/v1/members/assessment",
        "/api/v1/audit/events",
        "/api/v1/projections",
    ] {
        assert_eq!(app.get(&unit, path).await.status().as_u16(), FORBIDDEN, "{path}");
    }
    let record = app.get(&unit, &format!("/api/v1/members/{MEMBER_ID}/record")).await;
    assert_eq!(record.status().as_u16(), FORBIDDEN);

    // On its own case: its steps, nothing of staff's; as co-handling unit it does not lead.
    let staff_step = app
        .act(&unit, &own, "close", &json!({"outcome": "A", "summary": "办结"}))
        .await;
    problem(staff_step, StatusCode::FORBIDDEN).await;
    let signed = app.act(&unit, &own, "acknowledge", &json!({})).await;
    assert_eq!(signed.status().as_u16(), OK);
    let as_lead = app.act(&unit, &co_handled, "acknowledge", &json!({})).await;
    problem(as_lead, StatusCode::FORBIDDEN).await;
    let before = app.history(&own).await.len();
    let refused = app.act(&unit, &own, "grant_extension", &json!({})).await;
    problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(app.history(&own).await.len(), before, "a denied request writes nothing");
    let shown: Value = app
        .get(&unit, &format!("/api/v1/cases/{own}"))
        .await
        .json()
        .await
        .unwrap();
    let allowed = shown["allowed_actions"].as_array().unwrap();
    assert!(
        allowed
            .iter()
            .all(|action| ["object", "request_extension", "reply"].contains(&action.as_str().unwrap())),
        "{shown}"
    );
}

on_both_backends!(
    a_hidden_case_answers_exactly_as_a_missing_one,
    figures_of_a_jurisdiction_are_its_own,
    staff_of_a_jurisdiction_act_only_inside_it,
    merge_targets_are_open_readable_cases_of_the_same_kind,
    a_member_relays_only_the_open_voices_it_may_read,
    a_department_sees_exactly_the_cases_it_handles_and_acts_only_through_its_steps,
    a_rating_is_the_proposers_and_staff_only_pass_one_on,
    every_endpoint_answers_every_caller_as_the_rules_say,
    lists_show_each_caller_only_its_cases,
    the_public_channel_tracks_a_suggestion_by_its_code_alone,
    the_public_channel_is_rate_limited_per_address,
    personal_data_never_reaches_the_log,
);
