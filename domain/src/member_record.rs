//! A member's duty record 一人一档: the contacts with constituents a member logs. Cases record
//! the rest of a member's work (relays, reports, consultations); the duty-record projection
//! counts both.

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::validate::{self, NAME_MAX, TEXT_MAX};
use crate::{Actor, Policy, Role, Timestamp, EVENT_VERSION};

/// A constituent contact, as logged.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogContact {
    pub date: NaiveDate,
    pub constituent: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberCommand {
    pub member_id: String,
    pub actor: Actor,
    pub at: Timestamp,
    pub input: LogContact,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactLogged {
    pub date: NaiveDate,
    pub constituent: String,
    pub summary: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MemberEvent {
    ContactLogged(ContactLogged),
}

impl DomainEvent for MemberEvent {
    fn event_type(&self) -> String {
        match self {
            MemberEvent::ContactLogged(_) => "contact_logged".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    #[error("only the member or staff may log the member's contacts")]
    Forbidden,
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl From<crate::CaseError> for MemberError {
    fn from(error: crate::CaseError) -> Self {
        match error {
            crate::CaseError::InvalidField { field, reason } => MemberError::InvalidField { field, reason },
            _ => MemberError::Forbidden,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub version: u64,
    pub contacts: u64,
}

/// The prefix of a member record's stream id: `member:<member id>`.
pub const STREAM_PREFIX: &str = "member:";

impl MemberRecord {
    /// The events a contact leads to; "today" is the deployment's, not UTC's.
    pub fn decide(&self, command: MemberCommand, policy: &Policy) -> Result<Vec<MemberEvent>, MemberError> {
        let MemberCommand {
            member_id,
            actor,
            at,
            input,
        } = command;
        let own = actor.role == Role::Member && actor.id == member_id;
        if !own && actor.role != Role::Staff {
            return Err(MemberError::Forbidden);
        }
        validate::line("constituent", &input.constituent, NAME_MAX)?;
        validate::text("summary", &input.summary, TEXT_MAX)?;
        if input.date > at.with_timezone(&policy.offset).date_naive() {
            return Err(MemberError::InvalidField {
                field: "date",
                reason: "a contact cannot be logged before it happens".to_owned(),
            });
        }
        Ok(vec![MemberEvent::ContactLogged(ContactLogged {
            date: input.date,
            constituent: input.constituent,
            summary: input.summary,
            at,
        })])
    }
}

impl Aggregate for MemberRecord {
    const TYPE: &'static str = "member_record";
    type Command = MemberCommand;
    type Event = MemberEvent;
    type Error = MemberError;
    type Services = Policy;

    async fn handle(
        &mut self,
        command: MemberCommand,
        policy: &Policy,
        sink: &EventSink<Self>,
    ) -> Result<(), MemberError> {
        for event in self.decide(command, policy)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: MemberEvent) {
        self.version += 1;
        match event {
            MemberEvent::ContactLogged(_) => self.contacts += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;

    fn at() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
    }

    fn command(actor: Actor, date: &str, summary: &str) -> MemberCommand {
        MemberCommand {
            member_id: "m-1".to_owned(),
            actor,
            at: at(),
            input: LogContact {
                date: date.parse().unwrap(),
                constituent: "牧民巴特尔".to_owned(),
                summary: summary.to_owned(),
            },
        }
    }

    fn member(id: &str) -> Actor {
        Actor {
            id: id.to_owned(),
            role: Role::Member,
        }
    }

    fn framework() -> TestFramework<MemberRecord> {
        TestFramework::with(Policy::default())
    }

    #[test]
    fn a_member_logs_a_contact_of_today_or_earlier() {
        framework()
            .given_no_previous_events()
            .when(command(member("m-1"), "2026-03-10", "反映草场补贴发放慢"))
            .then_expect_events(vec![MemberEvent::ContactLogged(ContactLogged {
                date: "2026-03-10".parse().unwrap(),
                constituent: "牧民巴特尔".to_owned(),
                summary: "反映草场补贴发放慢".to_owned(),
                at: at(),
            })]);
    }

    #[test]
    fn staff_may_log_for_a_member_but_another_member_may_not() {
        let staff = Actor {
            id: "staff-1".to_owned(),
            role: Role::Staff,
        };
        let logged = framework()
            .given_no_previous_events()
            .when(command(staff, "2026-03-01", "走访"))
            .inspect_result();
        assert!(logged.is_ok());
        framework()
            .given_no_previous_events()
            .when(command(member("m-2"), "2026-03-01", "走访"))
            .then_expect_error(MemberError::Forbidden);
    }

    #[test]
    fn today_is_the_deployments_day_not_utcs() {
        // 07:00 on 11 March in Beijing is still 10 March in UTC.
        let early_morning = MemberCommand {
            at: Utc.with_ymd_and_hms(2026, 3, 10, 23, 0, 0).unwrap(),
            ..command(member("m-1"), "2026-03-11", "清晨走访")
        };
        let logged = framework()
            .given_no_previous_events()
            .when(early_morning)
            .inspect_result();
        assert!(logged.is_ok(), "{logged:?}");
    }

    #[test]
    fn a_future_contact_or_an_empty_summary_is_refused() {
        framework()
            .given_no_previous_events()
            .when(command(member("m-1"), "2026-03-11", "走访"))
            .then_expect_error(MemberError::InvalidField {
                field: "date",
                reason: "a contact cannot be logged before it happens".to_owned(),
            });
        framework()
            .given_no_previous_events()
            .when(command(member("m-1"), "2026-03-01", " "))
            .then_expect_error(MemberError::InvalidField {
                field: "summary",
                reason: "must not be empty".to_owned(),
            });
    }
}
