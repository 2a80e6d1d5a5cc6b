//! How a handling unit 承办单位 works a case, alike for every kind: the lead unit 主办 signs for
//! it 签收 or objects 退回/异议, asks for more time 申请延期, gathers the co-handling units' 协办
//! opinions and replies 答复; staff answer objections and extension requests.
//!
//! Deadlines that cannot be moved by accident: the first deadline (set by the first
//! assignment) is kept for ever; the effective deadline moves only by a new hand-over
//! (reassignment, escalation, reopening) or a granted extension, each recorded; and before any
//! of those replaces a deadline that has already passed, the lateness is recorded
//! (`late_since`), which no later event clears. A case is judged on time against its first
//! deadline, and beside it against its effective one.
//!
//! Each kind says when its unit is at work ([`Stage`]); the rules here decide the rest.

use serde::{Deserialize, Serialize};

use crate::{
    Action, ActionInput, Actor, CaseCore, Kind, Outcome, Policy, Refusal, Required, Role, Rule, Timestamp, Windows,
};

/// The level a case is handled at: the banner or district of its jurisdiction, or the city
/// after 市旗联动 escalation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlingLevel {
    /// The banner 旗 or district 区 the case was raised in.
    #[default]
    Local,
    City,
}

/// What a kind's status lets its handling unit do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The unit holds the case: it may sign, object, and ask for time.
    pub at_work: bool,
    /// The unit may send opinions and reply: the kind has reached the point where a unit acts.
    pub replying: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub department: String,
    /// Signed after the window to sign had ended.
    #[serde(default, skip_serializing_if = "crate::event::is_false")]
    pub late: bool,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objected {
    pub department: String,
    pub reason: String,
    pub at: Timestamp,
}

/// Staff keep the assignment the unit objected to; the unit signs within a fresh window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insisted {
    pub department: String,
    pub reason: String,
    #[serde(flatten)]
    pub windows: Windows,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionRequested {
    pub department: String,
    pub days: u32,
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionGranted {
    pub days: u32,
    pub previous_due_at: Timestamp,
    /// The new effective deadline. The first deadline does not move.
    pub due_at: Timestamp,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionRefused {
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributed {
    pub department: String,
    pub opinion: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replied {
    pub department: String,
    /// The answer to the proposer.
    pub text: String,
    /// The grade the unit proposes; staff close with the grade they decide.
    pub proposed_grade: Outcome,
    /// What was done, or is planned and by when; absent when the unit said nothing of it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub measures: String,
    /// Replied after the first deadline.
    #[serde(default, skip_serializing_if = "crate::event::is_false")]
    pub late: bool,
    /// Replied after the effective deadline (the first, or the extended one).
    #[serde(default, skip_serializing_if = "crate::event::is_false")]
    pub late_against_effective: bool,
    /// The end of the proposer's window to evaluate the reply.
    pub evaluate_by: Timestamp,
    pub at: Timestamp,
}

/// The events of the handling steps, stored under their own types in every kind's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HandlingEvent {
    Acknowledged(Acknowledged),
    Objected(Objected),
    Insisted(Insisted),
    ExtensionRequested(ExtensionRequested),
    ExtensionGranted(ExtensionGranted),
    ExtensionRefused(ExtensionRefused),
    Contributed(Contributed),
    Replied(Replied),
}

impl HandlingEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            HandlingEvent::Acknowledged(_) => "acknowledged",
            HandlingEvent::Objected(_) => "objected",
            HandlingEvent::Insisted(_) => "insisted",
            HandlingEvent::ExtensionRequested(_) => "extension_requested",
            HandlingEvent::ExtensionGranted(_) => "extension_granted",
            HandlingEvent::ExtensionRefused(_) => "extension_refused",
            HandlingEvent::Contributed(_) => "contributed",
            HandlingEvent::Replied(_) => "replied",
        }
    }
}

impl CaseCore {
    fn is_lead(&self, actor: &Actor) -> bool {
        actor.role == Role::Department && self.department.as_deref() == Some(actor.id.as_str())
    }

    /// The windows a unit handed the case at `at` is given.
    pub fn windows(policy: &Policy, at: Timestamp) -> Windows {
        Windows {
            acknowledge_by: Some(policy.working_days_after(at, policy.acknowledge_working_days)),
            object_by: Some(policy.working_days_after(at, policy.objection_working_days)),
        }
    }

    /// Whether a handling step may run now; `None` when `action` is not one of them.
    pub fn handling_precondition(
        &self,
        action: Action,
        actor: &Actor,
        at: Timestamp,
        stage: Stage,
    ) -> Option<Result<(), Refusal>> {
        let result = match action {
            Action::Acknowledge => self.unit_may(stage.at_work, actor).and_then(|()| {
                self.no_objection_pending()?;
                refuse_if(self.acknowledged.is_some(), Rule::AlreadyAcknowledged)
            }),
            Action::Object => self.unit_may(stage.at_work, actor).and_then(|()| {
                self.no_objection_pending()?;
                refuse_if(self.reply.is_some(), Rule::AlreadyReplied)?;
                let closed = self.windows.object_by.is_some_and(|end| at > end);
                refuse_if(closed, Rule::ObjectionWindowClosed)
            }),
            Action::Insist => {
                refuse_if(self.objection.is_none(), Rule::NoObjectionPending).and_then(|()| staff_only(actor))
            }
            Action::RequestExtension => self.unit_may(stage.at_work, actor).and_then(|()| {
                refuse_if(self.acknowledged.is_none(), Rule::NotAcknowledged)?;
                refuse_if(self.reply.is_some(), Rule::AlreadyReplied)?;
                refuse_if(self.extension_request.is_some(), Rule::ExtensionPending)?;
                refuse_if(self.due_at.is_some_and(|due| at >= due), Rule::PastDeadline)
            }),
            Action::GrantExtension | Action::RefuseExtension => {
                refuse_if(self.extension_request.is_none(), Rule::NoExtensionRequested).and_then(|()| staff_only(actor))
            }
            Action::Contribute => at_work(stage.replying).and_then(|()| {
                let co_unit = actor.role == Role::Department && self.co_departments.contains(&actor.id);
                if !co_unit {
                    return Err(Refusal::Forbidden(Required::CoDepartment));
                }
                refuse_if(self.reply.is_some(), Rule::AlreadyReplied)
            }),
            Action::Reply => self.unit_may(stage.replying, actor).and_then(|()| {
                refuse_if(self.reply.is_some(), Rule::AlreadyReplied)?;
                self.no_objection_pending()?;
                refuse_if(self.acknowledged.is_none(), Rule::NotAcknowledged)
            }),
            Action::Evaluate => match &self.reply {
                None => Err(Refusal::Rule(Rule::NotReplied)),
                Some(_) if self.feedback.is_some() => Err(Refusal::Rule(Rule::AlreadyRated)),
                Some(reply) if at > reply.evaluate_by => Err(Refusal::Rule(Rule::EvaluationWindowClosed)),
                Some(_) => self.proposer_or_staff(actor),
            },
            _ => return None,
        };
        Some(result)
    }

    /// The kind's status lets the unit act (`allowed`), and `actor` is the lead unit.
    fn unit_may(&self, allowed: bool, actor: &Actor) -> Result<(), Refusal> {
        at_work(allowed)?;
        if self.is_lead(actor) {
            Ok(())
        } else {
            Err(Refusal::Forbidden(Required::LeadDepartment))
        }
    }

    fn no_objection_pending(&self) -> Result<(), Refusal> {
        refuse_if(self.objection.is_some(), Rule::ObjectionPending)
    }

    /// The proposer, or staff acting for them.
    pub fn proposer_or_staff(&self, actor: &Actor) -> Result<(), Refusal> {
        if self.submitter.as_ref() == Some(actor) || actor.role == Role::Staff {
            Ok(())
        } else {
            Err(Refusal::Forbidden(Required::SubmitterOrStaff))
        }
    }

    /// The event of an admitted handling step; `None` when `input` is not one of them.
    pub fn handled(
        &self,
        kind: Kind,
        input: &ActionInput,
        actor: &Actor,
        at: Timestamp,
        policy: &Policy,
    ) -> Option<HandlingEvent> {
        let department = actor.id.clone();
        Some(match input {
            ActionInput::Acknowledge(_) => HandlingEvent::Acknowledged(Acknowledged {
                department,
                late: self.windows.acknowledge_by.is_some_and(|end| at > end),
                at,
            }),
            ActionInput::Object(input) => HandlingEvent::Objected(Objected {
                department,
                reason: input.reason.clone(),
                at,
            }),
            ActionInput::Insist(input) => HandlingEvent::Insisted(Insisted {
                department: self.department.clone().unwrap_or_default(),
                reason: input.reason.clone(),
                // The objection is answered: the window to object ends now.
                windows: Windows {
                    acknowledge_by: Some(policy.working_days_after(at, policy.acknowledge_working_days)),
                    object_by: Some(at),
                },
                at,
            }),
            ActionInput::RequestExtension(input) => HandlingEvent::ExtensionRequested(ExtensionRequested {
                department,
                days: input.days,
                reason: input.reason.clone(),
                at,
            }),
            ActionInput::GrantExtension(input) => {
                let requested = self.extension_request.as_ref().map_or(0, |request| request.days);
                let days = input.days.unwrap_or(requested);
                let previous_due_at = self.due_at.unwrap_or(at);
                HandlingEvent::ExtensionGranted(ExtensionGranted {
                    days,
                    previous_due_at,
                    due_at: policy.extended_deadline(kind, previous_due_at, days),
                    at,
                })
            }
            ActionInput::RefuseExtension(input) => HandlingEvent::ExtensionRefused(ExtensionRefused {
                reason: input.reason.clone(),
                at,
            }),
            ActionInput::Contribute(input) => HandlingEvent::Contributed(Contributed {
                department,
                opinion: input.opinion.clone(),
                at,
            }),
            ActionInput::Reply(input) => HandlingEvent::Replied(Replied {
                department,
                text: input.content.clone(),
                proposed_grade: input.proposed_outcome,
                measures: input.measures.clone().unwrap_or_default(),
                late: self.first_due_at.is_some_and(|due| at > due),
                late_against_effective: self.due_at.is_some_and(|due| at > due),
                evaluate_by: policy.working_days_after(at, policy.evaluation_working_days),
                at,
            }),
            _ => return None,
        })
    }

    pub fn on_handled(&mut self, event: HandlingEvent) {
        match event {
            HandlingEvent::Acknowledged(event) => self.acknowledged = Some(event),
            HandlingEvent::Objected(event) => self.objection = Some(event),
            HandlingEvent::Insisted(event) => {
                self.objection = None;
                self.acknowledged = None;
                self.windows = event.windows;
            }
            HandlingEvent::ExtensionRequested(event) => self.extension_request = Some(event),
            HandlingEvent::ExtensionGranted(event) => {
                // The unit asked in time: the deadline it asked before is not missed by the
                // time staff took to answer.
                let asked_at = self.extension_request.take().map_or(event.at, |request| request.at);
                self.record_lateness(asked_at);
                self.due_at = Some(event.due_at);
                self.extensions.push(event);
            }
            HandlingEvent::ExtensionRefused(_) => self.extension_request = None,
            HandlingEvent::Contributed(event) => self.contributions.push(event),
            HandlingEvent::Replied(event) => {
                self.record_lateness(event.at);
                self.extension_request = None;
                self.reply = Some(event);
            }
        }
    }

    /// The deadline missed as of `at`: the one on record, else the deadline in force if it
    /// had passed with the case open and unanswered.
    pub fn lateness_at(&self, at: Timestamp) -> Option<Timestamp> {
        let unanswered = self.reply.is_none() && self.status.is_some_and(crate::Status::is_open);
        self.late_since
            .or_else(|| self.due_at.filter(|due| unanswered && *due < at))
    }

    /// Puts on record a deadline missed by `at`: the first lateness is kept for ever.
    pub fn record_lateness(&mut self, at: Timestamp) {
        self.late_since = self.lateness_at(at);
    }

    /// Hands the case to a unit (a first assignment, a reassignment, an escalation or a
    /// reopening): what the previous unit did is left behind, the units are remembered.
    pub fn hand_over(&mut self, department: Option<String>, co_departments: Vec<String>, windows: Windows) {
        if let Some(department) = department {
            self.department = Some(department);
            self.co_departments = co_departments;
        }
        for unit in self.department.iter().chain(&self.co_departments) {
            if !self.handlers.contains(unit) {
                self.handlers.push(unit.clone());
            }
        }
        self.windows = windows;
        self.acknowledged = None;
        self.objection = None;
        self.extension_request = None;
        self.contributions.clear();
        self.reply = None;
    }
}

fn refuse_if(broken: bool, rule: Rule) -> Result<(), Refusal> {
    if broken {
        Err(Refusal::Rule(rule))
    } else {
        Ok(())
    }
}

/// The status lets the step run at all.
fn at_work(allowed: bool) -> Result<(), Refusal> {
    if allowed {
        Ok(())
    } else {
        Err(Refusal::Status)
    }
}

fn staff_only(actor: &Actor) -> Result<(), Refusal> {
    if actor.role == Role::Staff {
        Ok(())
    } else {
        Err(Refusal::Forbidden(Required::Role(Role::Staff)))
    }
}

#[cfg(test)]
mod tests;
