//! Joint research topic 联合调研: a multi-sector study led by a member, gated by the rule
//! 准备不充分就不调研、调研不充分就不协商、协商不充分就不报告 — no field research before
//! preparation is complete, no consultation before research is complete, no report before a
//! consultation is held. Then recommendations are adopted, policies recorded, the topic closed.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::case::refuse_kind_specific_adoption;
use crate::{
    Action, ActionInput, Actor, Adopt, Adopted, Assigned, Case, CaseCommand, CaseCore, CaseError, Closed, CommandInput,
    Consulted, Extent, FeedbackGiven, HandlingEvent, Kind, Note, Outcome, PhaseCompleted, Policy, PolicyRecorded,
    Refusal, ReportSubmitted, Rule, Stage, Status, Submitted, Timestamp, VisitRecorded, EVENT_VERSION,
};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct JointResearch {
    pub core: CaseCore,
    pub lead_member: Option<String>,
    pub team: Vec<String>,
    pub preparation: Option<PhaseCompleted>,
    pub visits: Vec<VisitRecorded>,
    pub research: Option<PhaseCompleted>,
    pub report: Option<ReportSubmitted>,
    pub policies: Vec<PolicyRecorded>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JointResearchEvent {
    Submitted(Submitted),
    /// The lead unit takes the topic on; preparation begins.
    Assigned(Assigned),
    PreparationCompleted(PhaseCompleted),
    VisitRecorded(VisitRecorded),
    ResearchCompleted(PhaseCompleted),
    Consulted(Consulted),
    ReportSubmitted(ReportSubmitted),
    Adopted(Adopted),
    PolicyRecorded(PolicyRecorded),
    Closed(Closed),
    /// The proposer's evaluation of the unit's reply.
    FeedbackGiven(FeedbackGiven),
    /// The handling unit's steps, stored under their own event types.
    #[serde(untagged)]
    Handled(HandlingEvent),
}

impl DomainEvent for JointResearchEvent {
    fn event_type(&self) -> String {
        match self {
            JointResearchEvent::Submitted(_) => "submitted",
            JointResearchEvent::Assigned(_) => "assigned",
            JointResearchEvent::PreparationCompleted(_) => "preparation_completed",
            JointResearchEvent::VisitRecorded(_) => "visit_recorded",
            JointResearchEvent::ResearchCompleted(_) => "research_completed",
            JointResearchEvent::Consulted(_) => "consulted",
            JointResearchEvent::ReportSubmitted(_) => "report_submitted",
            JointResearchEvent::Adopted(_) => "adopted",
            JointResearchEvent::PolicyRecorded(_) => "policy_recorded",
            JointResearchEvent::Closed(_) => "closed",
            JointResearchEvent::FeedbackGiven(_) => "feedback_given",
            JointResearchEvent::Handled(event) => event.event_type(),
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

impl JointResearch {
    /// The report's recommendations an adoption takes: all of them for a full adoption that
    /// names none, else exactly those named, each once and in range.
    fn adopted_recommendations(&self, input: &Adopt) -> Result<Vec<usize>, CaseError> {
        let total = self.report.as_ref().map_or(0, |report| report.recommendations.len());
        let mut chosen = input.recommendations.clone();
        if chosen.is_empty() {
            return match input.extent {
                Extent::Full => Ok((0..total).collect()),
                Extent::Partial => Err(CaseError::invalid(
                    "recommendations",
                    "a partial adoption names the recommendations adopted",
                )),
            };
        }
        chosen.sort_unstable();
        chosen.dedup();
        if chosen.len() != input.recommendations.len() {
            return Err(CaseError::invalid(
                "recommendations",
                "each recommendation is named once",
            ));
        }
        if let Some(out_of_range) = chosen.iter().find(|index| **index >= total) {
            return Err(CaseError::invalid(
                "recommendations",
                format!("the report has no recommendation {out_of_range}; it has {total} (numbered from 0)"),
            ));
        }
        match (input.extent, chosen.len() == total) {
            (Extent::Full, false) => Err(CaseError::invalid(
                "extent",
                "a full adoption takes every recommendation",
            )),
            (Extent::Partial, true) => Err(CaseError::invalid(
                "extent",
                "adopting every recommendation is a full adoption",
            )),
            _ => Ok(chosen),
        }
    }
}

impl Case for JointResearch {
    const KIND: Kind = Kind::JointResearch;

    fn core(&self) -> &CaseCore {
        &self.core
    }

    fn carriers(&self) -> Vec<String> {
        let mut carriers = self.core.reporting_member();
        for member in self.lead_member.iter().chain(&self.team) {
            if !carriers.contains(member) {
                carriers.push(member.clone());
            }
        }
        carriers
    }

    fn precondition(&self, action: Action, actor: &Actor, at: Timestamp) -> Result<(), Refusal> {
        use Status::{Adopted, Consulting, Preparing, Reporting, Researching, Submitted};
        let status = self.core.status.ok_or(Refusal::Status)?;
        // The lead unit holds the topic from its assignment, and replies on the
        // recommendations adopted.
        let stage = Stage {
            at_work: self.core.department.is_some() && status.is_open(),
            replying: self.core.department.is_some() && status == Adopted,
        };
        if let Some(result) = self.core.handling_precondition(action, actor, at, stage) {
            return result;
        }
        match (status, action) {
            (Submitted, Action::Assign)
            | (Preparing, Action::CompletePreparation)
            | (Researching, Action::RecordVisit)
            | (Consulting, Action::Consult)
            | (Reporting, Action::Adopt)
            | (Adopted, Action::RecordPolicy | Action::Close) => Ok(()),
            (Preparing, Action::RecordVisit | Action::CompleteResearch | Action::Consult | Action::SubmitReport) => {
                Err(Refusal::Rule(Rule::PreparationIncomplete))
            }
            (Researching, Action::CompleteResearch) if self.visits.is_empty() => {
                Err(Refusal::Rule(Rule::NoVisitRecorded))
            }
            (Researching, Action::CompleteResearch) => Ok(()),
            (Researching, Action::Consult | Action::SubmitReport) => Err(Refusal::Rule(Rule::ResearchIncomplete)),
            (Consulting, Action::SubmitReport) if self.core.consultations == 0 => {
                Err(Refusal::Rule(Rule::ConsultationNotHeld))
            }
            (Consulting, Action::SubmitReport) => Ok(()),
            // A report nobody adopts still ends: closed as outcome C.
            (Reporting, Action::Close) => Ok(()),
            _ => Err(Refusal::Status),
        }
    }

    fn decide(&self, command: CaseCommand, policy: &Policy) -> Result<Vec<JointResearchEvent>, CaseError> {
        self.admit(&command)?;
        let CaseCommand { actor, at, input, .. } = command;
        let input = match input {
            CommandInput::Submit(submit) => {
                return Ok(vec![JointResearchEvent::Submitted(CaseCore::submitted(
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
            return Ok(vec![JointResearchEvent::Handled(event)]);
        }
        let event = match input {
            ActionInput::Assign(input) => {
                JointResearchEvent::Assigned(CaseCore::assigned(Self::KIND, input, at, policy))
            }
            ActionInput::CompletePreparation(Note { note }) => {
                JointResearchEvent::PreparationCompleted(PhaseCompleted { note, at })
            }
            ActionInput::RecordVisit(input) => JointResearchEvent::VisitRecorded(VisitRecorded {
                place: input.place,
                findings: input.findings,
                at,
            }),
            ActionInput::CompleteResearch(Note { note }) => {
                JointResearchEvent::ResearchCompleted(PhaseCompleted { note, at })
            }
            ActionInput::Consult(input) => JointResearchEvent::Consulted(CaseCore::consulted(input, at)),
            ActionInput::SubmitReport(input) => JointResearchEvent::ReportSubmitted(ReportSubmitted {
                title: input.title,
                recommendations: input.recommendations,
                at,
            }),
            ActionInput::Adopt(mut input) => {
                refuse_kind_specific_adoption(&input, Self::KIND)?;
                input.recommendations = self.adopted_recommendations(&input)?;
                JointResearchEvent::Adopted(CaseCore::adopted(input, at))
            }
            ActionInput::RecordPolicy(input) => JointResearchEvent::PolicyRecorded(PolicyRecorded {
                title: input.title,
                by: input.by,
                note: input.note,
                at,
            }),
            ActionInput::Close(input) => {
                if self.core.status == Some(Status::Reporting) && input.outcome != Outcome::C {
                    return Err(CaseError::invalid(
                        "outcome",
                        "a topic whose report was not adopted closes with outcome C",
                    ));
                }
                JointResearchEvent::Closed(self.core.closed(input, at))
            }
            ActionInput::Evaluate(input) => JointResearchEvent::FeedbackGiven(self.core.feedback(input, &actor, at)?),
            other => return Err(self.refusal_of(other.action(), &actor, at)),
        };
        Ok(vec![event])
    }
}

impl Aggregate for JointResearch {
    const TYPE: &'static str = "joint_research";
    type Command = CaseCommand;
    type Event = JointResearchEvent;
    type Error = CaseError;
    type Services = Policy;

    async fn handle(&mut self, command: CaseCommand, policy: &Policy, sink: &EventSink<Self>) -> Result<(), CaseError> {
        for event in self.decide(command, policy)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: JointResearchEvent) {
        let core = &mut self.core;
        core.version += 1;
        match event {
            JointResearchEvent::Submitted(event) => {
                self.lead_member.clone_from(&event.lead_member);
                self.team.clone_from(&event.team);
                core.on_submitted(event, Status::Submitted);
            }
            JointResearchEvent::Assigned(event) => core.on_assigned(event, Status::Preparing),
            JointResearchEvent::PreparationCompleted(event) => {
                core.status = Some(Status::Researching);
                self.preparation = Some(event);
            }
            JointResearchEvent::VisitRecorded(event) => self.visits.push(event),
            JointResearchEvent::ResearchCompleted(event) => {
                core.status = Some(Status::Consulting);
                self.research = Some(event);
            }
            JointResearchEvent::Consulted(event) => core.on_consulted(event),
            JointResearchEvent::ReportSubmitted(event) => {
                core.status = Some(Status::Reporting);
                self.report = Some(event);
            }
            JointResearchEvent::Adopted(event) => core.on_adopted(event),
            JointResearchEvent::PolicyRecorded(event) => self.policies.push(event),
            JointResearchEvent::Closed(event) => core.on_closed(event),
            JointResearchEvent::Handled(event) => core.on_handled(event),
            JointResearchEvent::FeedbackGiven(event) => core.on_feedback(event),
        }
    }
}

#[cfg(test)]
mod tests;
