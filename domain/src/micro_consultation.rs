//! Micro-consultation 微协商: a small but key neighbourhood matter, convened with members,
//! residents and departments at a venue, held in one or more sessions with minutes, ending in
//! an agreed solution with responsible parties and a deadline, then closed with its outcome.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::case::refuse_kind_specific_adoption;
use crate::{
    Action, ActionInput, Actor, Adopted, Assigned, Case, CaseCommand, CaseCore, CaseError, Closed, CommandInput,
    Consulted, Convened, FeedbackGiven, HandlingEvent, Kind, Outcome, Policy, Refusal, Rule, Stage, Status, Submitted,
    Timestamp, EVENT_VERSION,
};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroConsultation {
    pub core: CaseCore,
    /// Sessions convened, latest last.
    pub convened: Vec<Convened>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MicroConsultationEvent {
    Submitted(Submitted),
    Assigned(Assigned),
    Convened(Convened),
    Consulted(Consulted),
    Adopted(Adopted),
    Closed(Closed),
    FeedbackGiven(FeedbackGiven),
    /// The handling unit's steps, stored under their own event types.
    #[serde(untagged)]
    Handled(HandlingEvent),
}

impl DomainEvent for MicroConsultationEvent {
    fn event_type(&self) -> String {
        match self {
            MicroConsultationEvent::Submitted(_) => "submitted",
            MicroConsultationEvent::Assigned(_) => "assigned",
            MicroConsultationEvent::Convened(_) => "convened",
            MicroConsultationEvent::Consulted(_) => "consulted",
            MicroConsultationEvent::Adopted(_) => "adopted",
            MicroConsultationEvent::Closed(_) => "closed",
            MicroConsultationEvent::FeedbackGiven(_) => "feedback_given",
            MicroConsultationEvent::Handled(event) => event.event_type(),
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

impl Case for MicroConsultation {
    const KIND: Kind = Kind::MicroConsultation;

    fn core(&self) -> &CaseCore {
        &self.core
    }

    fn carriers(&self) -> Vec<String> {
        let mut carriers = self.core.reporting_member();
        for member in self.convened.iter().flat_map(|session| &session.members) {
            if !carriers.contains(member) {
                carriers.push(member.clone());
            }
        }
        carriers
    }

    fn precondition(&self, action: Action, actor: &Actor, at: Timestamp) -> Result<(), Refusal> {
        use Status::{Adopted, Assigned, Closed, Consulting, Submitted};
        let status = self.core.status.ok_or(Refusal::Status)?;
        // The department named is at work from then on; it replies on the solution agreed.
        let stage = Stage {
            at_work: self.core.department.is_some() && matches!(status, Assigned | Consulting | Adopted),
            replying: self.core.department.is_some() && status == Adopted,
        };
        if let Some(result) = self.core.handling_precondition(action, actor, at, stage) {
            return result;
        }
        match (status, action) {
            // A responsible department may be named before the first session or while the
            // sessions run; a case convened first still gets its department and deadline.
            (Submitted | Consulting, Action::Assign) if self.core.department.is_none() => Ok(()),
            (Submitted | Assigned | Consulting, Action::Convene)
            | (Consulting, Action::Consult)
            | (Consulting | Adopted, Action::Close) => Ok(()),
            (Consulting, Action::Adopt) if self.core.consultations == 0 => Err(Refusal::Rule(Rule::NoSessionHeld)),
            (Consulting, Action::Adopt) => Ok(()),
            (Closed, Action::Feedback) if self.core.feedback.is_some() => Err(Refusal::Rule(Rule::AlreadyRated)),
            (Closed, Action::Feedback) => Ok(()),
            _ => Err(Refusal::Status),
        }
    }

    fn decide(&self, command: CaseCommand, policy: &Policy) -> Result<Vec<MicroConsultationEvent>, CaseError> {
        self.admit(&command)?;
        let CaseCommand { actor, at, input, .. } = command;
        let input = match input {
            CommandInput::Submit(submit) => {
                return Ok(vec![MicroConsultationEvent::Submitted(CaseCore::submitted(
                    Self::KIND,
                    &actor,
                    at,
                    submit,
                )?)])
            }
            CommandInput::Act(input) => input,
        };
        input.validate(at)?;
        if let Some(event) = self.core.handled(Self::KIND, &input, &actor, at, policy) {
            return Ok(vec![MicroConsultationEvent::Handled(event)]);
        }
        let event = match input {
            ActionInput::Assign(input) => {
                MicroConsultationEvent::Assigned(CaseCore::assigned(Self::KIND, input, at, policy))
            }
            ActionInput::Convene(input) => MicroConsultationEvent::Convened(Convened {
                venue: input.venue,
                scheduled_at: input.scheduled_at,
                participants: input.participants,
                members: input.members,
                at,
            }),
            ActionInput::Consult(input) => MicroConsultationEvent::Consulted(CaseCore::consulted(input, at)),
            ActionInput::Adopt(input) => {
                refuse_kind_specific_adoption(&input, Self::KIND)?;
                MicroConsultationEvent::Adopted(CaseCore::adopted(input, at))
            }
            ActionInput::Close(input) => {
                if self.core.status == Some(Status::Consulting) && input.outcome != Outcome::C {
                    return Err(CaseError::invalid(
                        "outcome",
                        "a consultation that agreed no solution closes with outcome C",
                    ));
                }
                MicroConsultationEvent::Closed(self.core.closed(input, at))
            }
            ActionInput::Feedback(input) | ActionInput::Evaluate(input) => {
                MicroConsultationEvent::FeedbackGiven(self.core.feedback(input, &actor, at)?)
            }
            other => return Err(self.refusal_of(other.action(), &actor, at)),
        };
        Ok(vec![event])
    }
}

impl Aggregate for MicroConsultation {
    const TYPE: &'static str = "micro_consultation";
    type Command = CaseCommand;
    type Event = MicroConsultationEvent;
    type Error = CaseError;
    type Services = Policy;

    async fn handle(&mut self, command: CaseCommand, policy: &Policy, sink: &EventSink<Self>) -> Result<(), CaseError> {
        for event in self.decide(command, policy)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: MicroConsultationEvent) {
        let core = &mut self.core;
        core.version += 1;
        match event {
            MicroConsultationEvent::Submitted(event) => core.on_submitted(event, Status::Submitted),
            MicroConsultationEvent::Assigned(event) => {
                // Naming the department does not stop sessions already under way.
                let next = match core.status {
                    Some(Status::Consulting) => Status::Consulting,
                    _ => Status::Assigned,
                };
                core.on_assigned(event, next);
            }
            MicroConsultationEvent::Convened(event) => {
                core.status = Some(Status::Consulting);
                self.convened.push(event);
            }
            MicroConsultationEvent::Consulted(event) => core.on_consulted(event),
            MicroConsultationEvent::Adopted(event) => core.on_adopted(event),
            MicroConsultationEvent::Closed(event) => core.on_closed(event),
            MicroConsultationEvent::Handled(event) => core.on_handled(event),
            MicroConsultationEvent::FeedbackGiven(event) => core.on_feedback(event),
        }
    }
}

#[cfg(test)]
mod tests;
