//! Suggestion 建言 / 社情民意: a voice raised by a citizen or a member, classified, assigned to
//! a department, answered, adopted or declined, closed with an outcome, rated by its submitter
//! and reopened when the rating is unsatisfied.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::case::refuse_kind_specific_adoption;
use crate::{
    Action, ActionInput, Actor, Adopted, Assigned, Case, CaseCommand, CaseCore, CaseError, Classified, Closed,
    CommandInput, Consulted, Declined, Escalated, FeedbackGiven, HandlingEvent, Kind, Merged, Note, Outcome, Policy,
    Rating, Reason, Reassigned, Refusal, Relayed, Reopened, Required, Role, Rule, Stage, Status, Submitted, Timestamp,
    Withdrawn, ESCALATED_VERSION, EVENT_VERSION,
};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub core: CaseCore,
    /// Members who carried this voice (委员有反映), in order.
    pub relayed_by: Vec<String>,
    pub escalated: bool,
    pub declined: Option<Declined>,
    pub reopened: u32,
    pub merged_into: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SuggestionEvent {
    Submitted(Submitted),
    Relayed(Relayed),
    Classified(Classified),
    Assigned(Assigned),
    Reassigned(Reassigned),
    Escalated(Escalated),
    Consulted(Consulted),
    Adopted(Adopted),
    Declined(Declined),
    Closed(Closed),
    FeedbackGiven(FeedbackGiven),
    Reopened(Reopened),
    Withdrawn(Withdrawn),
    Merged(Merged),
    /// The handling unit's steps, stored under their own event types.
    #[serde(untagged)]
    Handled(HandlingEvent),
}

impl DomainEvent for SuggestionEvent {
    fn event_type(&self) -> String {
        match self {
            SuggestionEvent::Submitted(_) => "submitted",
            SuggestionEvent::Relayed(_) => "relayed",
            SuggestionEvent::Classified(_) => "classified",
            SuggestionEvent::Assigned(_) => "assigned",
            SuggestionEvent::Reassigned(_) => "reassigned",
            SuggestionEvent::Escalated(_) => "escalated",
            SuggestionEvent::Consulted(_) => "consulted",
            SuggestionEvent::Adopted(_) => "adopted",
            SuggestionEvent::Declined(_) => "declined",
            SuggestionEvent::Closed(_) => "closed",
            SuggestionEvent::FeedbackGiven(_) => "feedback_given",
            SuggestionEvent::Reopened(_) => "reopened",
            SuggestionEvent::Withdrawn(_) => "withdrawn",
            SuggestionEvent::Merged(_) => "merged",
            SuggestionEvent::Handled(event) => event.event_type(),
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            SuggestionEvent::Escalated(_) => ESCALATED_VERSION,
            _ => EVENT_VERSION,
        }
        .to_owned()
    }
}

impl Case for Suggestion {
    const KIND: Kind = Kind::Suggestion;

    fn core(&self) -> &CaseCore {
        &self.core
    }

    fn carriers(&self) -> Vec<String> {
        let mut carriers = self.core.reporting_member();
        carriers.extend(self.relayed_by.iter().cloned());
        carriers
    }

    fn precondition(&self, action: Action, actor: &Actor, at: Timestamp) -> Result<(), Refusal> {
        use Status::{Adopted, Assigned, Closed, Consulting, Declined, Submitted};
        let status = self.core.status.ok_or(Refusal::Status)?;
        let in_hand = matches!(status, Assigned | Consulting);
        let stage = Stage {
            at_work: in_hand,
            replying: in_hand,
        };
        if let Some(result) = self.core.handling_precondition(action, actor, at, stage) {
            return result;
        }
        let replied = self.core.reply.is_some();
        match (status, action) {
            (Submitted | Assigned | Consulting, Action::Relay) => {
                if actor.role != Role::Member {
                    Err(Refusal::Forbidden(Required::Role(Role::Member)))
                } else if self.relayed_by.contains(&actor.id) {
                    Err(Refusal::Rule(Rule::AlreadyRelayedByMember))
                } else {
                    Ok(())
                }
            }
            (Submitted | Assigned, Action::Classify)
            | (Submitted, Action::Assign)
            | (Submitted | Assigned | Consulting, Action::Merge)
            | (Assigned | Consulting, Action::Reassign | Action::Consult | Action::Adopt | Action::Decline)
            | (Adopted | Declined, Action::Close) => Ok(()),
            // The unit replied: staff close with the grade they decide.
            (Assigned | Consulting, Action::Close) if replied => Ok(()),
            (Submitted, Action::Withdraw) => self.core.proposer_or_staff(actor),
            (Assigned | Consulting, Action::Escalate) => {
                if self.escalated {
                    Err(Refusal::Rule(Rule::AlreadyEscalated))
                } else if !self.core.is_overdue(at) {
                    Err(Refusal::Rule(Rule::NotOverdue))
                } else {
                    Ok(())
                }
            }
            (Closed, Action::Feedback) => match self.core.feedback {
                Some(_) => Err(Refusal::Rule(Rule::AlreadyRated)),
                None => self.core.proposer_or_staff(actor),
            },
            (Closed, Action::Reopen) | (Assigned | Consulting, Action::Reopen) if status == Closed || replied => {
                match &self.core.feedback {
                    Some(feedback) if feedback.rating == Rating::Unsatisfied => self.core.proposer_or_staff(actor),
                    _ => Err(Refusal::Rule(Rule::NotRatedUnsatisfied)),
                }
            }
            _ => Err(Refusal::Status),
        }
    }

    fn decide(&self, command: CaseCommand, policy: &Policy) -> Result<Vec<SuggestionEvent>, CaseError> {
        self.admit(&command)?;
        let CaseCommand {
            case_id,
            actor,
            at,
            input,
            ..
        } = command;
        let input = match input {
            CommandInput::Submit(submit) => {
                return Ok(vec![SuggestionEvent::Submitted(CaseCore::submitted(
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
            return Ok(vec![SuggestionEvent::Handled(event)]);
        }
        let event = match input {
            ActionInput::Relay(Note { note }) => SuggestionEvent::Relayed(Relayed {
                member: actor.id,
                note,
                at,
            }),
            ActionInput::Classify(input) => SuggestionEvent::Classified(Classified {
                category: input.category,
                previous: self.core.category.clone(),
                at,
            }),
            ActionInput::Assign(input) => SuggestionEvent::Assigned(CaseCore::assigned(Self::KIND, input, at, policy)),
            ActionInput::Reassign(input) => {
                SuggestionEvent::Reassigned(self.core.reassigned(Self::KIND, input, at, policy))
            }
            ActionInput::Escalate(input) => {
                SuggestionEvent::Escalated(self.core.escalated(Self::KIND, input, at, policy))
            }
            ActionInput::Consult(input) => SuggestionEvent::Consulted(CaseCore::consulted(input, at)),
            ActionInput::Adopt(input) => {
                refuse_kind_specific_adoption(&input, Self::KIND)?;
                SuggestionEvent::Adopted(CaseCore::adopted(input, at))
            }
            ActionInput::Decline(Reason { reason }) => SuggestionEvent::Declined(Declined { reason, at }),
            ActionInput::Close(input) => {
                if self.core.status == Some(Status::Declined) && input.outcome != Outcome::C {
                    return Err(CaseError::invalid(
                        "outcome",
                        "a declined suggestion closes with outcome C (cannot be solved for now)",
                    ));
                }
                SuggestionEvent::Closed(self.core.closed(input, at))
            }
            ActionInput::Feedback(input) | ActionInput::Evaluate(input) => {
                SuggestionEvent::FeedbackGiven(self.core.feedback(input, &actor, at)?)
            }
            ActionInput::Reopen(input) => SuggestionEvent::Reopened(CaseCore::reopened(Self::KIND, input, at, policy)),
            ActionInput::Withdraw(input) => {
                let by_proposer = self.core.submitter.as_ref() == Some(&actor);
                if !by_proposer && input.reason.is_none() {
                    return Err(CaseError::invalid(
                        "reason",
                        "staff withdrawing a proposer's suggestion must say why",
                    ));
                }
                SuggestionEvent::Withdrawn(Withdrawn {
                    reason: input.reason,
                    at,
                })
            }
            ActionInput::Merge(input) => {
                if input.into == case_id {
                    return Err(CaseError::invalid("into", "a case cannot be merged into itself"));
                }
                SuggestionEvent::Merged(Merged { into: input.into, at })
            }
            other => return Err(self.refusal_of(other.action(), &actor, at)),
        };
        Ok(vec![event])
    }
}

impl Aggregate for Suggestion {
    const TYPE: &'static str = "suggestion";
    type Command = CaseCommand;
    type Event = SuggestionEvent;
    type Error = CaseError;
    type Services = Policy;

    async fn handle(&mut self, command: CaseCommand, policy: &Policy, sink: &EventSink<Self>) -> Result<(), CaseError> {
        for event in self.decide(command, policy)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SuggestionEvent) {
        let core = &mut self.core;
        core.version += 1;
        match event {
            SuggestionEvent::Submitted(event) => core.on_submitted(event, Status::Submitted),
            SuggestionEvent::Relayed(event) => self.relayed_by.push(event.member),
            SuggestionEvent::Classified(event) => core.category = event.category,
            SuggestionEvent::Assigned(event) => core.on_assigned(event, Status::Assigned),
            SuggestionEvent::Reassigned(event) => core.on_reassigned(event),
            SuggestionEvent::Escalated(event) => {
                self.escalated = true;
                core.on_escalated(event);
            }
            SuggestionEvent::Consulted(event) => {
                core.on_consulted(event);
                core.status = Some(Status::Consulting);
            }
            SuggestionEvent::Adopted(event) => core.on_adopted(event),
            SuggestionEvent::Declined(event) => {
                core.status = Some(Status::Declined);
                self.declined = Some(event);
            }
            SuggestionEvent::Closed(event) => core.on_closed(event),
            SuggestionEvent::FeedbackGiven(event) => core.on_feedback(event),
            SuggestionEvent::Reopened(event) => {
                core.on_reopened(event);
                self.declined = None;
                // A fresh deadline may pass again and warrant a fresh escalation.
                self.escalated = false;
                self.reopened += 1;
            }
            SuggestionEvent::Withdrawn(event) => {
                core.record_lateness(event.at);
                core.status = Some(Status::Withdrawn);
            }
            SuggestionEvent::Handled(event) => core.on_handled(event),
            SuggestionEvent::Merged(event) => {
                core.record_lateness(event.at);
                core.status = Some(Status::Merged);
                self.merged_into = Some(event.into);
            }
        }
    }
}

#[cfg(test)]
mod tests;
