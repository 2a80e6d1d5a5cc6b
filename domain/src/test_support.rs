//! Fixtures for the aggregates' given/when/then tests: fixed people, moments and ids, the input
//! of every action, and the event payload each input leads to, so that a test reads as its rule.

use std::fmt::Debug;

use chrono::{Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    ActionInput, Actor, Adopt, Adopted, Assign, Assigned, CaseCommand, CaseCore, Channel, Classified, Classify, Close,
    Closed, CommandInput, Consult, Consulted, Convene, Convened, Declined, Escalated, Extent, Feedback, FeedbackGiven,
    HandlingLevel, Kind, Merge, Merged, Note, Outcome, PhaseCompleted, Policy, PolicyRecorded, Rating, Reason,
    Reassign, Reassigned, RecordPolicy, RecordVisit, Relayed, Reopened, ReportSubmitted, Role, Submit, SubmitReport,
    Submitted, Timestamp, VisitRecorded, Windows, Withdraw, Withdrawn,
};

/// The case every command is for.
pub const CASE_ID: Uuid = Uuid::from_u128(0x0195_5a1e_7c00_7000_8000_0000_0000_0001);
/// Another case, for merges.
pub const OTHER_CASE_ID: Uuid = Uuid::from_u128(0x0195_5a1e_7c00_7000_8000_0000_0000_0002);
pub const DEPARTMENT: &str = "Transport Bureau";
/// The co-handling unit of every assignment.
pub const CO_DEPARTMENT: &str = "Public Security Bureau";
/// The unit a reassignment hands the case to.
pub const OTHER_DEPARTMENT: &str = "Education Bureau";
/// The member who relays voices and leads joint research.
pub const MEMBER: &str = "member-7";

/// `n` days after the first submission (2026-03-01 09:00 UTC).
pub fn day(n: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + Duration::days(n)
}

/// When commands are sent unless a test says otherwise: after every event of the given
/// histories, and before the deadlines they set.
pub fn now() -> Timestamp {
    day(10)
}

pub fn staff() -> Actor {
    Actor {
        id: "staff-1".to_owned(),
        role: Role::Staff,
    }
}

/// The citizen who submits the cases.
pub fn submitter() -> Actor {
    Actor {
        id: "citizen-1".to_owned(),
        role: Role::Citizen,
    }
}

/// A citizen who did not submit the case.
pub fn someone_else() -> Actor {
    Actor {
        id: "citizen-2".to_owned(),
        role: Role::Citizen,
    }
}

pub fn member(id: &str) -> Actor {
    Actor {
        id: id.to_owned(),
        role: Role::Member,
    }
}

pub fn framework<A: Aggregate<Services = Policy>>() -> TestFramework<A> {
    TestFramework::with(Policy::default())
}

/// A case rebuilt from its events, for the questions a command does not ask (allowed actions).
pub fn state<A: Aggregate>(events: Vec<A::Event>) -> A {
    let mut case = A::default();
    for event in events {
        case.apply(event);
    }
    case
}

/// Names a table-driven test's row in its failure output, which `then_expect_*` cannot do.
pub fn row(name: impl Debug) -> Row {
    Row(format!("{name:?}"))
}

#[derive(Debug)]
pub struct Row(String);

impl Drop for Row {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failing row: {}", self.0);
        }
    }
}

/// Asserts that `event` is stored as exactly `json` and read back from it, and that its
/// `event_type` is the JSON's tag, at schema version 1.
pub fn assert_stored_as<E: DomainEvent>(event: &E, json: Value) {
    assert_eq!(serde_json::to_value(event).expect("an event serialises"), json);
    assert_eq!(
        &serde_json::from_value::<E>(json.clone()).expect("a stored event reads back"),
        event
    );
    assert_eq!(json["type"], event.event_type());
    assert_eq!(event.event_version(), "1");
}

/// The schema version an event type is written at: 1, unless it changed since.
fn written_version(event_type: &str) -> &'static str {
    match event_type {
        "escalated" => crate::ESCALATED_VERSION,
        _ => crate::EVENT_VERSION,
    }
}

/// Asserts each event's `event_type`, that its JSON is stored under the same tag, and its
/// schema version.
pub fn assert_event_types<E: DomainEvent>(events: Vec<(E, &str)>) {
    for (event, event_type) in events {
        let _row = row(event_type);
        assert_eq!(event.event_type(), event_type);
        assert_eq!(
            serde_json::to_value(&event).expect("an event serialises")["type"],
            event_type
        );
        assert_eq!(event.event_version(), written_version(event_type));
    }
}

fn command(actor: Actor, at: Timestamp, input: CommandInput) -> CaseCommand {
    CaseCommand {
        case_id: CASE_ID,
        actor,
        at,
        expected_version: None,
        input,
    }
}

/// Who sends a command, when, and against which version, where a test cares.
pub trait CommandExt {
    fn by(self, actor: Actor) -> Self;
    fn on(self, at: Timestamp) -> Self;
    fn expecting(self, version: u64) -> Self;
}

impl CommandExt for CaseCommand {
    fn by(self, actor: Actor) -> Self {
        CaseCommand { actor, ..self }
    }

    fn on(self, at: Timestamp) -> Self {
        CaseCommand { at, ..self }
    }

    fn expecting(self, version: u64) -> Self {
        CaseCommand {
            expected_version: Some(version),
            ..self
        }
    }
}

/// The submitter's submission of `kind` on day 0.
pub fn submit(kind: Kind) -> CaseCommand {
    submitting(submission(kind))
}

pub fn submitting(input: Submit) -> CaseCommand {
    command(submitter(), day(0), CommandInput::Submit(input))
}

/// Staff running an action now.
pub fn act(input: ActionInput) -> CaseCommand {
    command(staff(), now(), CommandInput::Act(input))
}

pub fn submission(kind: Kind) -> Submit {
    let joint = kind == Kind::JointResearch;
    Submit {
        kind,
        title: "Traffic jams outside No. 3 Primary School".to_owned(),
        body: "Parents' cars block Tianjiao Road every school day from 16:30 to 17:30.".to_owned(),
        category: "traffic".to_owned(),
        jurisdiction: "东胜区".to_owned(),
        channel: None,
        lead_member: joint.then(|| MEMBER.to_owned()),
        team: if joint { team() } else { Vec::new() },
    }
}

fn team() -> Vec<String> {
    vec![MEMBER.to_owned(), "member-12".to_owned()]
}

/// What [`submit`] records: the citizen's submission, online by default.
pub fn submitted(kind: Kind) -> Submitted {
    let joint = kind == Kind::JointResearch;
    Submitted {
        title: "Traffic jams outside No. 3 Primary School".to_owned(),
        body: "Parents' cars block Tianjiao Road every school day from 16:30 to 17:30.".to_owned(),
        category: "traffic".to_owned(),
        jurisdiction: "东胜区".to_owned(),
        channel: Channel::Online,
        submitter: submitter(),
        lead_member: joint.then(|| MEMBER.to_owned()),
        team: if joint { team() } else { Vec::new() },
        at: day(0),
    }
}

pub fn relay() -> ActionInput {
    ActionInput::Relay(Note {
        note: "Heard the same at the Jianshe Street contact point.".to_owned(),
    })
}

pub fn relayed(member: &str, at: Timestamp) -> Relayed {
    Relayed {
        member: member.to_owned(),
        note: "Heard the same at the Jianshe Street contact point.".to_owned(),
        at,
    }
}

pub fn classify() -> ActionInput {
    ActionInput::Classify(Classify {
        category: "education".to_owned(),
    })
}

/// What [`classify`] records on a case submitted as "traffic".
pub fn classified(at: Timestamp) -> Classified {
    Classified {
        category: "education".to_owned(),
        previous: "traffic".to_owned(),
        at,
    }
}

pub fn assign(due_at: Option<Timestamp>) -> ActionInput {
    ActionInput::Assign(Assign {
        department: DEPARTMENT.to_owned(),
        co_departments: vec![CO_DEPARTMENT.to_owned()],
        due_at,
    })
}

/// The windows to sign and to object that a unit handed a case at `at` gets by default.
pub fn windows(at: Timestamp) -> Windows {
    CaseCore::windows(&Policy::default(), at)
}

/// What [`assign`] records: [`DEPARTMENT`] leads, [`CO_DEPARTMENT`] co-handles.
pub fn assigned(due_at: Timestamp, at: Timestamp) -> Assigned {
    Assigned {
        department: DEPARTMENT.to_owned(),
        co_departments: vec![CO_DEPARTMENT.to_owned()],
        due_at,
        windows: windows(at),
        at,
    }
}

pub fn reassign(due_at: Option<Timestamp>) -> ActionInput {
    ActionInput::Reassign(Reassign {
        department: OTHER_DEPARTMENT.to_owned(),
        co_departments: Vec::new(),
        due_at,
        reason: Some("The school gate is the Education Bureau's".to_owned()),
    })
}

/// What [`reassign`] records on a case assigned to [`DEPARTMENT`].
pub fn reassigned(due_at: Timestamp, at: Timestamp) -> Reassigned {
    Reassigned {
        department: OTHER_DEPARTMENT.to_owned(),
        co_departments: Vec::new(),
        previous: DEPARTMENT.to_owned(),
        due_at,
        reason: Some("The school gate is the Education Bureau's".to_owned()),
        windows: windows(at),
        at,
    }
}

pub fn escalate() -> ActionInput {
    ActionInput::Escalate(
        Reason {
            reason: "No answer within the deadline".to_owned(),
        }
        .into(),
    )
}

/// What [`escalate`] records: to the city, the unit in charge keeping the case.
pub fn escalated(overdue_since: Timestamp, due_at: Timestamp, at: Timestamp) -> Escalated {
    Escalated {
        reason: "No answer within the deadline".to_owned(),
        level: HandlingLevel::City,
        department: None,
        co_departments: Vec::new(),
        overdue_since,
        due_at,
        windows: Windows::default(),
        at,
    }
}

pub fn consult() -> ActionInput {
    ActionInput::Consult(Consult {
        note: "Met the parents' committee at the school gate".to_owned(),
        participants: vec!["Parents' committee".to_owned(), DEPARTMENT.to_owned()],
        members: vec![MEMBER.to_owned()],
    })
}

pub fn consulted(at: Timestamp) -> Consulted {
    Consulted {
        note: "Met the parents' committee at the school gate".to_owned(),
        participants: vec!["Parents' committee".to_owned(), DEPARTMENT.to_owned()],
        members: vec![MEMBER.to_owned()],
        at,
    }
}

/// An adoption with none of the fields only one kind takes.
pub fn adoption(extent: Extent) -> Adopt {
    Adopt {
        by: "东胜区人民政府".to_owned(),
        extent,
        note: Some("Staggered pick-up times from next term".to_owned()),
        recommendations: Vec::new(),
        responsible_parties: Vec::new(),
        due_at: None,
    }
}

pub fn adopt(extent: Extent) -> ActionInput {
    ActionInput::Adopt(adoption(extent))
}

pub fn adopted(extent: Extent, at: Timestamp) -> Adopted {
    Adopted {
        by: "东胜区人民政府".to_owned(),
        extent,
        note: Some("Staggered pick-up times from next term".to_owned()),
        recommendations: Vec::new(),
        responsible_parties: Vec::new(),
        due_at: None,
        at,
    }
}

pub fn decline() -> ActionInput {
    ActionInput::Decline(Reason {
        reason: "The road is rebuilt next year anyway".to_owned(),
    })
}

pub fn declined(at: Timestamp) -> Declined {
    Declined {
        reason: "The road is rebuilt next year anyway".to_owned(),
        at,
    }
}

pub fn close(outcome: Outcome) -> ActionInput {
    ActionInput::Close(Close {
        outcome,
        summary: "Pick-up times staggered by grade".to_owned(),
    })
}

/// What [`close`] records before the deadline.
pub fn closed(outcome: Outcome, at: Timestamp) -> Closed {
    Closed {
        outcome,
        summary: "Pick-up times staggered by grade".to_owned(),
        late: false,
        late_since: None,
        at,
    }
}

pub fn feedback(rating: Rating) -> ActionInput {
    ActionInput::Feedback(Feedback {
        rating,
        comment: Some("Better on most days".to_owned()),
        on_behalf_reason: None,
    })
}

pub fn feedback_given(rating: Rating, at: Timestamp) -> FeedbackGiven {
    FeedbackGiven {
        rating,
        comment: Some("Better on most days".to_owned()),
        on_behalf_reason: None,
        at,
    }
}

pub fn reopen() -> ActionInput {
    ActionInput::Reopen(
        Reason {
            reason: "The jams are back since the holidays".to_owned(),
        }
        .into(),
    )
}

/// What [`reopen`] records: handled again by the same unit.
pub fn reopened(due_at: Timestamp, at: Timestamp) -> Reopened {
    Reopened {
        reason: "The jams are back since the holidays".to_owned(),
        department: None,
        co_departments: Vec::new(),
        due_at,
        windows: windows(at),
        at,
    }
}

pub fn withdraw() -> ActionInput {
    ActionInput::Withdraw(Withdraw {
        reason: Some("The school solved it itself".to_owned()),
    })
}

pub fn withdrawn(at: Timestamp) -> Withdrawn {
    Withdrawn {
        reason: Some("The school solved it itself".to_owned()),
        at,
    }
}

pub fn merge(into: Uuid) -> ActionInput {
    ActionInput::Merge(Merge { into })
}

pub fn merged(into: Uuid, at: Timestamp) -> Merged {
    Merged { into, at }
}

pub fn convene() -> ActionInput {
    ActionInput::Convene(Convene {
        venue: "Jianshe Street consultation room".to_owned(),
        scheduled_at: Some(day(14)),
        participants: vec![MEMBER.to_owned(), "Residents' committee".to_owned()],
        members: vec![MEMBER.to_owned()],
    })
}

pub fn convened(at: Timestamp) -> Convened {
    Convened {
        venue: "Jianshe Street consultation room".to_owned(),
        scheduled_at: Some(day(14)),
        participants: vec![MEMBER.to_owned(), "Residents' committee".to_owned()],
        members: vec![MEMBER.to_owned()],
        at,
    }
}

pub fn complete_preparation() -> ActionInput {
    ActionInput::CompletePreparation(Note {
        note: "Team formed across four sectors; questionnaire drafted".to_owned(),
    })
}

pub fn preparation_completed(at: Timestamp) -> PhaseCompleted {
    PhaseCompleted {
        note: "Team formed across four sectors; questionnaire drafted".to_owned(),
        at,
    }
}

pub fn record_visit() -> ActionInput {
    ActionInput::RecordVisit(RecordVisit {
        place: "Hanggin Banner pastoral cooperative".to_owned(),
        findings: "Follow-up management after relocation is weak".to_owned(),
    })
}

pub fn visit_recorded(at: Timestamp) -> VisitRecorded {
    VisitRecorded {
        place: "Hanggin Banner pastoral cooperative".to_owned(),
        findings: "Follow-up management after relocation is weak".to_owned(),
        at,
    }
}

pub fn complete_research() -> ActionInput {
    ActionInput::CompleteResearch(Note {
        note: "Twelve visits in four banners".to_owned(),
    })
}

pub fn research_completed(at: Timestamp) -> PhaseCompleted {
    PhaseCompleted {
        note: "Twelve visits in four banners".to_owned(),
        at,
    }
}

/// The report's three recommendations, numbered 0 to 2.
fn recommendations() -> Vec<String> {
    vec![
        "Assign a follow-up officer to every relocated village".to_owned(),
        "Fund cooperative processing of local produce".to_owned(),
        "Train herders for jobs in the new zones".to_owned(),
    ]
}

pub fn submit_report() -> ActionInput {
    ActionInput::SubmitReport(SubmitReport {
        title: "Consolidating the three zones".to_owned(),
        recommendations: recommendations(),
    })
}

pub fn report_submitted(at: Timestamp) -> ReportSubmitted {
    ReportSubmitted {
        title: "Consolidating the three zones".to_owned(),
        recommendations: recommendations(),
        at,
    }
}

pub fn record_policy() -> ActionInput {
    ActionInput::RecordPolicy(RecordPolicy {
        title: "Measures for follow-up management in the three zones".to_owned(),
        by: Some("市人民政府".to_owned()),
        note: None,
    })
}

pub fn policy_recorded(at: Timestamp) -> PolicyRecorded {
    PolicyRecorded {
        title: "Measures for follow-up management in the three zones".to_owned(),
        by: Some("市人民政府".to_owned()),
        note: None,
        at,
    }
}
