//! Every error the first API slice promises: a problem document with the right status, and
//! nothing written (checked by the length of the case's history).

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp};
use uuid::Uuid;

async fn malformed_json_is_400_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/assign")))
        .bearer_auth(&app.tokens.staff)
        .header("Content-Type", "application/json")
        .body(r#"{"department": "市住建局""#)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST).await;
    let response = app
        .client
        .post(app.url("/api/v1/cases"))
        .bearer_auth(&app.tokens.citizen)
        .header("Content-Type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.history(&id).await.len(), 1);
}

async fn a_request_without_a_valid_token_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/cases"))
        .json(&suggestion())
        .send()
        .await
        .unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let forged = app
        .submit(
            "lx_0000000000000000000000000000000000000000000000000000000000000000",
            &suggestion(),
        )
        .await;
    problem(forged, StatusCode::UNAUTHORIZED).await;
    let garbage = app.act("not-a-token", &id, "assign", &json!({"department": "x"})).await;
    problem(garbage, StatusCode::UNAUTHORIZED).await;
    let reading = app
        .client
        .get(app.url(&format!("/api/v1/cases/{id}")))
        .send()
        .await
        .unwrap();
    problem(reading, StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.history(&id).await.len(), 1);
}

async fn an_unknown_case_or_action_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = Uuid::now_v7();
    let staff = &app.tokens.staff;
    let cases = [
        app.act(
            staff,
            &unknown.to_string(),
            "assign",
            &json!({"department": "市住建局"}),
        )
        .await,
        app.act(staff, "not-a-uuid", "assign", &json!({"department": "市住建局"}))
            .await,
        app.get(staff, &format!("/api/v1/cases/{unknown}")).await,
        app.get(staff, "/api/v1/cases/not-a-uuid").await,
        app.get(staff, &format!("/api/v1/cases/{unknown}/history")).await,
        app.get(staff, "/api/v1/nothing-here").await,
    ];
    for response in cases {
        problem(response, StatusCode::NOT_FOUND).await;
    }
    let id = app.submitted(&suggestion()).await;
    problem(app.act(staff, &id, "teleport", &json!({})).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.history(&id).await.len(), 1);
}

async fn an_illegal_transition_is_409_with_the_status_and_allowed_actions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let response = app
        .act(
            &app.tokens.staff,
            &id,
            "close",
            &json!({"outcome": "A", "summary": "已解决"}),
        )
        .await;
    let body = problem(response, StatusCode::CONFLICT).await;
    assert_eq!(body["current_status"], "submitted");
    assert_eq!(
        body["allowed_actions"],
        json!(["classify", "assign", "withdraw", "merge"])
    );
    let other_kind = app
        .act(&app.tokens.staff, &id, "convene", &json!({"venue": "协商议事室"}))
        .await;
    problem(other_kind, StatusCode::CONFLICT).await;
    assert_eq!(app.history(&id).await.len(), 1);
}

async fn an_invalid_field_is_422_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let mut long_title = suggestion();
    long_title["title"] = json!("长".repeat(201));
    let mut empty_body = suggestion();
    empty_body["body"] = json!("   ");
    let mut control = suggestion();
    control["title"] = json!("标题\u{0007}");
    let mut unknown_kind = suggestion();
    unknown_kind["kind"] = json!("petition");
    let mut extra_field = suggestion();
    extra_field["priority"] = json!("high");
    for (body, field) in [
        (long_title, Some("title")),
        (empty_body, Some("body")),
        (control, Some("title")),
        (unknown_kind, None),
        (extra_field, None),
        (json!({"kind": "suggestion"}), None),
        (json!([1, 2, 3]), None),
    ] {
        let response = app.submit(&app.tokens.citizen, &body).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{body}");
        }
    }
    for (action, body) in [
        ("assign", json!({})),
        ("assign", json!({"department": 42})),
        (
            "assign",
            json!({"department": "市住建局", "due_at": "2001-01-01T00:00:00Z"}),
        ),
        ("assign", json!({"department": "市住建局", "due_at": "next week"})),
        ("classify", json!({"category": ""})),
        ("merge", json!({"into": id})),
        // A body is an object: serde would read a struct from an array, field by field.
        ("assign", json!(["市住建局"])),
        ("withdraw", json!([])),
    ] {
        let response = app.act(&app.tokens.staff, &id, action, &body).await;
        problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(app.history(&id).await.len(), 1);
}

async fn an_oversized_body_is_413_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let huge = json!({"note": "很".repeat(200_000)});
    let response = app.act(&app.tokens.staff, &id, "consult", &huge).await;
    // The body's unread rest closes the connection: the client must not reuse it.
    assert_eq!(response.headers()["connection"], "close");
    problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    let mut long_body = suggestion();
    long_body["body"] = json!("长".repeat(20_001));
    let response = app.submit(&app.tokens.citizen, &long_body).await;
    problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.history(&id).await.len(), 1);
}

async fn a_body_that_is_not_json_is_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .post(app.url("/api/v1/cases"))
        .bearer_auth(&app.tokens.citizen)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("kind=suggestion")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

async fn a_wrong_method_is_405(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.delete(app.url("/api/v1/cases")).send().await.unwrap();
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let live: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(live["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready["store"], expected);
}

async fn the_dashboard_page_is_served_whole_from_the_binary(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("lang=\"zh-CN\"") && page.contains("群众有呼声"));
    for path in ["/outcomes", "/overdue", "/members/assessment", "/history"] {
        assert!(page.contains(path), "the page reads {path}");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing is loaded from elsewhere"
    );
}

async fn metrics_count_requests_and_commands_by_route_kind_and_action(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = suggestion();
    body["title"] = json!("独一无二的标题");
    let id = app.submitted(&body).await;
    app.staff_does(&id, "assign", &json!({"department": "市住建局"})).await;
    let refused = app
        .act(
            &app.tokens.staff,
            &id,
            "close",
            &json!({"outcome": "A", "summary": "x"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let has = |fragments: &[&str]| {
        text.lines()
            .any(|line| fragments.iter().all(|fragment| line.contains(fragment)))
    };
    assert!(
        has(&[
            "lianxin_commands_total{",
            "kind=\"suggestion\"",
            "action=\"assign\"",
            "result=\"written\""
        ]),
        "{text}"
    );
    assert!(
        has(&["lianxin_commands_total{", "action=\"close\"", "result=\"refused\""]),
        "{text}"
    );
    assert!(
        has(&[
            "lianxin_http_requests_total{",
            "route=\"/api/v1/cases/{id}/close\"",
            "status=\"409\""
        ]),
        "{text}"
    );
    assert!(
        !text.contains(&id) && !text.contains("独一无二"),
        "labels carry no ids and nothing a caller typed"
    );
}

on_both_backends!(
    the_dashboard_page_is_served_whole_from_the_binary,
    metrics_count_requests_and_commands_by_route_kind_and_action,
    malformed_json_is_400_and_writes_nothing,
    a_request_without_a_valid_token_is_401,
    an_unknown_case_or_action_is_404,
    an_illegal_transition_is_409_with_the_status_and_allowed_actions,
    an_invalid_field_is_422_and_writes_nothing,
    an_oversized_body_is_413_and_writes_nothing,
    a_body_that_is_not_json_is_415,
    a_wrong_method_is_405,
    health_and_readiness_answer,
);
