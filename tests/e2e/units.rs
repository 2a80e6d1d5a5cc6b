//! The handling units kept over HTTP: who may add and rename them, what is refused (with nothing
//! written), and a kept unit's empty scorecard.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, Backend, TestApp, BANNER};

async fn units(app: &TestApp) -> Vec<Value> {
    let listed: Value = app
        .get(&app.tokens.staff, "/api/v1/departments")
        .await
        .json()
        .await
        .unwrap();
    listed["units"].as_array().unwrap().clone()
}

async fn name_of(app: &TestApp, id: &str) -> Value {
    let units = units(app).await;
    let unit = units.iter().find(|unit| unit["id"] == id).expect("the unit is listed");
    unit["name"].clone()
}

async fn rename(app: &TestApp, token: &str, id: &str, name: &str) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/departments/{id}")))
        .bearer_auth(token)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap()
}

async fn staff_keep_units_and_district_staff_their_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let city = json!({"id": "市水务局", "name": "市水务局", "level": "city", "categories": ["饮水"]});
    let added = app.post(&app.tokens.staff, "/api/v1/departments", &city).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let mut answered = added.json::<Value>().await.unwrap();
    assert_eq!(answered["jurisdiction"].take(), Value::Null, "a city unit names none");
    answered.as_object_mut().unwrap().remove("jurisdiction");
    assert_eq!(answered, city);
    let local = json!({"id": "康巴什区住建局", "name": "康巴什区住建局", "level": "local", "jurisdiction": BANNER});
    let added = app.post(&app.tokens.banner_staff, "/api/v1/departments", &local).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let admin = json!({"id": "市能源局", "name": "市能源局", "level": "city"});
    let added = app.post(&app.tokens.admin, "/api/v1/departments", &admin).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let levels: Vec<Value> = units(&app).await.iter().map(|unit| unit["level"].clone()).collect();
    assert_eq!(levels, ["city", "city", "local"], "city units first");

    // Refused, each with nothing written.
    let elsewhere = json!({"id": "东胜区住建局", "name": "东胜区住建局", "level": "local", "jurisdiction": "东胜区"});
    let refusals = [
        (&app.tokens.staff, city.clone(), StatusCode::CONFLICT),
        (&app.tokens.banner_staff, elsewhere, StatusCode::FORBIDDEN),
        (
            &app.tokens.banner_staff,
            json!({"id": "市教育局", "name": "市教育局", "level": "city"}),
            StatusCode::FORBIDDEN,
        ),
        (
            &app.tokens.staff,
            json!({"id": "市教育局", "name": "市教育局", "level": "city", "jurisdiction": BANNER}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &app.tokens.staff,
            json!({"id": "市教育局", "name": " ", "level": "city"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &app.tokens.staff,
            json!({"id": "市教育局", "name": "市教育局", "level": "city", "head": "张三"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &app.tokens.staff,
            json!({"id": "市教育局", "name": "市教育局\u{7}", "level": "city"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (&app.tokens.auditor, admin.clone(), StatusCode::FORBIDDEN),
        (&app.tokens.member, admin.clone(), StatusCode::FORBIDDEN),
        (&app.tokens.citizen, admin.clone(), StatusCode::FORBIDDEN),
    ];
    for (token, body, status) in refusals {
        let response = app.post(token, "/api/v1/departments", &body).await;
        let refused = problem(response, status).await;
        if status == StatusCode::UNPROCESSABLE_ENTITY && body.get("head").is_none() {
            assert!(refused["field"].is_string(), "{refused}");
        }
    }
    let unit = app.unit_token("市水务局").await;
    problem(
        app.post(&unit, "/api/v1/departments", &admin).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(units(&app).await.len(), 3);

    // Renaming keeps the id; only staff who may add a unit rename it.
    let renamed = rename(&app, &app.tokens.staff, "市水务局", "市水利局").await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "市水利局");
    assert_eq!(name_of(&app, "市水务局").await, "市水利局");
    problem(
        rename(&app, &app.tokens.banner_staff, "市水务局", "x").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(rename(&app, &unit, "市水务局", "x").await, StatusCode::FORBIDDEN).await;
    problem(
        rename(&app, &app.tokens.staff, "无此单位", "x").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        rename(&app, &app.tokens.staff, "市水务局", "").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(name_of(&app, "市水务局").await, "市水利局");

    // A kept unit that took no step has a scorecard of zeros.
    let card: Value = app
        .get(&unit, "/api/v1/departments/市水务局/scorecard")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["department"], "市水务局");
    assert_eq!((&card["assigned"], &card["replied"]), (&json!(0), &json!(0)));
}

on_both_backends!(staff_keep_units_and_district_staff_their_own);
