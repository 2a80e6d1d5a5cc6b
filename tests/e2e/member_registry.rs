//! The registry's routes API.md fixes: `POST /api/v1/members` (the id in the body),
//! `GET /api/v1/members` (filtered, and cut to a district's staff) and `GET /api/v1/members/{id}`
//! (the archive); refusals write nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, Backend, TestApp, BANNER};

fn member(id: &str, sector: &str, level: &str, jurisdiction: Option<&str>) -> Value {
    let mut body = json!({"id": id, "name": format!("委员{id}"), "sector": sector, "level": level,
        "term_start": "2023-01-01", "term_end": "2027-12-31"});
    if let Some(jurisdiction) = jurisdiction {
        body["jurisdiction"] = json!(jurisdiction);
    }
    body
}

async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let response = app.get(token, &format!("/api/v1/members{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let registry: Value = response.json().await.unwrap();
    let mut ids: Vec<String> = registry["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["member_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn members_are_registered_listed_and_read_by_the_routes_api_md_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = &app.tokens.staff;
    let mut last = 0;
    for body in [
        member("m-0101", "农牧界", "city", None),
        member("m-0102", "经济界", "district", Some(BANNER)),
        member("m-0103", "农牧界", "district", Some("达拉特旗")),
    ] {
        let response = app.post(staff, "/api/v1/members", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{body}");
        let logged: Value = response.json().await.unwrap();
        assert_eq!(logged["member_id"], body["id"]);
        last = logged["position"].as_i64().unwrap();
    }
    let events = app.event_count().await;

    // Refused, with nothing written.
    let reversed = json!({"term_start": "2027-12-31", "term_end": "2023-01-01"});
    let mut term_reversed = member("m-0104", "经济界", "city", None);
    term_reversed
        .as_object_mut()
        .unwrap()
        .extend(reversed.as_object().unwrap().clone());
    let mut unknown_field = member("m-0104", "经济界", "city", None);
    unknown_field["phone"] = json!("13800000000");
    let mut no_id = member("m-0104", "经济界", "city", None);
    no_id.as_object_mut().unwrap().remove("id");
    for (token, body, status) in [
        (staff, member("m-0101", "经济界", "city", None), StatusCode::CONFLICT),
        (staff, term_reversed, StatusCode::UNPROCESSABLE_ENTITY),
        (staff, unknown_field, StatusCode::UNPROCESSABLE_ENTITY),
        (staff, no_id, StatusCode::UNPROCESSABLE_ENTITY),
        (
            staff,
            member("", "经济界", "city", None),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &app.tokens.banner_staff,
            member("m-0104", "经济界", "city", None),
            StatusCode::FORBIDDEN,
        ),
        (
            &app.tokens.member,
            member("m-0104", "经济界", "city", None),
            StatusCode::FORBIDDEN,
        ),
    ] {
        problem(app.post(token, "/api/v1/members", &body).await, status).await;
    }
    assert_eq!(app.event_count().await, events);

    let read_after = format!("?min_position={last}");
    assert_eq!(ids(&app, staff, &read_after).await, ["m-0101", "m-0102", "m-0103"]);
    assert_eq!(ids(&app, &app.tokens.auditor, "").await.len(), 3);
    assert_eq!(ids(&app, staff, "?sector=农牧界").await, ["m-0101", "m-0103"]);
    assert_eq!(ids(&app, staff, "?level=district").await, ["m-0102", "m-0103"]);
    assert_eq!(ids(&app, staff, "?jurisdiction=达拉特旗").await, ["m-0103"]);
    assert_eq!(
        ids(&app, &app.tokens.banner_staff, "").await,
        ["m-0102"],
        "its own members of record"
    );
    for token in [&app.tokens.member, &app.tokens.citizen] {
        problem(app.get(token, "/api/v1/members").await, StatusCode::FORBIDDEN).await;
    }
    problem(
        app.get(staff, "/api/v1/members?level=province").await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // The member's page is its archive.
    let show: Value = app.get(staff, "/api/v1/members/m-0102").await.json().await.unwrap();
    let archive: Value = app
        .get(staff, "/api/v1/members/m-0102/archive")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(show, archive);
    assert_eq!(show["registry"]["sector"], "经济界");
    let elsewhere = app.get(&app.tokens.banner_staff, "/api/v1/members/m-0103").await;
    problem(elsewhere, StatusCode::FORBIDDEN).await;
}

on_both_backends!(members_are_registered_listed_and_read_by_the_routes_api_md_names);
