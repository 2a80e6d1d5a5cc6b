//! Why a command is refused. Typed and comparable, so tests assert the exact refusal and the
//! service maps each variant to one HTTP status in one place.

use std::fmt;

use crate::{Action, Role, Status};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("a case with this id already exists")]
    AlreadyExists,
    #[error("no case has this id")]
    NotFound,
    #[error("`{action}` is not allowed while the case is {status}")]
    NotAllowed {
        action: Action,
        status: Status,
        allowed: Vec<Action>,
    },
    #[error("`{action}` is refused while the case is {status}: {rule}")]
    RuleBroken {
        action: Action,
        status: Status,
        rule: Rule,
        allowed: Vec<Action>,
    },
    #[error("`{action}` may only be done by {required}")]
    Forbidden { action: Action, required: Required },
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the case is at version {actual}, not the expected {expected}")]
    VersionMismatch { expected: u64, actual: u64 },
}

impl CaseError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        CaseError::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// Who an action is reserved for, when the domain itself names someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    Role(Role),
    /// The person who submitted the case, or staff acting for them.
    SubmitterOrStaff,
    /// The case's lead unit 主办.
    LeadDepartment,
    /// One of the case's co-handling units 协办.
    CoDepartment,
}

impl fmt::Display for Required {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Required::Role(role) => write!(f, "a {role}"),
            Required::SubmitterOrStaff => f.write_str("the submitter or staff"),
            Required::LeadDepartment => f.write_str("the case's lead unit"),
            Required::CoDepartment => f.write_str("one of the case's co-handling units"),
        }
    }
}

/// A rule of the domain beyond "this status does not take this action".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// 准备不充分就不调研
    PreparationIncomplete,
    /// 调研不充分就不协商
    ResearchIncomplete,
    /// 协商不充分就不报告
    ConsultationNotHeld,
    /// Research cannot be complete without a single field visit.
    NoVisitRecorded,
    /// A micro-consultation agrees a solution only after a session is held.
    NoSessionHeld,
    /// Escalation is for cases past their response deadline.
    NotOverdue,
    AlreadyEscalated,
    AlreadyRated,
    /// Only an unsatisfied rating reopens a case.
    NotRatedUnsatisfied,
    AlreadyRelayedByMember,
    AlreadyAcknowledged,
    /// A unit replies, or asks for time, only once it has signed for the case.
    NotAcknowledged,
    /// The unit objected; staff reassign or insist first.
    ObjectionPending,
    NoObjectionPending,
    /// The window to object (after assignment) has ended.
    ObjectionWindowClosed,
    ExtensionPending,
    NoExtensionRequested,
    /// An extension is asked for before the deadline, not after.
    PastDeadline,
    AlreadyReplied,
    NotReplied,
    /// The proposer's window to evaluate the reply has ended.
    EvaluationWindowClosed,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::PreparationIncomplete => "no field research before preparation is complete (准备不充分就不调研)",
            Rule::ResearchIncomplete => "no consultation before research is complete (调研不充分就不协商)",
            Rule::ConsultationNotHeld => "no report before a consultation is held (协商不充分就不报告)",
            Rule::NoVisitRecorded => "research cannot be completed before a field visit is recorded",
            Rule::NoSessionHeld => "a solution is agreed only after a consultation session is held",
            Rule::NotOverdue => "only a case past its response deadline can be escalated",
            Rule::AlreadyEscalated => "the case has already been escalated",
            Rule::AlreadyRated => "the answer has already been rated",
            Rule::NotRatedUnsatisfied => "only an answer rated unsatisfied reopens the case",
            Rule::AlreadyRelayedByMember => "this member has already relayed the case",
            Rule::AlreadyAcknowledged => "the unit has already signed for the case",
            Rule::NotAcknowledged => "the unit has not signed for the case yet (签收)",
            Rule::ObjectionPending => "the unit objected to the assignment; staff reassign or insist first",
            Rule::NoObjectionPending => "no objection is waiting for an answer",
            Rule::ObjectionWindowClosed => "the window to object to the assignment has ended",
            Rule::ExtensionPending => "an extension request is waiting for an answer",
            Rule::NoExtensionRequested => "no extension request is waiting for an answer",
            Rule::PastDeadline => "an extension is asked for before the deadline, and it has passed",
            Rule::AlreadyReplied => "the lead unit has already replied",
            Rule::NotReplied => "the lead unit has not replied yet",
            Rule::EvaluationWindowClosed => "the window to evaluate the reply has ended",
        })
    }
}

/// Why a precondition fails, before it is dressed with the action, status and alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The status does not take the action at all.
    Status,
    Rule(Rule),
    Forbidden(Required),
}

impl Refusal {
    pub fn into_error(self, action: Action, status: Status, allowed: Vec<Action>) -> CaseError {
        match self {
            Refusal::Status => CaseError::NotAllowed {
                action,
                status,
                allowed,
            },
            Refusal::Rule(rule) => CaseError::RuleBroken {
                action,
                status,
                rule,
                allowed,
            },
            Refusal::Forbidden(required) => CaseError::Forbidden { action, required },
        }
    }
}
