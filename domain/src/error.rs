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
}

impl fmt::Display for Required {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Required::Role(role) => write!(f, "a {role}"),
            Required::SubmitterOrStaff => f.write_str("the submitter or staff"),
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
