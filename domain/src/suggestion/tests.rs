use super::*;

use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use serde_json::json;

use crate::test_support::*;
use crate::{Adopt, Channel, Extent, Feedback, Submit, Withdraw};

use SuggestionEvent as E;

/// The events that bring a suggestion to `status`. It is assigned on day 1 with the default
/// deadline of day 16, so the tests' `now()` (day 10) is before the deadline.
fn history(status: Status) -> Vec<E> {
    let (before, then) = match status {
        Status::Submitted => return vec![E::Submitted(submitted(Kind::Suggestion))],
        Status::Assigned => (Status::Submitted, E::Assigned(assigned(day(16), day(1)))),
        Status::Consulting => (Status::Assigned, E::Consulted(consulted(day(2)))),
        Status::Adopted => (Status::Consulting, E::Adopted(adopted(Extent::Full, day(3)))),
        Status::Declined => (Status::Assigned, E::Declined(declined(day(3)))),
        Status::Closed => (Status::Adopted, E::Closed(closed(Outcome::A, day(4)))),
        Status::Withdrawn => (Status::Submitted, E::Withdrawn(withdrawn(day(1)))),
        Status::Merged => (Status::Submitted, E::Merged(merged(OTHER_CASE_ID, day(1)))),
        other => unreachable!("a suggestion is never {other}"),
    };
    let mut events = history(before);
    events.push(then);
    events
}

fn given(status: Status) -> AggregateTestExecutor<Suggestion> {
    given_events(history(status))
}

fn given_events(events: Vec<E>) -> AggregateTestExecutor<Suggestion> {
    framework().given(events)
}

fn nothing() -> AggregateTestExecutor<Suggestion> {
    framework().given_no_previous_events()
}

/// A closed suggestion its submitter has rated.
fn rated(rating: Rating) -> Vec<E> {
    let mut events = history(Status::Closed);
    events.push(E::FeedbackGiven(feedback_given(rating, day(5))));
    events
}

/// A suggestion reopened on day 6 after an unsatisfied rating, with a fresh deadline on day 21.
fn reopened_case() -> Vec<E> {
    let mut events = rated(Rating::Unsatisfied);
    events.push(E::Reopened(reopened(day(21), day(6))));
    events
}

const OPEN: [Status; 3] = [Status::Submitted, Status::Assigned, Status::Consulting];
/// Where a department is working on the suggestion.
const IN_HAND: [Status; 2] = [Status::Assigned, Status::Consulting];

// Allowed transitions.

#[test]
fn a_citizen_submits_a_suggestion() {
    nothing()
        .when(submit(Kind::Suggestion))
        .then_expect_events(vec![E::Submitted(submitted(Kind::Suggestion))]);
}

#[test]
fn the_channel_defaults_from_the_submitters_role_unless_given() {
    let cases = [
        (submitter(), None, Channel::Online),
        (member(MEMBER), None, Channel::MemberReport),
        (member(MEMBER), Some(Channel::ContactPoint), Channel::ContactPoint),
    ];
    for (actor, channel, recorded) in cases {
        let _row = row((&actor, channel));
        let input = Submit {
            channel,
            ..submission(Kind::Suggestion)
        };
        nothing()
            .when(submitting(input).by(actor.clone()))
            .then_expect_events(vec![E::Submitted(Submitted {
                channel: recorded,
                submitter: actor,
                ..submitted(Kind::Suggestion)
            })]);
    }
}

#[test]
fn a_member_relays_an_open_suggestion() {
    for status in OPEN {
        let _row = row(status);
        given(status)
            .when(act(relay()).by(member(MEMBER)))
            .then_expect_events(vec![E::Relayed(relayed(MEMBER, now()))]);
    }
}

#[test]
fn another_member_may_relay_a_suggestion_already_relayed() {
    given(Status::Submitted)
        .and(vec![E::Relayed(relayed(MEMBER, day(1)))])
        .when(act(relay()).by(member("member-12")))
        .then_expect_events(vec![E::Relayed(relayed("member-12", now()))]);
}

#[test]
fn staff_reclassify_a_suggestion_until_consultation_starts() {
    for status in [Status::Submitted, Status::Assigned] {
        let _row = row(status);
        given(status)
            .when(act(classify()))
            .then_expect_events(vec![E::Classified(classified(now()))]);
    }
}

#[test]
fn staff_assign_a_suggestion_with_a_deadline() {
    given(Status::Submitted)
        .when(act(assign(Some(day(20)))))
        .then_expect_events(vec![E::Assigned(assigned(day(20), now()))]);
}

#[test]
fn an_assignment_without_a_deadline_gets_fifteen_days() {
    given(Status::Submitted)
        .when(act(assign(None)))
        .then_expect_events(vec![E::Assigned(assigned(day(25), now()))]);
}

#[test]
fn a_configured_response_deadline_replaces_the_default() {
    let policy = Policy {
        suggestion_response_days: 5,
        ..Policy::default()
    };
    TestFramework::<Suggestion>::with(policy)
        .given(history(Status::Submitted))
        .when(act(assign(None)))
        .then_expect_events(vec![E::Assigned(assigned(day(15), now()))]);
}

#[test]
fn staff_reassign_a_suggestion_in_hand() {
    for status in IN_HAND {
        let _row = row(status);
        given(status)
            .when(act(reassign(Some(day(30)))))
            .then_expect_events(vec![E::Reassigned(reassigned(day(30), now()))]);
    }
}

#[test]
fn a_reassignment_without_a_deadline_gets_fifteen_days_from_now() {
    given(Status::Assigned)
        .when(act(reassign(None)))
        .then_expect_events(vec![E::Reassigned(reassigned(day(25), now()))]);
}

#[test]
fn an_overdue_suggestion_is_escalated_with_a_fresh_deadline() {
    for status in IN_HAND {
        let _row = row(status);
        given(status)
            .when(act(escalate()).on(day(20)))
            .then_expect_events(vec![E::Escalated(escalated(day(16), day(35), day(20)))]);
    }
}

#[test]
fn staff_record_a_consultation_on_a_suggestion_in_hand() {
    for status in IN_HAND {
        let _row = row(status);
        given(status)
            .when(act(consult()))
            .then_expect_events(vec![E::Consulted(consulted(now()))]);
    }
}

#[test]
fn staff_record_an_adoption_of_a_suggestion_in_hand() {
    for status in IN_HAND {
        let _row = row(status);
        given(status)
            .when(act(adopt(Extent::Partial)))
            .then_expect_events(vec![E::Adopted(adopted(Extent::Partial, now()))]);
    }
}

#[test]
fn staff_decline_a_suggestion_in_hand() {
    for status in IN_HAND {
        let _row = row(status);
        given(status)
            .when(act(decline()))
            .then_expect_events(vec![E::Declined(declined(now()))]);
    }
}

#[test]
fn an_adopted_or_declined_suggestion_is_closed() {
    for (status, outcome) in [(Status::Adopted, Outcome::A), (Status::Declined, Outcome::C)] {
        let _row = row(status);
        given(status)
            .when(act(close(outcome)))
            .then_expect_events(vec![E::Closed(closed(outcome, now()))]);
    }
}

#[test]
fn closing_after_the_deadline_is_recorded_as_late() {
    given(Status::Adopted)
        .when(act(close(Outcome::A)).on(day(20)))
        .then_expect_events(vec![E::Closed(Closed {
            late: true,
            late_since: Some(day(16)),
            ..closed(Outcome::A, day(20))
        })]);
}

#[test]
fn the_submitter_rates_the_answer_to_a_closed_suggestion() {
    given(Status::Closed)
        .when(act(feedback(Rating::Satisfied)).by(submitter()))
        .then_expect_events(vec![E::FeedbackGiven(feedback_given(Rating::Satisfied, now()))]);
}

#[test]
fn staff_record_a_rating_only_on_the_submitters_behalf_and_say_why() {
    let on_behalf = |reason: Option<&str>| {
        act(ActionInput::Feedback(Feedback {
            rating: Rating::Unsatisfied,
            comment: None,
            on_behalf_reason: reason.map(str::to_owned),
        }))
    };
    given(Status::Closed)
        .when(on_behalf(Some("rated by telephone")).by(staff()))
        .then_expect_events(vec![E::FeedbackGiven(FeedbackGiven {
            rating: Rating::Unsatisfied,
            comment: None,
            on_behalf_reason: Some("rated by telephone".to_owned()),
            at: now(),
        })]);
    given(Status::Closed)
        .when(on_behalf(None).by(staff()))
        .then_expect_error(CaseError::invalid(
            "on_behalf_reason",
            "staff record a rating only on the proposer's behalf, and must say why",
        ));
    given(Status::Closed)
        .when(on_behalf(Some("for myself")).by(submitter()))
        .then_expect_error(CaseError::invalid(
            "on_behalf_reason",
            "the proposer rates for themselves; only staff record a rating on their behalf",
        ));
}

#[test]
fn staff_withdrawing_a_submitters_suggestion_must_say_why() {
    given(Status::Submitted)
        .when(act(ActionInput::Withdraw(Withdraw { reason: None })).by(staff()))
        .then_expect_error(CaseError::invalid(
            "reason",
            "staff withdrawing a proposer's suggestion must say why",
        ));
    given(Status::Submitted)
        .when(act(ActionInput::Withdraw(Withdraw { reason: None })).by(submitter()))
        .then_expect_events(vec![E::Withdrawn(Withdrawn {
            reason: None,
            at: now(),
        })]);
}

#[test]
fn an_unsatisfied_rating_lets_the_submitter_or_staff_reopen_with_a_fresh_deadline() {
    for actor in [submitter(), staff()] {
        let _row = row(&actor);
        given_events(rated(Rating::Unsatisfied))
            .when(act(reopen()).by(actor))
            .then_expect_events(vec![E::Reopened(reopened(day(25), now()))]);
    }
}

#[test]
fn a_reopened_suggestion_is_assigned_again() {
    // Classify is taken only before consultation: a reopened case is back to `assigned`.
    given_events(reopened_case())
        .when(act(classify()))
        .then_expect_events(vec![E::Classified(classified(now()))]);
}

#[test]
fn a_reopened_suggestion_overdue_again_is_escalated_again() {
    // Escalated once on day 20, then answered, rated unsatisfied and reopened on day 23 with a
    // fresh deadline on day 38: the new deadline may warrant a new escalation.
    let events = [
        history(Status::Assigned),
        vec![
            E::Escalated(escalated(day(16), day(35), day(20))),
            E::Adopted(adopted(Extent::Full, day(21))),
            E::Closed(closed(Outcome::A, day(22))),
            E::FeedbackGiven(feedback_given(Rating::Unsatisfied, day(23))),
            E::Reopened(reopened(day(38), day(23))),
        ],
    ]
    .concat();
    given_events(events)
        .when(act(escalate()).on(day(40)))
        .then_expect_events(vec![E::Escalated(escalated(day(38), day(55), day(40)))]);
}

#[test]
fn a_reopened_suggestion_is_rated_afresh_once_closed_again() {
    given_events(reopened_case())
        .and(vec![
            E::Adopted(adopted(Extent::Full, day(7))),
            E::Closed(closed(Outcome::A, day(8))),
        ])
        .when(act(feedback(Rating::Satisfied)).by(submitter()))
        .then_expect_events(vec![E::FeedbackGiven(feedback_given(Rating::Satisfied, now()))]);
}

#[test]
fn the_submitter_or_staff_withdraw_a_suggestion_before_assignment() {
    for actor in [submitter(), staff()] {
        let _row = row(&actor);
        given(Status::Submitted)
            .when(act(withdraw()).by(actor))
            .then_expect_events(vec![E::Withdrawn(withdrawn(now()))]);
    }
}

#[test]
fn an_open_suggestion_is_merged_into_another() {
    for status in OPEN {
        let _row = row(status);
        given(status)
            .when(act(merge(OTHER_CASE_ID)))
            .then_expect_events(vec![E::Merged(merged(OTHER_CASE_ID, now()))]);
    }
}

// Refused actions.

#[test]
fn every_status_refuses_the_actions_it_does_not_take() {
    let cases = [
        (
            Status::Submitted,
            close(Outcome::A),
            Action::Close,
            vec![Action::Classify, Action::Assign, Action::Withdraw, Action::Merge],
        ),
        (
            Status::Assigned,
            assign(None),
            Action::Assign,
            vec![
                Action::Classify,
                Action::Reassign,
                Action::Consult,
                Action::Adopt,
                Action::Decline,
                Action::Merge,
            ],
        ),
        (
            Status::Assigned,
            convene(),
            Action::Convene,
            vec![
                Action::Classify,
                Action::Reassign,
                Action::Consult,
                Action::Adopt,
                Action::Decline,
                Action::Merge,
            ],
        ),
        (
            Status::Consulting,
            classify(),
            Action::Classify,
            vec![
                Action::Reassign,
                Action::Consult,
                Action::Adopt,
                Action::Decline,
                Action::Merge,
            ],
        ),
        (Status::Adopted, decline(), Action::Decline, vec![Action::Close]),
        (
            Status::Declined,
            adopt(Extent::Full),
            Action::Adopt,
            vec![Action::Close],
        ),
        (Status::Closed, consult(), Action::Consult, vec![Action::Feedback]),
        (Status::Withdrawn, assign(None), Action::Assign, vec![]),
        (Status::Merged, withdraw(), Action::Withdraw, vec![]),
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
fn only_a_member_relays_a_suggestion() {
    for actor in [staff(), submitter()] {
        let _row = row(&actor);
        given(Status::Submitted)
            .when(act(relay()).by(actor))
            .then_expect_error(CaseError::Forbidden {
                action: Action::Relay,
                required: Required::Role(Role::Member),
            });
    }
}

#[test]
fn a_member_relays_a_suggestion_only_once() {
    given(Status::Submitted)
        .and(vec![E::Relayed(relayed(MEMBER, day(1)))])
        .when(act(relay()).by(member(MEMBER)))
        .then_expect_error(CaseError::RuleBroken {
            action: Action::Relay,
            status: Status::Submitted,
            rule: Rule::AlreadyRelayedByMember,
            allowed: vec![Action::Classify, Action::Assign, Action::Merge],
        });
}

#[test]
fn a_suggestion_within_its_deadline_is_not_escalated() {
    // The deadline itself is still in time.
    for at in [now(), day(16)] {
        let _row = row(at);
        given(Status::Assigned)
            .when(act(escalate()).on(at))
            .then_expect_error(CaseError::RuleBroken {
                action: Action::Escalate,
                status: Status::Assigned,
                rule: Rule::NotOverdue,
                allowed: vec![
                    Action::Classify,
                    Action::Reassign,
                    Action::Consult,
                    Action::Adopt,
                    Action::Decline,
                    Action::Merge,
                ],
            });
    }
}

#[test]
fn a_suggestion_is_escalated_only_once() {
    // Day 40 is past the escalated deadline too: the refusal is for the repeat, not for time.
    given(Status::Assigned)
        .and(vec![E::Escalated(escalated(day(16), day(35), day(20)))])
        .when(act(escalate()).on(day(40)))
        .then_expect_error(CaseError::RuleBroken {
            action: Action::Escalate,
            status: Status::Assigned,
            rule: Rule::AlreadyEscalated,
            allowed: vec![
                Action::Classify,
                Action::Reassign,
                Action::Consult,
                Action::Adopt,
                Action::Decline,
                Action::Merge,
            ],
        });
}

#[test]
fn an_answer_is_rated_only_once() {
    given_events(rated(Rating::Satisfied))
        .when(act(feedback(Rating::Unsatisfied)).by(submitter()))
        .then_expect_error(CaseError::RuleBroken {
            action: Action::Feedback,
            status: Status::Closed,
            rule: Rule::AlreadyRated,
            allowed: vec![],
        });
}

#[test]
fn only_an_unsatisfied_rating_reopens_a_suggestion() {
    let cases = [
        ("not rated", history(Status::Closed), vec![Action::Feedback]),
        ("satisfied", rated(Rating::Satisfied), vec![]),
        ("basically satisfied", rated(Rating::BasicallySatisfied), vec![]),
    ];
    for (rating, events, allowed) in cases {
        let _row = row(rating);
        given_events(events)
            .when(act(reopen()).by(submitter()))
            .then_expect_error(CaseError::RuleBroken {
                action: Action::Reopen,
                status: Status::Closed,
                rule: Rule::NotRatedUnsatisfied,
                allowed,
            });
    }
}

#[test]
fn only_the_submitter_or_staff_withdraw_rate_or_reopen() {
    let cases = [
        (history(Status::Submitted), withdraw(), Action::Withdraw),
        (history(Status::Closed), feedback(Rating::Unsatisfied), Action::Feedback),
        (rated(Rating::Unsatisfied), reopen(), Action::Reopen),
    ];
    for (events, input, action) in cases {
        for actor in [someone_else(), member(MEMBER)] {
            let _row = row((action, &actor));
            given_events(events.clone())
                .when(act(input.clone()).by(actor))
                .then_expect_error(CaseError::Forbidden {
                    action,
                    required: Required::SubmitterOrStaff,
                });
        }
    }
}

#[test]
fn a_suggestion_is_not_merged_into_itself() {
    given(Status::Submitted)
        .when(act(merge(CASE_ID)))
        .then_expect_error(CaseError::invalid("into", "a case cannot be merged into itself"));
}

#[test]
fn a_declined_suggestion_closes_only_as_unsolvable_for_now() {
    for outcome in [Outcome::A, Outcome::B] {
        let _row = row(outcome);
        given(Status::Declined)
            .when(act(close(outcome)))
            .then_expect_error(CaseError::invalid(
                "outcome",
                "a declined suggestion closes with outcome C (cannot be solved for now)",
            ));
    }
}

// What every command passes first.

#[test]
fn a_suggestion_is_submitted_only_once() {
    given(Status::Submitted)
        .when(submit(Kind::Suggestion))
        .then_expect_error(CaseError::AlreadyExists);
}

#[test]
fn an_action_before_submission_finds_no_suggestion() {
    nothing().when(act(assign(None))).then_expect_error(CaseError::NotFound);
}

#[test]
fn another_kind_of_case_is_not_submitted_as_a_suggestion() {
    for kind in [Kind::MicroConsultation, Kind::JointResearch] {
        let _row = row(kind);
        nothing()
            .when(submit(kind))
            .then_expect_error(CaseError::invalid("kind", "this case is a suggestion"));
    }
}

#[test]
fn a_command_against_a_stale_version_is_refused() {
    given(Status::Assigned)
        .when(act(consult()).expecting(1))
        .then_expect_error(CaseError::VersionMismatch { expected: 1, actual: 2 });
}

#[test]
fn a_command_against_the_current_version_runs() {
    given(Status::Assigned)
        .when(act(consult()).expecting(2))
        .then_expect_events(vec![E::Consulted(consulted(now()))]);
}

// Field validation.

#[test]
fn an_invalid_submission_is_refused_naming_the_field() {
    let with = |change: fn(&mut Submit)| {
        let mut input = submission(Kind::Suggestion);
        change(&mut input);
        input
    };
    let cases = [
        (with(|s| s.title = String::new()), "title", "must not be empty"),
        (with(|s| s.title = "   ".to_owned()), "title", "must not be empty"),
        (
            with(|s| s.title = "路".repeat(201)),
            "title",
            "must be at most 200 characters, not 201",
        ),
        (
            with(|s| s.title = "School\ntraffic".to_owned()),
            "title",
            "must be a single line without control characters",
        ),
        (
            with(|s| s.title = "School\u{7}traffic".to_owned()),
            "title",
            "must not contain control characters",
        ),
        (
            with(|s| s.body = "x".repeat(20_001)),
            "body",
            "must be at most 20000 characters, not 20001",
        ),
        (with(|s| s.category = String::new()), "category", "must not be empty"),
        (
            with(|s| s.lead_member = Some(MEMBER.to_owned())),
            "lead_member",
            "only a joint research topic has a lead member",
        ),
        (
            with(|s| {
                s.lead_member = Some(MEMBER.to_owned());
                s.team = vec![MEMBER.to_owned()];
            }),
            "lead_member",
            "only a joint research topic has a lead member",
        ),
        (
            with(|s| s.team = vec![MEMBER.to_owned()]),
            "team",
            "only a joint research topic has a team",
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
fn a_title_and_body_at_their_limits_in_characters_are_accepted() {
    // Chinese characters are three bytes each: the limits count characters.
    let input = Submit {
        title: "路".repeat(200),
        body: "路".repeat(20_000),
        ..submission(Kind::Suggestion)
    };
    nothing()
        .when(submitting(input))
        .then_expect_events(vec![E::Submitted(Submitted {
            title: "路".repeat(200),
            body: "路".repeat(20_000),
            ..submitted(Kind::Suggestion)
        })]);
}

#[test]
fn an_invalid_action_is_refused_naming_the_field() {
    let cases = [
        (
            Status::Submitted,
            assign(Some(day(5))),
            "due_at",
            "must be later than now",
        ),
        (
            Status::Submitted,
            assign(Some(now())),
            "due_at",
            "must be later than now",
        ),
        (
            Status::Assigned,
            reassign(Some(day(5))),
            "due_at",
            "must be later than now",
        ),
        (
            Status::Assigned,
            ActionInput::Decline(Reason {
                reason: " \n".to_owned(),
            }),
            "reason",
            "must not be empty",
        ),
        (
            Status::Assigned,
            ActionInput::Adopt(Adopt {
                recommendations: vec![0],
                ..adoption(Extent::Full)
            }),
            "recommendations",
            "only a joint research topic adopts report recommendations",
        ),
        (
            Status::Assigned,
            ActionInput::Adopt(Adopt {
                responsible_parties: vec![DEPARTMENT.to_owned()],
                ..adoption(Extent::Full)
            }),
            "responsible_parties",
            "only a micro-consultation names responsible parties",
        ),
        (
            Status::Assigned,
            ActionInput::Adopt(Adopt {
                due_at: Some(day(60)),
                ..adoption(Extent::Full)
            }),
            "due_at",
            "only a micro-consultation sets a due date at adoption",
        ),
    ];
    for (status, input, field, reason) in cases {
        given(status)
            .when(act(input))
            .then_expect_error(CaseError::invalid(field, reason));
    }
}

// Stored events.

#[test]
fn a_submitted_suggestion_is_stored_in_its_fixed_json_shape() {
    assert_stored_as(
        &E::Submitted(submitted(Kind::Suggestion)),
        json!({
            "type": "submitted",
            "title": "Traffic jams outside No. 3 Primary School",
            "body": "Parents' cars block Tianjiao Road every school day from 16:30 to 17:30.",
            "category": "traffic",
            "jurisdiction": "东胜区",
            "channel": "online",
            "submitter": { "id": "citizen-1", "role": "citizen" },
            "at": "2026-03-01T09:00:00Z"
        }),
    );
}

#[test]
fn a_late_closure_is_stored_in_its_fixed_json_shape() {
    assert_stored_as(
        &E::Closed(Closed {
            late: true,
            ..closed(Outcome::B, day(20))
        }),
        json!({
            "type": "closed",
            "outcome": "B",
            "summary": "Pick-up times staggered by grade",
            "late": true,
            "at": "2026-03-21T09:00:00Z"
        }),
    );
}

#[test]
fn every_suggestion_event_is_stored_under_its_fixed_type() {
    assert_event_types(vec![
        (E::Submitted(submitted(Kind::Suggestion)), "submitted"),
        (E::Relayed(relayed(MEMBER, now())), "relayed"),
        (E::Classified(classified(now())), "classified"),
        (E::Assigned(assigned(day(16), now())), "assigned"),
        (E::Reassigned(reassigned(day(16), now())), "reassigned"),
        (E::Escalated(escalated(day(16), day(35), day(20))), "escalated"),
        (E::Consulted(consulted(now())), "consulted"),
        (E::Adopted(adopted(Extent::Full, now())), "adopted"),
        (E::Declined(declined(now())), "declined"),
        (E::Closed(closed(Outcome::A, now())), "closed"),
        (
            E::FeedbackGiven(feedback_given(Rating::Satisfied, now())),
            "feedback_given",
        ),
        (E::Reopened(reopened(day(25), now())), "reopened"),
        (E::Withdrawn(withdrawn(now())), "withdrawn"),
        (E::Merged(merged(OTHER_CASE_ID, now())), "merged"),
    ]);
}

// Allowed actions.

#[test]
fn the_actions_allowed_on_a_submitted_suggestion_depend_on_who_asks() {
    let case: Suggestion = state(history(Status::Submitted));
    let cases = [
        (
            submitter(),
            vec![Action::Classify, Action::Assign, Action::Withdraw, Action::Merge],
        ),
        (
            staff(),
            vec![Action::Classify, Action::Assign, Action::Withdraw, Action::Merge],
        ),
        (
            member(MEMBER),
            vec![Action::Relay, Action::Classify, Action::Assign, Action::Merge],
        ),
        (someone_else(), vec![Action::Classify, Action::Assign, Action::Merge]),
    ];
    for (actor, allowed) in cases {
        assert_eq!(case.allowed_actions(&actor, now()), allowed, "for {actor:?}");
    }
}

#[test]
fn escalation_is_allowed_once_the_deadline_has_passed() {
    let case: Suggestion = state(history(Status::Consulting));
    assert_eq!(
        case.allowed_actions(&staff(), now()),
        vec![
            Action::Reassign,
            Action::Consult,
            Action::Adopt,
            Action::Decline,
            Action::Merge
        ]
    );
    assert_eq!(
        case.allowed_actions(&staff(), day(17)),
        vec![
            Action::Reassign,
            Action::Escalate,
            Action::Consult,
            Action::Adopt,
            Action::Decline,
            Action::Merge
        ]
    );
}

#[test]
fn a_closed_suggestion_allows_a_rating_then_a_reopening_only_if_unsatisfied() {
    let cases = [
        (history(Status::Closed), vec![Action::Feedback]),
        (rated(Rating::Unsatisfied), vec![Action::Reopen]),
        (rated(Rating::Satisfied), vec![]),
    ];
    for (events, allowed) in cases {
        let case: Suggestion = state(events);
        assert_eq!(
            case.allowed_actions(&submitter(), now()),
            allowed,
            "after {:?}",
            case.core.feedback
        );
    }
}

#[test]
fn a_withdrawn_or_merged_suggestion_allows_nothing() {
    for status in [Status::Withdrawn, Status::Merged] {
        let case: Suggestion = state(history(status));
        assert_eq!(
            case.allowed_actions(&staff(), now()),
            Vec::<Action>::new(),
            "when {status}"
        );
    }
}
