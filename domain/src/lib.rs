//! The case aggregates of lianxin: what may happen to a citizen's suggestion, a members'
//! micro-consultation or a joint-research topic, and what that leaves behind as events.
//!
//! Pure by design: no I/O, no clock, no randomness. Time, ids and the acting person arrive in
//! each [`CaseCommand`], so every rule can be checked with cqrs-es's given/when/then framework.
//! The working-day calendar and the deployment's time zone arrive in the [`Policy`] (the
//! aggregates' cqrs-es services); the official calendars are compiled-in data, not a file read.
//! How handling units work a case, and why its deadlines cannot be moved by accident, is in
//! [`handling`]; how old stored events are read, in [`upcast`].

mod action;
mod any_case;
mod calendar;
mod case;
mod error;
mod event;
pub mod handling;
pub mod joint_research;
pub mod member_record;
pub mod member_registry;
pub mod micro_consultation;
mod policy;
pub mod report;
pub mod suggestion;
#[cfg(test)]
mod test_support;
pub mod upcast;
pub mod validate;

pub use action::*;
pub use any_case::*;
pub use calendar::*;
pub use case::*;
pub use error::*;
pub use event::*;
pub use handling::*;
pub use joint_research::JointResearch;
pub use member_record::MemberRecord;
pub use micro_consultation::MicroConsultation;
pub use policy::*;
pub use suggestion::Suggestion;
