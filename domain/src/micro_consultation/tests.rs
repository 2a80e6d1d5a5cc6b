use super::*;

use cqrs_es::test::AggregateTestExecutor;
use serde_json::json;

use crate::test_support::*;
use crate::{Adopt, Channel, Convene, Extent, Rating, Submit};

use MicroConsultationEvent as E;

/// The events that bring a micro-consultation to `status`. `consulting` is assigned, then
/// convened with no session held yet; `adopted` has held one and agreed a solution.
fn history(status: Status) -> Vec<E> {
    let (before, then) = match status {
        Status::Submitted => return vec![E::Submitted(submitted(Kind::MicroConsultation))],
        Status::Assigned => (Status::Submitted, vec![E::Assigned(assigned(day(31), day(1)))]),
        Status::Consulting => (Status::Assigned, vec![E::Convened(convened(day(2)))]),
        Status::Adopted => (
            Status::Consulting,
            vec![E::Consulted(consulted(day(3))), E::Adopted(solution_agreed(day(4)))],
        ),
        Status::Closed => (Status::Adopted, vec![E::Closed(closed(Outcome::A, day(5)))]),
        other => unreachable!("a micro-consultation is never {other}"),
    };
    [history(before), then].concat()
}

/// Convened, with a session held.
fn session_held() -> Vec<E> {
    [history(Status::Consulting), vec![E::Consulted(consulted(day(3)))]].concat()
}

/// Convened straight from submission: consulting, with no department yet.
fn convened_before_assignment() -> Vec<E> {
    [history(Status::Submitted), vec![E::Convened(convened(day(2)))]].concat()
}

/// Convened before assignment, with a session held and still no department.
fn session_held_before_assignment() -> Vec<E> {
    [convened_before_assignment(), vec![E::Consulted(consulted(day(3)))]].concat()
}

/// Convened before assignment, then assigned while consulting.
fn assigned_while_consulting() -> Vec<E> {
    [
        convened_before_assignment(),
        vec![E::Assigned(assigned(day(33), day(3)))],
    ]
    .concat()
}

fn given(status: Status) -> AggregateTestExecutor<MicroConsultation> {
    given_events(history(status))
}

fn given_events(events: Vec<E>) -> AggregateTestExecutor<MicroConsultation> {
    framework().given(events)
}

fn nothing() -> AggregateTestExecutor<MicroConsultation> {
    framework().given_no_previous_events()
}

/// The agreed solution: who carries it out and by when.
fn solution() -> Adopt {
    Adopt {
        responsible_parties: vec!["Lüyuan property company".to_owned(), "State Grid Dongsheng".to_owned()],
        due_at: Some(day(60)),
        note: Some("Chargers go into the north car park".to_owned()),
        ..adoption(Extent::Full)
    }
}

fn solution_agreed(at: Timestamp) -> Adopted {
    Adopted {
        responsible_parties: vec!["Lüyuan property company".to_owned(), "State Grid Dongsheng".to_owned()],
        due_at: Some(day(60)),
        note: Some("Chargers go into the north car park".to_owned()),
        ..adopted(Extent::Full, at)
    }
}

// Allowed transitions.

#[test]
fn a_micro_consultation_is_submitted() {
    nothing()
        .when(submit(Kind::MicroConsultation))
        .then_expect_events(vec![E::Submitted(submitted(Kind::MicroConsultation))]);
}

#[test]
fn a_members_proposal_defaults_to_the_member_report_channel() {
    nothing()
        .when(submit(Kind::MicroConsultation).by(member(MEMBER)))
        .then_expect_events(vec![E::Submitted(Submitted {
            channel: Channel::MemberReport,
            submitter: member(MEMBER),
            ..submitted(Kind::MicroConsultation)
        })]);
}

#[test]
fn an_assignment_without_a_deadline_gets_thirty_days() {
    given(Status::Submitted)
        .when(act(assign(None)))
        .then_expect_events(vec![E::Assigned(assigned(day(40), now()))]);
}

#[test]
fn a_session_is_convened_after_assignment_and_again_while_consulting() {
    for status in [Status::Assigned, Status::Consulting] {
        let _row = row(status);
        given(status)
            .when(act(convene()))
            .then_expect_events(vec![E::Convened(convened(now()))]);
    }
}

#[test]
fn a_session_may_be_convened_before_a_department_is_assigned() {
    for events in [history(Status::Submitted), convened_before_assignment()] {
        let _row = row(events.len());
        given_events(events)
            .when(act(convene()))
            .then_expect_events(vec![E::Convened(convened(now()))]);
    }
}

#[test]
fn a_case_convened_before_assignment_is_then_assigned_and_stays_consulting() {
    for events in [convened_before_assignment(), session_held_before_assignment()] {
        let _row = row(events.len());
        given_events(events)
            .when(act(assign(None)))
            .then_expect_events(vec![E::Assigned(assigned(day(40), now()))]);
    }
    let case: MicroConsultation = state(assigned_while_consulting());
    assert_eq!(case.core.status, Some(Status::Consulting));
    assert_eq!(case.core.department.as_deref(), Some(DEPARTMENT));
    assert_eq!(case.core.due_at, Some(day(33)));
}

#[test]
fn sessions_go_on_after_a_department_is_assigned_while_consulting() {
    given_events(assigned_while_consulting())
        .when(act(consult()))
        .then_expect_events(vec![E::Consulted(consulted(now()))]);
}

#[test]
fn the_minutes_of_a_convened_session_are_recorded() {
    for events in [history(Status::Consulting), session_held()] {
        let _row = row(events.len());
        given_events(events)
            .when(act(consult()))
            .then_expect_events(vec![E::Consulted(consulted(now()))]);
    }
}

#[test]
fn a_solution_is_agreed_after_a_session_with_responsible_parties_and_a_deadline() {
    given_events(session_held())
        .when(act(ActionInput::Adopt(solution())))
        .then_expect_events(vec![E::Adopted(solution_agreed(now()))]);
}

#[test]
fn a_micro_consultation_closes_with_an_agreed_solution_or_as_unsolvable_for_now() {
    let cases = [
        (history(Status::Adopted), Outcome::A),
        (history(Status::Adopted), Outcome::B),
        (history(Status::Consulting), Outcome::C),
        (session_held(), Outcome::C),
        (convened_before_assignment(), Outcome::C),
    ];
    for (events, outcome) in cases {
        let _row = row((events.len(), outcome));
        given_events(events)
            .when(act(close(outcome)))
            .then_expect_events(vec![E::Closed(closed(outcome, now()))]);
    }
}

#[test]
fn a_closed_micro_consultation_is_rated() {
    given(Status::Closed)
        .when(act(feedback(Rating::BasicallySatisfied)).by(submitter()))
        .then_expect_events(vec![E::FeedbackGiven(feedback_given(
            Rating::BasicallySatisfied,
            now(),
        ))]);
}

// Refused actions.

#[test]
fn every_status_refuses_the_actions_it_does_not_take() {
    let cases = [
        (
            Status::Submitted,
            consult(),
            Action::Consult,
            vec![Action::Assign, Action::Convene],
        ),
        (
            Status::Submitted,
            relay(),
            Action::Relay,
            vec![Action::Assign, Action::Convene],
        ),
        (Status::Assigned, assign(None), Action::Assign, vec![Action::Convene]),
        (
            Status::Consulting,
            feedback(Rating::Satisfied),
            Action::Feedback,
            vec![Action::Convene, Action::Consult, Action::Close],
        ),
        (Status::Adopted, consult(), Action::Consult, vec![Action::Close]),
        (Status::Closed, convene(), Action::Convene, vec![Action::Feedback]),
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
fn a_department_is_assigned_only_once() {
    let cases = [
        (
            "assigned",
            history(Status::Assigned),
            Status::Assigned,
            vec![Action::Convene],
        ),
        (
            "assigned, then convened",
            history(Status::Consulting),
            Status::Consulting,
            vec![Action::Convene, Action::Consult, Action::Close],
        ),
        (
            "convened, then assigned",
            assigned_while_consulting(),
            Status::Consulting,
            vec![Action::Convene, Action::Consult, Action::Close],
        ),
    ];
    for (name, events, status, allowed) in cases {
        let _row = row(name);
        given_events(events)
            .when(act(assign(None)))
            .then_expect_error(CaseError::NotAllowed {
                action: Action::Assign,
                status,
                allowed,
            });
    }
}

#[test]
fn no_solution_is_agreed_before_a_session_is_held() {
    let cases = [
        (
            "assigned, then convened",
            history(Status::Consulting),
            vec![Action::Convene, Action::Consult, Action::Close],
        ),
        (
            "convened before assignment",
            convened_before_assignment(),
            vec![Action::Assign, Action::Convene, Action::Consult, Action::Close],
        ),
    ];
    for (name, events, allowed) in cases {
        let _row = row(name);
        given_events(events)
            .when(act(ActionInput::Adopt(solution())))
            .then_expect_error(CaseError::RuleBroken {
                action: Action::Adopt,
                status: Status::Consulting,
                rule: Rule::NoSessionHeld,
                allowed,
            });
    }
}

#[test]
fn a_consultation_that_agreed_no_solution_closes_only_as_unsolvable_for_now() {
    for outcome in [Outcome::A, Outcome::B] {
        let _row = row(outcome);
        given_events(session_held())
            .when(act(close(outcome)))
            .then_expect_error(CaseError::invalid(
                "outcome",
                "a consultation that agreed no solution closes with outcome C",
            ));
    }
}

#[test]
fn a_micro_consultation_is_rated_only_once() {
    given(Status::Closed)
        .and(vec![E::FeedbackGiven(feedback_given(Rating::Satisfied, day(6)))])
        .when(act(feedback(Rating::Unsatisfied)))
        .then_expect_error(CaseError::RuleBroken {
            action: Action::Feedback,
            status: Status::Closed,
            rule: Rule::AlreadyRated,
            allowed: vec![],
        });
}

// What every command passes first.

#[test]
fn a_micro_consultation_is_submitted_only_once() {
    given(Status::Submitted)
        .when(submit(Kind::MicroConsultation))
        .then_expect_error(CaseError::AlreadyExists);
}

#[test]
fn an_action_before_submission_finds_no_micro_consultation() {
    nothing().when(act(convene())).then_expect_error(CaseError::NotFound);
}

#[test]
fn another_kind_of_case_is_not_submitted_as_a_micro_consultation() {
    for kind in [Kind::Suggestion, Kind::JointResearch] {
        let _row = row(kind);
        nothing()
            .when(submit(kind))
            .then_expect_error(CaseError::invalid("kind", "this case is a micro_consultation"));
    }
}

#[test]
fn a_command_against_a_stale_version_is_refused() {
    given(Status::Consulting)
        .when(act(consult()).expecting(2))
        .then_expect_error(CaseError::VersionMismatch { expected: 2, actual: 3 });
}

// Field validation.

#[test]
fn a_micro_consultation_has_no_lead_member_or_team() {
    let cases = [
        (
            Submit {
                lead_member: Some(MEMBER.to_owned()),
                ..submission(Kind::MicroConsultation)
            },
            "lead_member",
            "only a joint research topic has a lead member",
        ),
        (
            Submit {
                team: vec![MEMBER.to_owned()],
                ..submission(Kind::MicroConsultation)
            },
            "team",
            "only a joint research topic has a team",
        ),
    ];
    for (input, field, reason) in cases {
        let _row = row(&input);
        nothing()
            .when(submitting(input).by(member(MEMBER)))
            .then_expect_error(CaseError::invalid(field, reason));
    }
}

#[test]
fn an_invalid_action_is_refused_naming_the_field() {
    let convening = |venue: &str, participant: &str| {
        ActionInput::Convene(Convene {
            venue: venue.to_owned(),
            scheduled_at: None,
            participants: vec![participant.to_owned()],
            members: Vec::new(),
        })
    };
    let adopting = |change: fn(&mut Adopt)| {
        let mut input = solution();
        change(&mut input);
        ActionInput::Adopt(input)
    };
    let cases = [
        (
            history(Status::Assigned),
            convening(" ", MEMBER),
            "venue",
            "must not be empty",
        ),
        (
            history(Status::Assigned),
            convening("Room 2", "Residents'\tcommittee"),
            "participants",
            "must be a single line without control characters",
        ),
        (
            session_held(),
            adopting(|a| a.due_at = Some(day(9))),
            "due_at",
            "must be later than now",
        ),
        (
            session_held(),
            adopting(|a| a.responsible_parties.push(String::new())),
            "responsible_parties",
            "must not be empty",
        ),
        (
            session_held(),
            adopting(|a| a.recommendations = vec![0]),
            "recommendations",
            "only a joint research topic adopts report recommendations",
        ),
    ];
    for (events, input, field, reason) in cases {
        let _row = row(&input);
        given_events(events)
            .when(act(input))
            .then_expect_error(CaseError::invalid(field, reason));
    }
}

// Stored events.

#[test]
fn a_convened_session_is_stored_in_its_fixed_json_shape() {
    assert_stored_as(
        &E::Convened(convened(day(2))),
        json!({
            "type": "convened",
            "venue": "Jianshe Street consultation room",
            "scheduled_at": "2026-03-15T09:00:00Z",
            "participants": ["member-7", "Residents' committee"],
            "members": ["member-7"],
            "at": "2026-03-03T09:00:00Z"
        }),
    );
}

#[test]
fn an_agreed_solution_is_stored_in_its_fixed_json_shape() {
    assert_stored_as(
        &E::Adopted(solution_agreed(day(4))),
        json!({
            "type": "adopted",
            "by": "东胜区人民政府",
            "extent": "full",
            "note": "Chargers go into the north car park",
            "responsible_parties": ["Lüyuan property company", "State Grid Dongsheng"],
            "due_at": "2026-04-30T09:00:00Z",
            "at": "2026-03-05T09:00:00Z"
        }),
    );
}

#[test]
fn every_micro_consultation_event_is_stored_under_its_fixed_type() {
    assert_event_types(vec![
        (E::Submitted(submitted(Kind::MicroConsultation)), "submitted"),
        (E::Assigned(assigned(day(31), day(1))), "assigned"),
        (E::Convened(convened(day(2))), "convened"),
        (E::Consulted(consulted(day(3))), "consulted"),
        (E::Adopted(solution_agreed(day(4))), "adopted"),
        (E::Closed(closed(Outcome::A, day(5))), "closed"),
        (
            E::FeedbackGiven(feedback_given(Rating::Satisfied, day(6))),
            "feedback_given",
        ),
    ]);
}

// Allowed actions.

#[test]
fn the_allowed_actions_follow_the_consultation() {
    let cases = [
        (
            "submitted",
            history(Status::Submitted),
            vec![Action::Assign, Action::Convene],
        ),
        ("assigned", history(Status::Assigned), vec![Action::Convene]),
        (
            "convened before assignment",
            convened_before_assignment(),
            vec![Action::Assign, Action::Convene, Action::Consult, Action::Close],
        ),
        (
            "session held before assignment",
            session_held_before_assignment(),
            vec![
                Action::Assign,
                Action::Convene,
                Action::Consult,
                Action::Adopt,
                Action::Close,
            ],
        ),
        (
            "assigned while consulting",
            assigned_while_consulting(),
            vec![Action::Convene, Action::Consult, Action::Close],
        ),
        (
            "convened after assignment",
            history(Status::Consulting),
            vec![Action::Convene, Action::Consult, Action::Close],
        ),
        (
            "session held after assignment",
            session_held(),
            vec![Action::Convene, Action::Consult, Action::Adopt, Action::Close],
        ),
        ("adopted", history(Status::Adopted), vec![Action::Close]),
        ("closed", history(Status::Closed), vec![Action::Feedback]),
    ];
    for (name, events, allowed) in cases {
        let case: MicroConsultation = state(events);
        assert_eq!(case.allowed_actions(&staff(), now()), allowed, "when {name}");
    }
}
