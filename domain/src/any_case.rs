//! A case of any kind, for callers that learn the kind at run time (from a submission, or from
//! a stored stream's aggregate type).
//!
//! [`AnyCase::new`] is the one place where a [`Kind`] selects its aggregate; everything else
//! forwards, variant by variant, to the kind's own [`Case`] and cqrs-es [`Aggregate`]
//! implementations, which stay the source of every rule. [`AnyCaseEvent`] carries a decided
//! event of any kind and serializes exactly as the kind's own event does: the storage shape
//! does not change.
//!
//! `AnyCase` is not itself a cqrs-es `Aggregate`: it has no one aggregate type and no default
//! kind, and a stored payload cannot say which kind's event it is (every kind has a
//! `submitted`), so it is read back only through a case that knows its kind
//! ([`AnyCase::apply_payload`]).

use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::joint_research::JointResearchEvent;
use crate::micro_consultation::MicroConsultationEvent;
use crate::suggestion::SuggestionEvent;
use crate::{
    Action, Actor, Case, CaseCommand, CaseCore, CaseError, JointResearch, Kind, MicroConsultation, Policy, Refusal,
    Status, Suggestion, Timestamp,
};

/// A case of one of the three kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyCase {
    Suggestion(Suggestion),
    MicroConsultation(MicroConsultation),
    JointResearch(JointResearch),
}

/// An event of one of the three kinds, stored as that kind's event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyCaseEvent {
    Suggestion(SuggestionEvent),
    MicroConsultation(MicroConsultationEvent),
    JointResearch(JointResearchEvent),
}

/// An event applied to a case of another kind: a caller's mistake, never a stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event of a {event} cannot apply to a {case}")]
pub struct KindMismatch {
    pub case: Kind,
    pub event: Kind,
}

/// Runs one body on what an [`AnyCase`] or an [`AnyCaseEvent`] holds, whichever its kind: the
/// two enums name their variants alike.
macro_rules! on_kind {
    ($enum:ident, $value:expr, |$inner:ident| $body:expr) => {
        match $value {
            $enum::Suggestion($inner) => $body,
            $enum::MicroConsultation($inner) => $body,
            $enum::JointResearch($inner) => $body,
        }
    };
}

impl AnyCase {
    /// A case of `kind` with no events yet: the one place a kind selects its aggregate.
    pub fn new(kind: Kind) -> AnyCase {
        match kind {
            Kind::Suggestion => AnyCase::Suggestion(Suggestion::default()),
            Kind::MicroConsultation => AnyCase::MicroConsultation(MicroConsultation::default()),
            Kind::JointResearch => AnyCase::JointResearch(JointResearch::default()),
        }
    }

    /// Evolves the case by one stored event, read as an event of the case's own kind: a case
    /// is rebuilt from its stream by applying each in order to [`AnyCase::new`].
    pub fn apply_payload(&mut self, payload: &Value) -> Result<(), serde_json::Error> {
        on_kind!(AnyCase, self, |case| apply_payload(case, payload))
    }

    pub fn kind(&self) -> Kind {
        on_kind!(AnyCase, self, |case| kind_of(case))
    }

    pub fn core(&self) -> &CaseCore {
        on_kind!(AnyCase, self, |case| case.core())
    }

    pub fn status(&self) -> Option<Status> {
        on_kind!(AnyCase, self, |case| case.status())
    }

    pub fn version(&self) -> u64 {
        on_kind!(AnyCase, self, |case| case.version())
    }

    /// Members who carry the case, as its kind counts them.
    pub fn carriers(&self) -> Vec<String> {
        on_kind!(AnyCase, self, |case| case.carriers())
    }

    pub fn precondition(&self, action: Action, actor: &Actor, at: Timestamp) -> Result<(), Refusal> {
        on_kind!(AnyCase, self, |case| case.precondition(action, actor, at))
    }

    pub fn allowed_actions(&self, actor: &Actor, at: Timestamp) -> Vec<Action> {
        on_kind!(AnyCase, self, |case| case.allowed_actions(actor, at))
    }

    /// The events a command leads to, or why it is refused. Nothing is applied here.
    pub fn decide(&self, command: CaseCommand, policy: &Policy) -> Result<Vec<AnyCaseEvent>, CaseError> {
        on_kind!(AnyCase, self, |case| Ok(case
            .decide(command, policy)?
            .into_iter()
            .map(AnyCaseEvent::from)
            .collect()))
    }

    /// Decides a command and applies the events it leads to, as cqrs-es's `handle` and
    /// `apply` do; returns the events, to store. Refused, it changes nothing.
    pub fn handle(&mut self, command: CaseCommand, policy: &Policy) -> Result<Vec<AnyCaseEvent>, CaseError> {
        on_kind!(AnyCase, self, |case| {
            let events = case.decide(command, policy)?;
            events.iter().cloned().for_each(|event| case.apply(event));
            Ok(events.into_iter().map(AnyCaseEvent::from).collect())
        })
    }

    /// Evolves the case by one of its own events.
    pub fn apply(&mut self, event: AnyCaseEvent) -> Result<(), KindMismatch> {
        match (self, event) {
            (AnyCase::Suggestion(case), AnyCaseEvent::Suggestion(event)) => case.apply(event),
            (AnyCase::MicroConsultation(case), AnyCaseEvent::MicroConsultation(event)) => case.apply(event),
            (AnyCase::JointResearch(case), AnyCaseEvent::JointResearch(event)) => case.apply(event),
            (case, event) => {
                return Err(KindMismatch {
                    case: case.kind(),
                    event: event.kind(),
                })
            }
        }
        Ok(())
    }

    /// The kind's own state (relays, sessions, phases, report, …) as stored, without the core.
    pub fn details(&self) -> Result<Value, serde_json::Error> {
        let mut details = on_kind!(AnyCase, self, |case| serde_json::to_value(case))?;
        if let Some(fields) = details.as_object_mut() {
            fields.remove("core");
        }
        Ok(details)
    }
}

impl AnyCaseEvent {
    pub fn kind(&self) -> Kind {
        match self {
            AnyCaseEvent::Suggestion(_) => Suggestion::KIND,
            AnyCaseEvent::MicroConsultation(_) => MicroConsultation::KIND,
            AnyCaseEvent::JointResearch(_) => JointResearch::KIND,
        }
    }

    /// The kind's cqrs-es event type, the name the event is stored under.
    pub fn event_type(&self) -> String {
        on_kind!(AnyCaseEvent, self, |event| event.event_type())
    }

    /// The kind's cqrs-es schema version of the event.
    pub fn event_version(&self) -> String {
        on_kind!(AnyCaseEvent, self, |event| event.event_version())
    }
}

impl From<SuggestionEvent> for AnyCaseEvent {
    fn from(event: SuggestionEvent) -> Self {
        AnyCaseEvent::Suggestion(event)
    }
}

impl From<MicroConsultationEvent> for AnyCaseEvent {
    fn from(event: MicroConsultationEvent) -> Self {
        AnyCaseEvent::MicroConsultation(event)
    }
}

impl From<JointResearchEvent> for AnyCaseEvent {
    fn from(event: JointResearchEvent) -> Self {
        AnyCaseEvent::JointResearch(event)
    }
}

fn kind_of<A: Case>(_: &A) -> Kind {
    A::KIND
}

/// Applies one stored payload to an aggregate of any type: the payload is the event's serde
/// shape, as cqrs-es stores it.
pub fn apply_payload<A: Aggregate>(aggregate: &mut A, payload: &Value) -> Result<(), serde_json::Error> {
    aggregate.apply(A::Event::deserialize(payload)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{act, now, staff, submit, submitted, MEMBER};
    use crate::{ActionInput, Assign, Note};

    /// Each kind's submission, as its own aggregate records it.
    fn submissions() -> [(Kind, AnyCaseEvent); 3] {
        [
            (
                Kind::Suggestion,
                SuggestionEvent::Submitted(submitted(Kind::Suggestion)).into(),
            ),
            (
                Kind::MicroConsultation,
                MicroConsultationEvent::Submitted(submitted(Kind::MicroConsultation)).into(),
            ),
            (
                Kind::JointResearch,
                JointResearchEvent::Submitted(submitted(Kind::JointResearch)).into(),
            ),
        ]
    }

    fn assign() -> ActionInput {
        ActionInput::Assign(Assign {
            co_departments: Vec::new(),
            department: "Transport Bureau".to_owned(),
            due_at: None,
        })
    }

    #[test]
    fn each_kind_builds_its_own_aggregate() {
        assert!(matches!(AnyCase::new(Kind::Suggestion), AnyCase::Suggestion(_)));
        assert!(matches!(
            AnyCase::new(Kind::MicroConsultation),
            AnyCase::MicroConsultation(_)
        ));
        assert!(matches!(AnyCase::new(Kind::JointResearch), AnyCase::JointResearch(_)));
        for kind in Kind::ALL {
            let case = AnyCase::new(kind);
            assert_eq!((case.kind(), case.status(), case.version()), (kind, None, 0));
        }
    }

    #[test]
    fn given_no_events_when_submitted_then_each_kind_decides_its_own_submission() {
        for (kind, submission) in submissions() {
            let events = AnyCase::new(kind).decide(submit(kind), &Policy::default()).unwrap();
            assert_eq!(events, [submission], "{kind}");
            assert_eq!(events[0].kind(), kind);
        }
    }

    #[test]
    fn given_a_submission_when_applied_then_the_case_is_submitted_at_version_one() {
        for (kind, submission) in submissions() {
            let mut case = AnyCase::new(kind);
            case.apply(submission).unwrap();
            assert_eq!((case.status(), case.version()), (Some(Status::Submitted), 1), "{kind}");
            assert_eq!(case.core().title, submitted(kind).title);
        }
    }

    #[test]
    fn given_a_submitted_case_when_assigned_then_its_own_kind_decides_what_comes_next() {
        let policy = Policy::default();
        let next = [
            (Kind::Suggestion, Status::Assigned),
            (Kind::MicroConsultation, Status::Assigned),
            (Kind::JointResearch, Status::Preparing),
        ];
        for (kind, status) in next {
            let mut case = AnyCase::new(kind);
            for event in case.decide(submit(kind), &policy).unwrap() {
                case.apply(event).unwrap();
            }
            for event in case.decide(act(assign()), &policy).unwrap() {
                case.apply(event).unwrap();
            }
            assert_eq!((case.status(), case.version()), (Some(status), 2), "{kind}");
            // Only joint research has a preparation to complete.
            let prepares = case
                .allowed_actions(&staff(), now())
                .contains(&Action::CompletePreparation);
            assert_eq!(prepares, kind == Kind::JointResearch, "{kind}");
            let preparation = ActionInput::CompletePreparation(Note {
                note: "提纲".to_owned(),
            });
            let precondition = case.precondition(Action::CompletePreparation, &staff(), now());
            assert_eq!(precondition.is_ok(), kind == Kind::JointResearch, "{kind}");
            assert_eq!(
                case.decide(act(preparation), &policy).is_ok(),
                kind == Kind::JointResearch
            );
        }
    }

    #[test]
    fn given_a_case_of_each_kind_when_handled_then_its_events_are_applied_and_returned() {
        for (kind, submission) in submissions() {
            let mut case = AnyCase::new(kind);
            assert_eq!(
                case.handle(submit(kind), &Policy::default()),
                Ok(vec![submission.clone()])
            );
            let mut applied = AnyCase::new(kind);
            applied.apply(submission).unwrap();
            assert_eq!(case, applied, "{kind}");
            let refused = case.handle(submit(kind), &Policy::default());
            assert_eq!(refused, Err(CaseError::AlreadyExists), "{kind}");
            assert_eq!(case, applied, "a refused command changes nothing");
        }
    }

    #[test]
    fn an_event_of_another_kind_is_refused_and_changes_nothing() {
        let mut case = AnyCase::new(Kind::Suggestion);
        let [_, _, (_, foreign)] = submissions();
        assert_eq!(
            case.apply(foreign),
            Err(KindMismatch {
                case: Kind::Suggestion,
                event: Kind::JointResearch
            })
        );
        assert_eq!(case, AnyCase::new(Kind::Suggestion));
    }

    #[test]
    fn a_case_rebuilt_from_stored_payloads_equals_the_case_its_events_built() {
        for (kind, submission) in submissions() {
            let payload = serde_json::to_value(&submission).unwrap();
            assert_eq!(payload["type"], "submitted", "stored as the kind's own event");
            assert_eq!(submission.event_type(), "submitted");
            assert_eq!(submission.event_version(), "1");
            let mut applied = AnyCase::new(kind);
            applied.apply(submission).unwrap();
            let mut rebuilt = AnyCase::new(kind);
            rebuilt.apply_payload(&payload).unwrap();
            assert_eq!(rebuilt, applied, "{kind}");
        }
    }

    #[test]
    fn details_leave_out_the_core_and_carry_the_kinds_own_state() {
        let [_, _, (kind, submission)] = submissions();
        let mut case = AnyCase::new(kind);
        case.apply(submission).unwrap();
        let details = case.details().unwrap();
        assert!(details.get("core").is_none());
        assert_eq!(details["lead_member"], json!(MEMBER));
        assert!(case.carriers().contains(&MEMBER.to_owned()));
    }
}
