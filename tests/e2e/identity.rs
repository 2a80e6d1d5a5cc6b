//! Who a token is: its subject, never its display name. Two people of one name are two people;
//! a name that looks like a member id or a public submitter's id gets nothing of theirs; a token
//! may take over an earlier token's subject; an expired token is refused like a revoked one.

use chrono::{Duration, Utc};
use domain::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use service::access::tokens::{self, TokenError};
use tests::{new_token, on_both_backends, suggestion, Backend, TestApp, MEMBER_ID};

async fn two_people_of_one_name_are_two_people(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.issue(&new_token("张女士", Role::Citizen)).await;
    let second = app.issue(&new_token("张女士", Role::Citizen)).await;
    assert_ne!(app.subject(&first).await, app.subject(&second).await);
    let case = app.submitted_by(&first, &suggestion()).await;

    let read = app.get(&second, &format!("/api/v1/cases/{case}")).await;
    assert_eq!(read.status(), StatusCode::NOT_FOUND, "the namesake cannot read it");
    let withdrawn = app
        .act(&second, &case, "withdraw", &json!({"reason": "不需要了"}))
        .await;
    assert_eq!(withdrawn.status(), StatusCode::NOT_FOUND, "nor withdraw it");
    let listed: Value = app.get(&second, "/api/v1/cases").await.json().await.unwrap();
    assert_eq!(listed["cases"], json!([]), "nor list it");
    assert_eq!(
        app.history(&case).await.len(),
        1,
        "nothing was written for the namesake"
    );

    // Idempotency keys belong to a subject: the same key from the namesake is a new command.
    let with_key = |token: String, title: &'static str| {
        let app = &app;
        async move {
            let mut body = suggestion();
            body["title"] = json!(title);
            app.client
                .post(app.url("/api/v1/cases"))
                .bearer_auth(token)
                .header("Idempotency-Key", "form-42")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let mine = with_key(first.clone(), "路灯坏了").await;
    assert_eq!(mine.status(), StatusCode::CREATED);
    let theirs = with_key(second.clone(), "井盖丢了").await;
    assert_eq!(theirs.status(), StatusCode::CREATED, "not 'key reused'");
    let mine: Value = mine.json().await.unwrap();
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(mine["id"], theirs["id"]);
}

async fn a_name_that_looks_like_another_actor_gets_nothing_of_theirs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let members_case = app.submitted_by(&app.tokens.member, &suggestion()).await;
    let public = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(
            &json!({"title": "路灯坏了", "body": "小区门口路灯坏了一个月", "category": "住房",
                      "jurisdiction": "东胜区", "name": "李秀英", "phone": "138 0000 1234"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::CREATED);
    let public_case = public.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    for (name, case) in [
        (MEMBER_ID.to_owned(), &members_case),
        (format!("public:{public_case}"), &public_case),
    ] {
        let impostor = app.issue(&new_token(&name, Role::Citizen)).await;
        let read = app.get(&impostor, &format!("/api/v1/cases/{case}")).await;
        assert_eq!(read.status(), StatusCode::NOT_FOUND, "a citizen named {name}");
        let listed: Value = app.get(&impostor, "/api/v1/cases").await.json().await.unwrap();
        assert_eq!(listed["cases"], json!([]), "a citizen named {name} lists nothing");
        let filtered = app
            .get(&impostor, &format!("/api/v1/cases?submitted_by={MEMBER_ID}"))
            .await;
        assert!(filtered.status().is_client_error(), "nor filters by another submitter");
    }
}

async fn a_new_token_takes_over_an_earlier_tokens_subject(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = app.issue(&new_token("张女士", Role::Citizen)).await;
    let subject = app.subject(&old).await;
    let case = app.submitted_by(&old, &suggestion()).await;

    let mut replacement = new_token("张女士（新手机）", Role::Citizen);
    replacement.subject = Some(subject.clone());
    let new = app.issue(&replacement).await;
    assert_eq!(app.subject(&new).await, subject);
    let read = app.get(&new, &format!("/api/v1/cases/{case}")).await;
    assert_eq!(read.status(), StatusCode::OK, "the holder keeps their case");

    let store = &app.test_store.store;
    let mut as_staff = new_token("王", Role::Staff);
    as_staff.subject = Some(subject.clone());
    assert!(
        matches!(
            tokens::create(store, &as_staff).await,
            Err(TokenError::UnknownSubject { .. })
        ),
        "a subject is taken over only within its role"
    );
    let mut made_up = new_token("李", Role::Citizen);
    made_up.subject = Some("sub-made-up".to_owned());
    assert!(matches!(
        tokens::create(store, &made_up).await,
        Err(TokenError::UnknownSubject { .. })
    ));
    let mut member = new_token("赵委员", Role::Member);
    member.member_id = Some(MEMBER_ID.to_owned());
    member.subject = Some(subject);
    assert!(matches!(
        tokens::create(store, &member).await,
        Err(TokenError::SubjectForMember)
    ));
}

async fn an_expired_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut expired = new_token("临时", Role::Staff);
    expired.expires_at = Some(Utc::now() - Duration::seconds(1));
    let expired = app.issue(&expired).await;
    let mut valid = new_token("临时", Role::Staff);
    valid.expires_at = Some(Utc::now() + Duration::days(1));
    let valid = app.issue(&valid).await;

    let refused = app.get(&expired, "/api/v1/cases").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let accepted = app.get(&valid, "/api/v1/cases").await;
    assert_eq!(accepted.status(), StatusCode::OK);
}

/// The service remembers a token it looked up for a second: an expiry still refuses from the
/// moment it names, and a revocation within that second.
async fn a_remembered_token_stops_at_its_expiry_and_within_a_second_of_its_revocation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut expiring = new_token("临时", Role::Staff);
    let expires_at = Utc::now() + Duration::seconds(1);
    expiring.expires_at = Some(expires_at);
    let expiring = app.issue(&expiring).await;
    let revoked = tokens::create(&app.test_store.store, &new_token("调离", Role::Staff))
        .await
        .expect("a token is created");
    // Looked up at least 100 ms after it was made, the expiring token is still remembered a
    // moment after its expiry.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for token in [&expiring, &revoked.secret] {
        assert_eq!(app.get(token, "/api/v1/cases").await.status(), StatusCode::OK);
    }
    tokens::revoke(&app.test_store.store, &revoked.id.to_string())
        .await
        .expect("the token is revoked");
    let revoked_at = std::time::Instant::now();

    let until_expiry = (expires_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(until_expiry + std::time::Duration::from_millis(20)).await;
    assert_eq!(
        app.get(&expiring, "/api/v1/cases").await.status(),
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep((tokens::CACHE_TTL + std::time::Duration::from_millis(50)).saturating_sub(revoked_at.elapsed()))
        .await;
    assert_eq!(
        app.get(&revoked.secret, "/api/v1/cases").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

on_both_backends!(
    a_remembered_token_stops_at_its_expiry_and_within_a_second_of_its_revocation,
    two_people_of_one_name_are_two_people,
    a_name_that_looks_like_another_actor_gets_nothing_of_theirs,
    a_new_token_takes_over_an_earlier_tokens_subject,
    an_expired_token_is_refused,
);
