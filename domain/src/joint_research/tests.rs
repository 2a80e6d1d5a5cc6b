use super::*;

use cqrs_es::test::AggregateTestExecutor;
use serde_json::json;

use crate::test_support::*;
use crate::{Channel, Outcome, RecordVisit, Submit, SubmitReport};

use JointResearchEvent as E;

/// The shortest events that bring a topic to `status`: `researching` has no visit yet and
/// `consulting` no consultation yet; the report has three recommendations.
fn history(status: Status) -> Vec<E> {
    let (before, then) = match status {
        Status::Submitted => return vec![E::Submitted(submitted(Kind::JointResearch))],
        Status::Preparing => (Status::Submitted, vec![E::Assigned(assigned(day(181), day(1)))]),
        Status::Researching => (
            Status::Preparing,
            vec![E::PreparationCompleted(preparation_completed(day(2)))],
        ),
        Status::Consulting => (
            Status::Researching,
            vec![
                E::VisitRecorded(visit_recorded(day(3))),
                E::ResearchCompleted(research_completed(day(4))),
            ],
        ),
        Status::Reporting => (
            Status::Consulting,
            vec![
                E::Consulted(consulted(day(5))),
                E::ReportSubmitted(report_submitted(day(6))),
            ],
        ),
        Status::Adopted => (
            Status::Reporting,
            vec![E::Adopted(report_adopted(Extent::Full, vec![0, 1, 2], day(7)))],
        ),
        Status::Closed => (Status::Adopted, vec![E::Closed(closed(Outcome::A, day(8)))]),
        other => unreachable!("a joint research topic is never {other}"),
    };
    [history(before), then].concat()
}

/// Researching, with one field visit recorded.
fn visited() -> Vec<E> {
    [
        history(Status::Researching),
        vec![E::VisitRecorded(visit_recorded(day(3)))],
    ]
    .concat()
}

/// Consulting, with one consultation held.
fn consultation_held() -> Vec<E> {
    [history(Status::Consulting), vec![E::Consulted(consulted(day(5)))]].concat()
}

fn given(status: Status) -> AggregateTestExecutor<JointResearch> {
    given_events(history(status))
}

fn given_events(events: Vec<E>) -> AggregateTestExecutor<JointResearch> {
    framework().given(events)
}

fn nothing() -> AggregateTestExecutor<JointResearch> {
    framework().given_no_previous_events()
}

fn adopting(extent: Extent, recommendations: Vec<usize>) -> ActionInput {
    ActionInput::Adopt(Adopt {
        recommendations,
        ..adoption(extent)
    })
}

fn report_adopted(extent: Extent, recommendations: Vec<usize>, at: Timestamp) -> Adopted {
    Adopted {
        recommendations,
        ..adopted(extent, at)
    }
}

// Allowed transitions.

#[test]
fn a_member_submits_a_topic_with_its_lead_member_and_team() {
    nothing()
        .when(submit(Kind::JointResearch).by(member(MEMBER)))
        .then_expect_events(vec![E::Submitted(Submitted {
            channel: Channel::MemberReport,
            submitter: member(MEMBER),
            ..submitted(Kind::JointResearch)
        })]);
}

#[test]
fn a_member_who_names_no_lead_leads_the_topic() {
    nothing()
        .when(
            submitting(Submit {
                lead_member: None,
                ..submission(Kind::JointResearch)
            })
            .by(member("member-12")),
        )
        .then_expect_events(vec![E::Submitted(Submitted {
            channel: Channel::MemberReport,
            submitter: member("member-12"),
            lead_member: Some("member-12".to_owned()),
            ..submitted(Kind::JointResearch)
        })]);
}

#[test]
fn a_member_who_names_another_lead_does_not_lead_the_topic() {
    nothing()
        .when(submit(Kind::JointResearch).by(member("member-12")))
        .then_expect_events(vec![E::Submitted(Submitted {
            channel: Channel::MemberReport,
            submitter: member("member-12"),
            lead_member: Some(MEMBER.to_owned()),
            ..submitted(Kind::JointResearch)
        })]);
}

#[test]
fn a_topic_submitted_by_staff_or_a_citizen_without_a_lead_has_none() {
    for actor in [staff(), submitter()] {
        let _row = row(&actor);
        nothing()
            .when(
                submitting(Submit {
                    lead_member: None,
                    ..submission(Kind::JointResearch)
                })
                .by(actor.clone()),
            )
            .then_expect_events(vec![E::Submitted(Submitted {
                submitter: actor,
                lead_member: None,
                ..submitted(Kind::JointResearch)
            })]);
    }
}

#[test]
fn an_assignment_without_a_deadline_gets_a_hundred_and_eighty_days() {
    given(Status::Submitted)
        .when(act(assign(None)))
        .then_expect_events(vec![E::Assigned(assigned(day(190), now()))]);
}

#[test]
fn the_team_completes_its_preparation() {
    given(Status::Preparing)
        .when(act(complete_preparation()))
        .then_expect_events(vec![E::PreparationCompleted(preparation_completed(now()))]);
}

#[test]
fn field_visits_are_recorded_while_researching() {
    for events in [history(Status::Researching), visited()] {
        let _row = row(events.len());
        given_events(events)
            .when(act(record_visit()))
            .then_expect_events(vec![E::VisitRecorded(visit_recorded(now()))]);
    }
}

#[test]
fn research_with_a_field_visit_is_completed() {
    given_events(visited())
        .when(act(complete_research()))
        .then_expect_events(vec![E::ResearchCompleted(research_completed(now()))]);
}

#[test]
fn consultations_are_held_once_research_is_complete() {
    for events in [history(Status::Consulting), consultation_held()] {
        let _row = row(events.len());
        given_events(events)
            .when(act(consult()))
            .then_expect_events(vec![E::Consulted(consulted(now()))]);
    }
}

#[test]
fn the_report_is_submitted_after_a_consultation() {
    given_events(consultation_held())
        .when(act(submit_report()))
        .then_expect_events(vec![E::ReportSubmitted(report_submitted(now()))]);
}

#[test]
fn an_adoption_records_the_recommendations_it_takes() {
    let cases = [
        // A full adoption that names none takes them all.
        (Extent::Full, vec![], vec![0, 1, 2]),
        (Extent::Full, vec![2, 0, 1], vec![0, 1, 2]),
        (Extent::Partial, vec![2, 0], vec![0, 2]),
    ];
    for (extent, named, recorded) in cases {
        let _row = row((extent, &named));
        given(Status::Reporting)
            .when(act(adopting(extent, named)))
            .then_expect_events(vec![E::Adopted(report_adopted(extent, recorded, now()))]);
    }
}

#[test]
fn follow_up_policies_are_recorded_after_adoption() {
    let one_recorded = [
        history(Status::Adopted),
        vec![E::PolicyRecorded(policy_recorded(day(8)))],
    ]
    .concat();
    for events in [history(Status::Adopted), one_recorded] {
        let _row = row(events.len());
        given_events(events)
            .when(act(record_policy()))
            .then_expect_events(vec![E::PolicyRecorded(policy_recorded(now()))]);
    }
}

#[test]
fn an_adopted_topic_is_closed() {
    given(Status::Adopted)
        .when(act(close(Outcome::A)))
        .then_expect_events(vec![E::Closed(closed(Outcome::A, now()))]);
}

#[test]
fn a_topic_whose_report_is_not_adopted_is_closed_as_unsolvable_for_now() {
    given(Status::Reporting)
        .when(act(close(Outcome::C)))
        .then_expect_events(vec![E::Closed(closed(Outcome::C, now()))]);
}

// The gates: 准备不充分就不调研、调研不充分就不协商、协商不充分就不报告.

#[test]
fn no_field_research_consultation_or_report_before_preparation_is_complete() {
    let cases = [
        (record_visit(), Action::RecordVisit),
        (complete_research(), Action::CompleteResearch),
        (consult(), Action::Consult),
        (submit_report(), Action::SubmitReport),
    ];
    for (input, action) in cases {
        let _row = row(action);
        given(Status::Preparing)
            .when(act(input))
            .then_expect_error(CaseError::RuleBroken {
                action,
                status: Status::Preparing,
                rule: Rule::PreparationIncomplete,
                allowed: vec![Action::CompletePreparation],
            });
    }
}

#[test]
fn no_consultation_or_report_before_research_is_complete() {
    // Even with a visit on record, research must be declared complete first.
    for (input, action) in [(consult(), Action::Consult), (submit_report(), Action::SubmitReport)] {
        let _row = row(action);
        given_events(visited())
            .when(act(input))
            .then_expect_error(CaseError::RuleBroken {
                action,
                status: Status::Researching,
                rule: Rule::ResearchIncomplete,
                allowed: vec![Action::RecordVisit, Action::CompleteResearch],
            });
    }
}

#[test]
fn research_is_not_completed_without_a_field_visit() {
    given(Status::Researching)
        .when(act(complete_research()))
        .then_expect_error(CaseError::RuleBroken {
            action: Action::CompleteResearch,
            status: Status::Researching,
            rule: Rule::NoVisitRecorded,
            allowed: vec![Action::RecordVisit],
        });
}

#[test]
fn no_report_before_a_consultation_is_held() {
    given(Status::Consulting)
        .when(act(submit_report()))
        .then_expect_error(CaseError::RuleBroken {
            action: Action::SubmitReport,
            status: Status::Consulting,
            rule: Rule::ConsultationNotHeld,
            allowed: vec![Action::Consult],
        });
}

// Refused actions.

#[test]
fn every_status_refuses_the_actions_it_does_not_take() {
    let cases = [
        (
            Status::Submitted,
            complete_preparation(),
            Action::CompletePreparation,
            vec![Action::Assign],
        ),
        (
            Status::Preparing,
            assign(None),
            Action::Assign,
            vec![Action::CompletePreparation],
        ),
        (
            Status::Researching,
            complete_preparation(),
            Action::CompletePreparation,
            vec![Action::RecordVisit],
        ),
        (
            Status::Consulting,
            record_visit(),
            Action::RecordVisit,
            vec![Action::Consult],
        ),
        (
            Status::Reporting,
            consult(),
            Action::Consult,
            vec![Action::Adopt, Action::Close],
        ),
        (
            Status::Reporting,
            decline(),
            Action::Decline,
            vec![Action::Adopt, Action::Close],
        ),
        (
            Status::Adopted,
            adopt(Extent::Full),
            Action::Adopt,
            vec![Action::RecordPolicy, Action::Close],
        ),
        (Status::Closed, record_policy(), Action::RecordPolicy, vec![]),
    ];
    for (status, input, action, allowed) in cases {
        let _row = row(status);
        given(status).when(act(input)).then_expect_error(CaseError::NotAllowed {
            action,
            status,
            allowed,
        });
    }
}

#[test]
fn a_topic_whose_report_was_not_adopted_closes_only_as_unsolvable_for_now() {
    for outcome in [Outcome::A, Outcome::B] {
        let _row = row(outcome);
        given(Status::Reporting)
            .when(act(close(outcome)))
            .then_expect_error(CaseError::invalid(
                "outcome",
                "a topic whose report was not adopted closes with outcome C",
            ));
    }
}

// What every command passes first.

#[test]
fn a_topic_is_submitted_only_once() {
    given(Status::Submitted)
        .when(submit(Kind::JointResearch))
        .then_expect_error(CaseError::AlreadyExists);
}

#[test]
fn an_action_before_submission_finds_no_topic() {
    nothing()
        .when(act(complete_preparation()))
        .then_expect_error(CaseError::NotFound);
}

#[test]
fn another_kind_of_case_is_not_submitted_as_a_topic() {
    for kind in [Kind::Suggestion, Kind::MicroConsultation] {
        let _row = row(kind);
        nothing()
            .when(submit(kind))
            .then_expect_error(CaseError::invalid("kind", "this case is a joint_research"));
    }
}

#[test]
fn a_command_against_a_stale_version_is_refused() {
    given(Status::Reporting)
        .when(act(adopt(Extent::Full)).expecting(6))
        .then_expect_error(CaseError::VersionMismatch { expected: 6, actual: 7 });
}

// Field validation.

#[test]
fn an_invalid_lead_member_or_team_is_refused_naming_the_field() {
    let cases = [
        (
            Submit {
                lead_member: Some("member\n7".to_owned()),
                ..submission(Kind::JointResearch)
            },
            "lead_member",
            "must be a single line without control characters",
        ),
        (
            Submit {
                team: vec![MEMBER.to_owned(), " ".to_owned()],
                ..submission(Kind::JointResearch)
            },
            "team",
            "must not be empty",
        ),
    ];
    for (input, field, reason) in cases {
        let _row = row(&input);
        nothing()
            .when(submitting(input))
            .then_expect_error(CaseError::invalid(field, reason));
    }
}

#[test]
fn an_invalid_visit_or_report_is_refused_naming_the_field() {
    let report = |recommendations: Vec<&str>| {
        ActionInput::SubmitReport(SubmitReport {
            title: "Consolidating the three zones".to_owned(),
            recommendations: recommendations.into_iter().map(str::to_owned).collect(),
        })
    };
    let cases = [
        (
            history(Status::Researching),
            ActionInput::RecordVisit(RecordVisit {
                place: "Hanggin Banner".to_owned(),
                findings: String::new(),
            }),
            "findings",
            "must not be empty",
        ),
        (
            consultation_held(),
            report(vec![]),
            "recommendations",
            "must list at least one recommendation",
        ),
        (
            consultation_held(),
            report(vec!["Fund cooperatives", " "]),
            "recommendations",
            "must not be empty",
        ),
    ];
    for (events, input, field, reason) in cases {
        let _row = row(&input);
        given_events(events)
            .when(act(input))
            .then_expect_error(CaseError::invalid(field, reason));
    }
}

#[test]
fn an_adoption_names_each_recommendation_of_the_report_once_and_matches_its_extent() {
    let cases = [
        (
            adopting(Extent::Partial, vec![3]),
            "recommendations",
            "the report has no recommendation 3; it has 3 (numbered from 0)",
        ),
        (
            adopting(Extent::Partial, vec![0, 1, 2]),
            "extent",
            "adopting every recommendation is a full adoption",
        ),
        (
            adopting(Extent::Partial, vec![]),
            "recommendations",
            "a partial adoption names the recommendations adopted",
        ),
        (
            adopting(Extent::Partial, vec![1, 1]),
            "recommendations",
            "each recommendation is named once",
        ),
        (
            adopting(Extent::Full, vec![0, 1]),
            "extent",
            "a full adoption takes every recommendation",
        ),
        (
            ActionInput::Adopt(Adopt {
                responsible_parties: vec!["市农牧局".to_owned()],
                ..adoption(Extent::Full)
            }),
            "responsible_parties",
            "only a micro-consultation names responsible parties",
        ),
        (
            ActionInput::Adopt(Adopt {
                due_at: Some(day(200)),
                ..adoption(Extent::Full)
            }),
            "due_at",
            "only a micro-consultation sets a due date at adoption",
        ),
    ];
    for (input, field, reason) in cases {
        let _row = row(&input);
        given(Status::Reporting)
            .when(act(input))
            .then_expect_error(CaseError::invalid(field, reason));
    }
}

// Stored events.

#[test]
fn a_submitted_topic_is_stored_with_its_team_in_a_fixed_json_shape() {
    assert_stored_as(
        &E::Submitted(submitted(Kind::JointResearch)),
        json!({
            "type": "submitted",
            "title": "Traffic jams outside No. 3 Primary School",
            "body": "Parents' cars block Tianjiao Road every school day from 16:30 to 17:30.",
            "category": "traffic",
            "jurisdiction": "东胜区",
            "channel": "online",
            "submitter": { "id": "citizen-1", "role": "citizen" },
            "lead_member": "member-7",
            "team": ["member-7", "member-12"],
            "at": "2026-03-01T09:00:00Z"
        }),
    );
}

#[test]
fn a_partial_adoption_is_stored_with_its_recommendations_in_a_fixed_json_shape() {
    assert_stored_as(
        &E::Adopted(report_adopted(Extent::Partial, vec![0, 2], day(7))),
        json!({
            "type": "adopted",
            "by": "东胜区人民政府",
            "extent": "partial",
            "note": "Staggered pick-up times from next term",
            "recommendations": [0, 2],
            "at": "2026-03-08T09:00:00Z"
        }),
    );
}

#[test]
fn every_joint_research_event_is_stored_under_its_fixed_type() {
    assert_event_types(vec![
        (E::Submitted(submitted(Kind::JointResearch)), "submitted"),
        (E::Assigned(assigned(day(181), day(1))), "assigned"),
        (
            E::PreparationCompleted(preparation_completed(day(2))),
            "preparation_completed",
        ),
        (E::VisitRecorded(visit_recorded(day(3))), "visit_recorded"),
        (E::ResearchCompleted(research_completed(day(4))), "research_completed"),
        (E::Consulted(consulted(day(5))), "consulted"),
        (E::ReportSubmitted(report_submitted(day(6))), "report_submitted"),
        (
            E::Adopted(report_adopted(Extent::Full, vec![0, 1, 2], day(7))),
            "adopted",
        ),
        (E::PolicyRecorded(policy_recorded(day(8))), "policy_recorded"),
        (E::Closed(closed(Outcome::A, day(9))), "closed"),
    ]);
}

// Allowed actions.

#[test]
fn the_allowed_actions_follow_the_gated_method() {
    let cases = [
        ("submitted", history(Status::Submitted), vec![Action::Assign]),
        (
            "preparing",
            history(Status::Preparing),
            vec![Action::CompletePreparation],
        ),
        ("researching", history(Status::Researching), vec![Action::RecordVisit]),
        (
            "visited",
            visited(),
            vec![Action::RecordVisit, Action::CompleteResearch],
        ),
        ("consulting", history(Status::Consulting), vec![Action::Consult]),
        (
            "consultation held",
            consultation_held(),
            vec![Action::Consult, Action::SubmitReport],
        ),
        (
            "reporting",
            history(Status::Reporting),
            vec![Action::Adopt, Action::Close],
        ),
        (
            "adopted",
            history(Status::Adopted),
            vec![Action::RecordPolicy, Action::Close],
        ),
        ("closed", history(Status::Closed), vec![]),
    ];
    for (name, events, allowed) in cases {
        let case: JointResearch = state(events);
        assert_eq!(case.allowed_actions(&staff(), now()), allowed, "when {name}");
    }
}
