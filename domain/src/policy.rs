//! Settings the decisions depend on, handed to the aggregates as cqrs-es "services" so that
//! the rules stay pure.

use chrono::Duration;

use crate::{Kind, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Days a department has to respond, per kind, when `assign` names no `due_at`.
    pub suggestion_response_days: u32,
    pub micro_consultation_response_days: u32,
    pub joint_research_response_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            suggestion_response_days: 15,
            micro_consultation_response_days: 30,
            joint_research_response_days: 180,
        }
    }
}

impl Policy {
    pub fn response_deadline(&self, kind: Kind, from: Timestamp) -> Timestamp {
        let days = match kind {
            Kind::Suggestion => self.suggestion_response_days,
            Kind::MicroConsultation => self.micro_consultation_response_days,
            Kind::JointResearch => self.joint_research_response_days,
        };
        from + Duration::days(i64::from(days))
    }
}
