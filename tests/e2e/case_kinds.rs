//! The other kinds and the rules that name people, through the HTTP API.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp};

fn case_of(kind: &str) -> Value {
    let mut body = suggestion();
    body["kind"] = json!(kind);
    body
}

async fn a_micro_consultation_is_convened_held_agreed_and_closed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = case_of("micro_consultation");
    body["title"] = json!("校园周边交通治理");
    let id = app.submitted_by(&app.tokens.member, &body).await;
    let early = app
        .act(
            &app.tokens.staff,
            &id,
            "adopt",
            &json!({"by": "街道", "extent": "full"}),
        )
        .await;
    problem(early, StatusCode::CONFLICT).await;
    for (action, body, status) in [
        ("assign", json!({"department": "市公安局交管支队"}), "assigned"),
        (
            "convene",
            json!({"venue": "凳凳议事会", "participants": ["委员", "家长代表", "交管"]}),
            "consulting",
        ),
        (
            "consult",
            json!({"note": "第一次议事：错峰放学、增设护栏"}),
            "consulting",
        ),
        (
            "adopt",
            json!({"by": "街道办事处", "extent": "full", "responsible_parties": ["交管支队", "学校"]}),
            "adopted",
        ),
        (
            "close",
            json!({"outcome": "A", "summary": "护栏已装，错峰放学实施"}),
            "closed",
        ),
        (
            "feedback",
            json!({"rating": "basically_satisfied", "on_behalf_reason": "会后回访提出委员"}),
            "closed",
        ),
    ] {
        assert_eq!(
            app.staff_does(&id, action, &body).await["status"],
            status,
            "after {action}"
        );
    }
    assert_eq!(app.history(&id).await.len(), 7);
}

async fn a_joint_research_topic_passes_each_gate_in_turn(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = case_of("joint_research");
    body["title"] = json!("巩固农牧区“三区”建设成果");
    body["lead_member"] = json!("m-0001");
    body["team"] = json!(["m-0002", "m-0003"]);
    let id = app.submitted_by(&app.tokens.member, &body).await;
    app.staff_does(&id, "assign", &json!({"department": "市政协农牧委"}))
        .await;

    let gate = |action: &'static str, body: Value| {
        let app = &app;
        let id = id.clone();
        async move {
            let response = app.act(&app.tokens.staff, &id, action, &body).await;
            problem(response, StatusCode::CONFLICT).await["rule"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let visit = json!({"place": "达拉特旗", "findings": "后续管理薄弱，可支配收入偏低"});
    let report = json!({"title": "调研报告", "recommendations": ["完善后续管理", "拓宽增收渠道"]});
    assert!(gate("record_visit", visit.clone()).await.contains("准备不充分就不调研"));
    app.staff_does(&id, "complete_preparation", &json!({"note": "方案、提纲、分组已定"}))
        .await;
    assert!(gate("consult", json!({"note": "提前协商"}))
        .await
        .contains("调研不充分就不协商"));
    app.staff_does(&id, "record_visit", &visit).await;
    app.staff_does(&id, "complete_research", &json!({"note": "走访九个旗区"}))
        .await;
    assert!(gate("submit_report", report.clone())
        .await
        .contains("协商不充分就不报告"));
    app.staff_does(&id, "consult", &json!({"note": "专题协商会"})).await;
    assert_eq!(
        app.staff_does(&id, "submit_report", &report).await["status"],
        "reporting"
    );
    let adopted = app
        .staff_does(
            &id,
            "adopt",
            &json!({"by": "市委", "extent": "partial", "recommendations": [0]}),
        )
        .await;
    assert_eq!(adopted["status"], "adopted");
    app.staff_does(
        &id,
        "record_policy",
        &json!({"title": "关于巩固三区建设成果的若干措施"}),
    )
    .await;
    assert_eq!(
        app.staff_does(
            &id,
            "close",
            &json!({"outcome": "A", "summary": "建议被采纳并出台配套政策"})
        )
        .await["status"],
        "closed"
    );
    let case = app.case(&id).await;
    assert_eq!(case["details"]["lead_member"], "m-0001");
    assert_eq!(case["adoption"]["recommendations"], json!([0]));
}

async fn only_a_member_relays_and_only_the_submitter_or_staff_withdraws(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let by_staff = app
        .act(&app.tokens.staff, &id, "relay", &json!({"note": "代为反映"}))
        .await;
    problem(by_staff, StatusCode::FORBIDDEN).await;
    // Another citizen may not even learn that the case exists.
    let by_stranger = app.act(&app.tokens.other_citizen, &id, "withdraw", &json!({})).await;
    problem(by_stranger, StatusCode::NOT_FOUND).await;
    assert_eq!(app.history(&id).await.len(), 1);
    let by_submitter = app
        .act(&app.tokens.citizen, &id, "withdraw", &json!({"reason": "已自行解决"}))
        .await;
    assert_eq!(by_submitter.status(), StatusCode::OK);
    assert_eq!(app.case(&id).await["status"], "withdrawn");
}

async fn an_unsatisfied_rating_reopens_the_suggestion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    app.staff_does(&id, "assign", &json!({"department": "市住建局"})).await;
    app.staff_does(&id, "decline", &json!({"reason": "电网容量暂不具备条件"}))
        .await;
    let not_c = app
        .act(
            &app.tokens.staff,
            &id,
            "close",
            &json!({"outcome": "A", "summary": "x"}),
        )
        .await;
    assert_eq!(
        problem(not_c, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "outcome"
    );
    app.staff_does(&id, "close", &json!({"outcome": "C", "summary": "已向群众说明"}))
        .await;
    let early = app
        .act(&app.tokens.citizen, &id, "reopen", &json!({"reason": "不满意"}))
        .await;
    problem(early, StatusCode::CONFLICT).await;
    let rated = app
        .act(
            &app.tokens.citizen,
            &id,
            "feedback",
            &json!({"rating": "unsatisfied", "comment": "没有解决"}),
        )
        .await;
    assert_eq!(rated.status(), StatusCode::OK);
    let reopened = app
        .act(&app.tokens.citizen, &id, "reopen", &json!({"reason": "问题仍在"}))
        .await;
    assert_eq!(reopened.status(), StatusCode::OK);
    let case = app.case(&id).await;
    assert_eq!(case["status"], "assigned");
    assert_eq!(case["details"]["reopened"], 1);
    assert_eq!(case["closure"], Value::Null);
}

on_both_backends!(
    a_micro_consultation_is_convened_held_agreed_and_closed,
    a_joint_research_topic_passes_each_gate_in_turn,
    only_a_member_relays_and_only_the_submitter_or_staff_withdraws,
    an_unsatisfied_rating_reopens_the_suggestion,
);
