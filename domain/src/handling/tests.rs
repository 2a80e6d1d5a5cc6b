//! The handling unit's steps and the deadlines, given/when/then, on suggestions (the kind with
//! every step) and on the reply/evaluate steps of the other kinds.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

use crate::joint_research::JointResearchEvent;
use crate::micro_consultation::MicroConsultationEvent;
use crate::suggestion::SuggestionEvent as E;
use crate::test_support::*;
use crate::{
    Acknowledge, Action, ActionInput, Actor, Case, CaseCommand, CaseError, Contribute, DayCounting, Escalate, Extent,
    Feedback, FeedbackGiven, GrantExtension, HandlingEvent, HandlingLevel, JointResearch, Kind, MicroConsultation,
    Outcome, Policy, Rating, Reason, Reopen, Replied, Reply, RequestExtension, Required, Role, Rule, Status,
    Suggestion, Timestamp,
};

/// A unit's token: its actor id is the unit's id.
fn unit(id: &str) -> Actor {
    Actor {
        id: id.to_owned(),
        role: Role::Department,
    }
}

fn lead() -> Actor {
    unit(DEPARTMENT)
}

fn co_unit() -> Actor {
    unit(CO_DEPARTMENT)
}

/// A suggestion assigned on day 1 (Monday 2 March 2026, 17:00 in Beijing) to [`DEPARTMENT`],
/// with [`CO_DEPARTMENT`] co-handling, due on day 16.
fn assigned_case() -> Vec<E> {
    vec![
        E::Submitted(submitted(Kind::Suggestion)),
        E::Assigned(assigned(day(16), day(1))),
    ]
}

fn with(mut events: Vec<E>, more: impl IntoIterator<Item = E>) -> Vec<E> {
    events.extend(more);
    events
}

fn handled(event: HandlingEvent) -> E {
    E::Handled(event)
}

fn acknowledged(at: Timestamp) -> E {
    handled(HandlingEvent::Acknowledged(crate::Acknowledged {
        department: DEPARTMENT.to_owned(),
        late: false,
        at,
    }))
}

fn signed_case() -> Vec<E> {
    with(assigned_case(), [acknowledged(day(2))])
}

fn reply_input() -> Reply {
    Reply {
        content: "A drop-off lane opens on 1 April.".to_owned(),
        proposed_outcome: Outcome::A,
        measures: Some("Lane painted, two traffic wardens at 16:30.".to_owned()),
    }
}

/// What the lead's reply at `at` records, given the first and effective deadlines.
fn replied(at: Timestamp, late: bool, late_against_effective: bool) -> Replied {
    let reply = reply_input();
    Replied {
        department: DEPARTMENT.to_owned(),
        text: reply.content,
        proposed_grade: reply.proposed_outcome,
        measures: reply.measures.unwrap_or_default(),
        late,
        late_against_effective,
        evaluate_by: Policy::default().working_days_after(at, Policy::default().evaluation_working_days),
        at,
    }
}

fn replied_case() -> Vec<E> {
    with(
        signed_case(),
        [handled(HandlingEvent::Replied(replied(day(3), false, false)))],
    )
}

fn by(actor: Actor, at: Timestamp, input: ActionInput) -> CaseCommand {
    act(input).by(actor).on(at)
}

fn reason(text: &str) -> Reason {
    Reason {
        reason: text.to_owned(),
    }
}

fn evaluation(rating: Rating) -> ActionInput {
    ActionInput::Evaluate(Feedback {
        rating,
        comment: None,
        on_behalf_reason: None,
    })
}

/// Why `command` is refused on the case `events` build.
fn refusal<A: Case>(events: Vec<A::Event>, command: CaseCommand) -> CaseError {
    state::<A>(events)
        .decide(command, &Policy::default())
        .expect_err("the command is refused")
}

fn rule_of(error: CaseError) -> Rule {
    match error {
        CaseError::RuleBroken { rule, .. } => rule,
        other => panic!("expected a broken rule, got {other:?}"),
    }
}

fn required_of(error: CaseError) -> Required {
    match error {
        CaseError::Forbidden { required, .. } => required,
        other => panic!("expected a forbidden action, got {other:?}"),
    }
}

// Signing for a case 签收.

#[test]
fn the_lead_unit_signs_for_its_case_within_the_window() {
    // Assigned Monday 17:00 in Beijing: the window is one working day, to Tuesday's end.
    framework::<Suggestion>()
        .given(assigned_case())
        .when(by(lead(), day(2), ActionInput::Acknowledge(Acknowledge {})))
        .then_expect_events(vec![acknowledged(day(2))]);
}

#[test]
fn a_signature_after_the_window_is_recorded_as_late() {
    framework::<Suggestion>()
        .given(assigned_case())
        .when(by(lead(), day(3), ActionInput::Acknowledge(Acknowledge {})))
        .then_expect_events(vec![handled(HandlingEvent::Acknowledged(crate::Acknowledged {
            department: DEPARTMENT.to_owned(),
            late: true,
            at: day(3),
        }))]);
}

#[test]
fn only_the_lead_unit_signs() {
    for actor in [co_unit(), unit("Water Bureau"), staff()] {
        let _row = row(&actor);
        let error = refusal::<Suggestion>(
            assigned_case(),
            by(actor, day(2), ActionInput::Acknowledge(Acknowledge {})),
        );
        assert_eq!(required_of(error), Required::LeadDepartment);
    }
}

#[test]
fn a_unit_signs_once() {
    let error = refusal::<Suggestion>(
        signed_case(),
        by(lead(), day(2), ActionInput::Acknowledge(Acknowledge {})),
    );
    assert_eq!(rule_of(error), Rule::AlreadyAcknowledged);
}

// Objecting 退回/异议, and staff's answer.

fn objected(at: Timestamp) -> E {
    handled(HandlingEvent::Objected(crate::Objected {
        department: DEPARTMENT.to_owned(),
        reason: "The school gate is the Education Bureau's".to_owned(),
        at,
    }))
}

fn object() -> ActionInput {
    ActionInput::Object(reason("The school gate is the Education Bureau's"))
}

#[test]
fn the_lead_unit_objects_within_the_objection_window() {
    // Five working days after Monday 2 March: to the end of Monday 9 March in Beijing.
    framework::<Suggestion>()
        .given(assigned_case())
        .when(by(lead(), day(8), object()))
        .then_expect_events(vec![objected(day(8))]);
}

#[test]
fn an_objection_after_the_window_is_refused() {
    let error = refusal::<Suggestion>(assigned_case(), by(lead(), day(9), object()));
    assert_eq!(rule_of(error), Rule::ObjectionWindowClosed);
}

#[test]
fn while_an_objection_waits_the_unit_neither_signs_nor_replies() {
    let objected_case = with(assigned_case(), [objected(day(2))]);
    let sign = refusal::<Suggestion>(
        objected_case.clone(),
        by(lead(), day(2), ActionInput::Acknowledge(Acknowledge {})),
    );
    assert_eq!(rule_of(sign), Rule::ObjectionPending);
    let reply = refusal::<Suggestion>(
        with(signed_case(), [objected(day(2))]),
        by(lead(), day(3), ActionInput::Reply(reply_input())),
    );
    assert_eq!(rule_of(reply), Rule::ObjectionPending);
    let allowed = state::<Suggestion>(objected_case).allowed_actions(&staff(), day(3));
    assert!(allowed.contains(&Action::Insist) && allowed.contains(&Action::Reassign));
}

#[test]
fn staff_insist_and_the_unit_signs_within_a_fresh_window_and_may_not_object_again() {
    let objected_case = with(assigned_case(), [objected(day(2))]);
    let insisted = crate::Insisted {
        department: DEPARTMENT.to_owned(),
        reason: "The lane is on a city road".to_owned(),
        windows: crate::Windows {
            acknowledge_by: Some(Policy::default().working_days_after(day(3), 1)),
            object_by: Some(day(3)),
        },
        at: day(3),
    };
    framework::<Suggestion>()
        .given(objected_case.clone())
        .when(by(
            staff(),
            day(3),
            ActionInput::Insist(reason("The lane is on a city road")),
        ))
        .then_expect_events(vec![handled(HandlingEvent::Insisted(insisted.clone()))]);
    let after = with(objected_case, [handled(HandlingEvent::Insisted(insisted))]);
    framework::<Suggestion>()
        .given(after.clone())
        .when(by(lead(), day(4), ActionInput::Acknowledge(Acknowledge {})))
        .then_expect_events(vec![acknowledged(day(4))]);
    assert_eq!(
        rule_of(refusal::<Suggestion>(after, by(lead(), day(4), object()))),
        Rule::ObjectionWindowClosed
    );
}

#[test]
fn staff_insist_only_on_an_objection() {
    let error = refusal::<Suggestion>(assigned_case(), by(staff(), day(3), ActionInput::Insist(reason("no"))));
    assert_eq!(rule_of(error), Rule::NoObjectionPending);
}

#[test]
fn a_reassignment_after_an_objection_hands_the_case_to_the_new_unit_which_signs_anew() {
    let reassigned_case = with(
        assigned_case(),
        [objected(day(2)), E::Reassigned(reassigned(day(18), day(3)))],
    );
    let case = state::<Suggestion>(reassigned_case.clone());
    assert_eq!(case.core.department.as_deref(), Some(OTHER_DEPARTMENT));
    assert_eq!(case.core.objection, None);
    assert_eq!(case.core.handlers, [DEPARTMENT, CO_DEPARTMENT, OTHER_DEPARTMENT]);
    assert_eq!(case.core.first_due_at, Some(day(16)), "the first deadline stays");
    let old_unit = refusal::<Suggestion>(
        reassigned_case.clone(),
        by(lead(), day(4), ActionInput::Acknowledge(Acknowledge {})),
    );
    assert_eq!(required_of(old_unit), Required::LeadDepartment);
    let new_unit = by(unit(OTHER_DEPARTMENT), day(4), ActionInput::Acknowledge(Acknowledge {}));
    let reply_unsigned = refusal::<Suggestion>(
        reassigned_case.clone(),
        by(unit(OTHER_DEPARTMENT), day(4), ActionInput::Reply(reply_input())),
    );
    assert_eq!(rule_of(reply_unsigned), Rule::NotAcknowledged);
    framework::<Suggestion>()
        .given(reassigned_case)
        .when(new_unit)
        .then_expect_events(vec![handled(HandlingEvent::Acknowledged(crate::Acknowledged {
            department: OTHER_DEPARTMENT.to_owned(),
            late: false,
            at: day(4),
        }))]);
}

// Extensions 申请延期.

fn request(days: u32) -> ActionInput {
    ActionInput::RequestExtension(RequestExtension {
        days,
        reason: "The lane needs the police's approval".to_owned(),
    })
}

fn requested(days: u32, at: Timestamp) -> E {
    handled(HandlingEvent::ExtensionRequested(crate::ExtensionRequested {
        department: DEPARTMENT.to_owned(),
        days,
        reason: "The lane needs the police's approval".to_owned(),
        at,
    }))
}

#[test]
fn the_lead_unit_asks_for_time_before_the_deadline() {
    framework::<Suggestion>()
        .given(signed_case())
        .when(by(lead(), day(15), request(10)))
        .then_expect_events(vec![requested(10, day(15))]);
}

#[test]
fn an_extension_is_refused_after_the_deadline_before_signing_and_while_one_waits() {
    let late = refusal::<Suggestion>(signed_case(), by(lead(), day(16), request(10)));
    assert_eq!(rule_of(late), Rule::PastDeadline);
    let unsigned = refusal::<Suggestion>(assigned_case(), by(lead(), day(5), request(10)));
    assert_eq!(rule_of(unsigned), Rule::NotAcknowledged);
    let twice = refusal::<Suggestion>(
        with(signed_case(), [requested(10, day(5))]),
        by(lead(), day(6), request(5)),
    );
    assert_eq!(rule_of(twice), Rule::ExtensionPending);
    let co = refusal::<Suggestion>(signed_case(), by(co_unit(), day(5), request(10)));
    assert_eq!(required_of(co), Required::LeadDepartment);
}

#[test]
fn staff_grant_the_days_asked_for_and_the_effective_deadline_moves_but_not_the_first() {
    let asked = with(signed_case(), [requested(10, day(15))]);
    let granted = crate::ExtensionGranted {
        days: 10,
        previous_due_at: day(16),
        due_at: day(26),
        at: day(17),
    };
    framework::<Suggestion>()
        .given(asked.clone())
        .when(by(
            staff(),
            day(17),
            ActionInput::GrantExtension(GrantExtension { days: None }),
        ))
        .then_expect_events(vec![handled(HandlingEvent::ExtensionGranted(granted.clone()))]);
    let case = state::<Suggestion>(with(asked, [handled(HandlingEvent::ExtensionGranted(granted))]));
    assert_eq!(
        (case.core.first_due_at, case.core.due_at),
        (Some(day(16)), Some(day(26)))
    );
    assert_eq!(
        case.core.late_since, None,
        "asked in time: answering after the deadline is staff's delay"
    );
    assert!(!case.core.is_overdue(day(20)));
}

#[test]
fn staff_refuse_an_extension_and_grant_or_refuse_only_what_was_asked() {
    framework::<Suggestion>()
        .given(with(signed_case(), [requested(10, day(5))]))
        .when(by(
            staff(),
            day(6),
            ActionInput::RefuseExtension(reason("The answer is simple")),
        ))
        .then_expect_events(vec![handled(HandlingEvent::ExtensionRefused(
            crate::ExtensionRefused {
                reason: "The answer is simple".to_owned(),
                at: day(6),
            },
        ))]);
    let error = refusal::<Suggestion>(
        signed_case(),
        by(
            staff(),
            day(6),
            ActionInput::GrantExtension(GrantExtension { days: Some(5) }),
        ),
    );
    assert_eq!(rule_of(error), Rule::NoExtensionRequested);
    let by_unit = refusal::<Suggestion>(
        with(signed_case(), [requested(10, day(5))]),
        by(
            lead(),
            day(6),
            ActionInput::GrantExtension(GrantExtension { days: None }),
        ),
    );
    assert_eq!(required_of(by_unit), Required::Role(Role::Staff));
}

#[test]
fn a_granted_extension_is_on_time_against_the_effective_deadline_and_late_against_the_first() {
    let extended = with(
        signed_case(),
        [
            requested(10, day(15)),
            handled(HandlingEvent::ExtensionGranted(crate::ExtensionGranted {
                days: 10,
                previous_due_at: day(16),
                due_at: day(26),
                at: day(15),
            })),
        ],
    );
    framework::<Suggestion>()
        .given(extended)
        .when(by(lead(), day(20), ActionInput::Reply(reply_input())))
        .then_expect_events(vec![handled(HandlingEvent::Replied(replied(day(20), true, false)))]);
}

// Co-handling opinions 协办意见 and the reply 答复.

#[test]
fn a_co_handling_unit_sends_its_opinion_before_the_lead_replies() {
    framework::<Suggestion>()
        .given(signed_case())
        .when(by(
            co_unit(),
            day(3),
            ActionInput::Contribute(Contribute {
                opinion: "Two wardens can be spared at 16:30.".to_owned(),
            }),
        ))
        .then_expect_events(vec![handled(HandlingEvent::Contributed(crate::Contributed {
            department: CO_DEPARTMENT.to_owned(),
            opinion: "Two wardens can be spared at 16:30.".to_owned(),
            at: day(3),
        }))]);
    let contribute = ActionInput::Contribute(Contribute {
        opinion: "late".to_owned(),
    });
    let after_reply = refusal::<Suggestion>(replied_case(), by(co_unit(), day(4), contribute.clone()));
    assert_eq!(rule_of(after_reply), Rule::AlreadyReplied);
    let by_lead = refusal::<Suggestion>(signed_case(), by(lead(), day(3), contribute));
    assert_eq!(required_of(by_lead), Required::CoDepartment);
}

#[test]
fn the_lead_unit_replies_once_it_has_signed() {
    framework::<Suggestion>()
        .given(signed_case())
        .when(by(lead(), day(3), ActionInput::Reply(reply_input())))
        .then_expect_events(vec![handled(HandlingEvent::Replied(replied(day(3), false, false)))]);
    let unsigned = refusal::<Suggestion>(assigned_case(), by(lead(), day(3), ActionInput::Reply(reply_input())));
    assert_eq!(rule_of(unsigned), Rule::NotAcknowledged);
    let twice = refusal::<Suggestion>(replied_case(), by(lead(), day(4), ActionInput::Reply(reply_input())));
    assert_eq!(rule_of(twice), Rule::AlreadyReplied);
}

#[test]
fn a_co_handling_unit_may_not_reply_as_the_lead() {
    let error = refusal::<Suggestion>(signed_case(), by(co_unit(), day(3), ActionInput::Reply(reply_input())));
    assert_eq!(required_of(error), Required::LeadDepartment);
}

#[test]
fn a_unit_acts_only_on_a_case_in_hand() {
    let submitted_only = vec![E::Submitted(submitted(Kind::Suggestion))];
    let error = refusal::<Suggestion>(
        submitted_only,
        by(lead(), day(1), ActionInput::Acknowledge(Acknowledge {})),
    );
    assert!(matches!(error, CaseError::NotAllowed { .. }), "{error:?}");
}

// The proposer's evaluation 评价, 重办 and the close.

/// What [`evaluation`] records.
fn evaluation_given(rating: Rating, at: Timestamp) -> FeedbackGiven {
    FeedbackGiven {
        rating,
        comment: None,
        on_behalf_reason: None,
        at,
    }
}

fn evaluated(rating: Rating, at: Timestamp) -> E {
    E::FeedbackGiven(evaluation_given(rating, at))
}

#[test]
fn the_proposer_evaluates_the_reply_within_the_window() {
    framework::<Suggestion>()
        .given(replied_case())
        .when(by(submitter(), day(5), evaluation(Rating::BasicallySatisfied)))
        .then_expect_events(vec![evaluated(Rating::BasicallySatisfied, day(5))]);
}

#[test]
fn an_evaluation_is_refused_before_a_reply_after_its_window_and_from_anyone_else() {
    let early = refusal::<Suggestion>(signed_case(), by(submitter(), day(3), evaluation(Rating::Satisfied)));
    assert_eq!(rule_of(early), Rule::NotReplied);
    // Ten working days after Wednesday 4 March: to the end of Wednesday 18 March.
    let late = refusal::<Suggestion>(replied_case(), by(submitter(), day(18), evaluation(Rating::Satisfied)));
    assert_eq!(rule_of(late), Rule::EvaluationWindowClosed);
    let other = refusal::<Suggestion>(
        replied_case(),
        by(someone_else(), day(5), evaluation(Rating::Satisfied)),
    );
    assert_eq!(required_of(other), Required::SubmitterOrStaff);
    let twice = refusal::<Suggestion>(
        with(replied_case(), [evaluated(Rating::Satisfied, day(5))]),
        by(submitter(), day(6), evaluation(Rating::Unsatisfied)),
    );
    assert_eq!(rule_of(twice), Rule::AlreadyRated);
}

#[test]
fn an_unsatisfied_evaluation_lets_staff_reopen_to_another_unit() {
    let unsatisfied = with(replied_case(), [evaluated(Rating::Unsatisfied, day(5))]);
    let input = ActionInput::Reopen(Reopen {
        reason: "The lane is blocked by parked cars".to_owned(),
        department: Some(OTHER_DEPARTMENT.to_owned()),
        co_departments: Vec::new(),
    });
    let reopened = crate::Reopened {
        reason: "The lane is blocked by parked cars".to_owned(),
        department: Some(OTHER_DEPARTMENT.to_owned()),
        co_departments: Vec::new(),
        due_at: day(21),
        windows: windows(day(6)),
        at: day(6),
    };
    framework::<Suggestion>()
        .given(unsatisfied.clone())
        .when(by(staff(), day(6), input))
        .then_expect_events(vec![E::Reopened(reopened.clone())]);
    let case = state::<Suggestion>(with(unsatisfied, [E::Reopened(reopened)]));
    assert_eq!(case.core.department.as_deref(), Some(OTHER_DEPARTMENT));
    assert_eq!((case.core.reply.clone(), case.core.feedback.clone()), (None, None));
    assert_eq!(case.core.status, Some(Status::Assigned));
    let satisfied = with(replied_case(), [evaluated(Rating::Satisfied, day(5))]);
    let error = refusal::<Suggestion>(satisfied, by(staff(), day(6), reopen()));
    assert_eq!(rule_of(error), Rule::NotRatedUnsatisfied);
}

#[test]
fn staff_close_a_replied_case_with_the_grade() {
    framework::<Suggestion>()
        .given(with(replied_case(), [evaluated(Rating::Satisfied, day(5))]))
        .when(by(staff(), day(6), close(Outcome::A)))
        .then_expect_events(vec![E::Closed(closed(Outcome::A, day(6)))]);
}

// Deadlines that cannot be moved by accident.

fn overdue_case() -> Vec<E> {
    // Assigned day 1, due day 16, nothing done until day 30.
    assigned_case()
}

#[test]
fn an_overdue_case_escalated_stays_late_against_its_first_deadline() {
    let escalated_case = with(overdue_case(), [E::Escalated(escalated(day(16), day(45), day(30)))]);
    let case = state::<Suggestion>(escalated_case.clone());
    assert_eq!(
        (case.core.first_due_at, case.core.due_at),
        (Some(day(16)), Some(day(45)))
    );
    assert_eq!(case.core.late_since, Some(day(16)));
    assert_eq!(case.core.level, HandlingLevel::City);
    // Answered at city level well within the new deadline: closed within the deadline then in
    // force, and late all the same.
    let answered = with(
        escalated_case,
        [
            acknowledged(day(31)),
            handled(HandlingEvent::Replied(replied(day(32), true, false))),
        ],
    );
    let closed = state::<Suggestion>(answered).decide(by(staff(), day(33), close(Outcome::A)), &Policy::default());
    assert_eq!(
        closed.unwrap(),
        [E::Closed(crate::Closed {
            late: false,
            late_since: Some(day(16)),
            ..crate::test_support::closed(Outcome::A, day(33))
        })]
    );
}

#[test]
fn an_overdue_case_reassigned_or_reopened_stays_late() {
    let reassigned_case = with(overdue_case(), [E::Reassigned(reassigned(day(45), day(30)))]);
    assert_eq!(state::<Suggestion>(reassigned_case).core.late_since, Some(day(16)));
    let reopened_case = with(
        overdue_case(),
        [
            E::Adopted(adopted(Extent::Full, day(20))),
            E::Closed(crate::Closed {
                late: true,
                late_since: Some(day(16)),
                ..closed(Outcome::A, day(21))
            }),
            E::FeedbackGiven(feedback_given(Rating::Unsatisfied, day(22))),
            E::Reopened(reopened(day(37), day(22))),
        ],
    );
    let case = state::<Suggestion>(reopened_case);
    assert_eq!(
        (case.core.late_since, case.core.first_due_at),
        (Some(day(16)), Some(day(16)))
    );
}

#[test]
fn a_late_case_withdrawn_or_merged_keeps_its_lateness() {
    for gone in [
        E::Withdrawn(withdrawn(day(30))),
        E::Merged(merged(OTHER_CASE_ID, day(30))),
    ] {
        let case = state::<Suggestion>(with(overdue_case(), [gone]));
        assert_eq!(case.core.late_since, Some(day(16)));
    }
}

#[test]
fn an_escalation_to_the_city_hands_the_case_to_a_city_unit_where_it_stands() {
    let input = ActionInput::Escalate(Escalate {
        reason: "超期未办复，提级督办".to_owned(),
        level: Some(HandlingLevel::City),
        department: Some("市交通运输局".to_owned()),
        co_departments: Vec::new(),
    });
    let events = state::<Suggestion>(overdue_case())
        .decide(by(staff(), day(30), input), &Policy::default())
        .unwrap();
    let mut case = state::<Suggestion>(overdue_case());
    events.into_iter().for_each(|event| case.apply(event));
    assert_eq!(case.core.level, HandlingLevel::City);
    assert_eq!(case.core.department.as_deref(), Some("市交通运输局"));
    assert_eq!(case.core.jurisdiction, "东胜区", "the case keeps its place");
    assert_eq!(case.core.acknowledged, None, "the city unit signs for it");
    let local = ActionInput::Escalate(Escalate {
        level: Some(HandlingLevel::Local),
        ..Reason {
            reason: "down".to_owned(),
        }
        .into()
    });
    let error = state::<Suggestion>(overdue_case()).decide(by(staff(), day(30), local), &Policy::default());
    assert!(matches!(error, Err(CaseError::InvalidField { field: "level", .. })));
}

#[test]
fn a_deadline_in_working_days_skips_the_spring_festival() {
    // Assigned Friday 13 February 2026 at 10:00 in Beijing; 3 working days: Saturday 14 (调休),
    // then Tuesday 24 and Wednesday 25 after the festival's rest days (15–23).
    let policy = Policy {
        suggestion_response_days: 3,
        response_counting: [DayCounting::WorkingDays; 3],
        ..Policy::default()
    };
    let at = Utc.with_ymd_and_hms(2026, 2, 13, 2, 0, 0).unwrap();
    let due = policy.response_deadline(Kind::Suggestion, at);
    assert_eq!(due, Utc.with_ymd_and_hms(2026, 2, 25, 16, 0, 0).unwrap());
    let extended = policy.extended_deadline(Kind::Suggestion, due, 2);
    assert_eq!(extended, Utc.with_ymd_and_hms(2026, 2, 27, 16, 0, 0).unwrap());
    assert_eq!(
        policy.calendar.working_days_between(
            NaiveDate::from_ymd_opt(2026, 2, 13).unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 25).unwrap()
        ),
        3
    );
    // In calendar days a deadline is the moment of assignment plus the days.
    assert_eq!(
        Policy::default().response_deadline(Kind::Suggestion, at),
        at + Duration::days(15)
    );
}

// The other kinds: where a unit is asked to act on what was agreed or recommended.

#[test]
fn a_micro_consultations_unit_replies_on_the_solution_agreed_and_the_proposer_evaluates() {
    use MicroConsultationEvent as M;
    let agreed = vec![
        M::Submitted(submitted(Kind::MicroConsultation)),
        M::Assigned(assigned(day(31), day(1))),
        M::Convened(convened(day(2))),
        M::Consulted(consulted(day(2))),
        M::Adopted(adopted(Extent::Full, day(3))),
        M::Handled(HandlingEvent::Acknowledged(crate::Acknowledged {
            department: DEPARTMENT.to_owned(),
            late: false,
            at: day(2),
        })),
    ];
    TestFramework::<MicroConsultation>::with(Policy::default())
        .given(agreed.clone())
        .when(by(lead(), day(4), ActionInput::Reply(reply_input())))
        .then_expect_events(vec![M::Handled(HandlingEvent::Replied(replied(day(4), false, false)))]);
    let replied_micro = {
        let mut events = agreed;
        events.push(M::Handled(HandlingEvent::Replied(replied(day(4), false, false))));
        events
    };
    TestFramework::<MicroConsultation>::with(Policy::default())
        .given(replied_micro)
        .when(by(submitter(), day(5), evaluation(Rating::Satisfied)))
        .then_expect_events(vec![M::FeedbackGiven(evaluation_given(Rating::Satisfied, day(5)))]);
}

#[test]
fn a_joint_research_units_reply_on_the_recommendations_is_evaluated() {
    use JointResearchEvent as J;
    let adopted_topic = vec![
        J::Submitted(submitted(Kind::JointResearch)),
        J::Assigned(assigned(day(181), day(1))),
        J::PreparationCompleted(preparation_completed(day(2))),
        J::VisitRecorded(visit_recorded(day(3))),
        J::ResearchCompleted(research_completed(day(4))),
        J::Consulted(consulted(day(5))),
        J::ReportSubmitted(report_submitted(day(6))),
        J::Adopted(adopted(Extent::Full, day(7))),
    ];
    // Signed at preparation: the unit holds the topic from its assignment.
    let signed = {
        let mut events = adopted_topic.clone();
        events.insert(
            2,
            J::Handled(HandlingEvent::Acknowledged(crate::Acknowledged {
                department: DEPARTMENT.to_owned(),
                late: false,
                at: day(2),
            })),
        );
        events
    };
    let mut before_adoption = signed.clone();
    before_adoption.truncate(5);
    let early = refusal::<JointResearch>(before_adoption, by(lead(), day(5), ActionInput::Reply(reply_input())));
    assert!(matches!(early, CaseError::NotAllowed { .. }), "{early:?}");
    TestFramework::<JointResearch>::with(Policy::default())
        .given(signed.clone())
        .when(by(lead(), day(8), ActionInput::Reply(reply_input())))
        .then_expect_events(vec![J::Handled(HandlingEvent::Replied(replied(day(8), false, false)))]);
    let mut replied_topic = signed;
    replied_topic.push(J::Handled(HandlingEvent::Replied(replied(day(8), false, false))));
    TestFramework::<JointResearch>::with(Policy::default())
        .given(replied_topic)
        .when(by(submitter(), day(9), evaluation(Rating::Satisfied)))
        .then_expect_events(vec![J::FeedbackGiven(evaluation_given(Rating::Satisfied, day(9)))]);
}

#[test]
fn handling_events_are_stored_under_their_own_types_in_every_kind() {
    let event = HandlingEvent::Replied(replied(day(3), false, false));
    let json = serde_json::to_value(E::Handled(event.clone())).unwrap();
    assert_eq!(json["type"], "replied");
    assert_eq!(
        serde_json::from_value::<E>(json.clone()).unwrap(),
        E::Handled(event.clone())
    );
    let micro: MicroConsultationEvent = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(micro, MicroConsultationEvent::Handled(event));
    assert_eq!(
        cqrs_es::DomainEvent::event_type(&micro),
        "replied",
        "the stored type is the step's own"
    );
}
