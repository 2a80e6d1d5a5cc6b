//! A member's duty record 一人一档: the member's entry in the registry
//! ([`crate::member_registry`]), the contacts with constituents the member logs, the activities
//! staff record, and staff's decisions on the member's duty years. Cases record the rest of a
//! member's work (relays, reports, consultations); the duty-record projection counts both.
//!
//! A contact names its constituent by a pseudonymous key the member chooses (`constituent`,
//! e.g. "牧区-07"): the key lets the projection count distinct constituents, and a name never
//! needs to enter the log. A contact needs no registry entry (members logged contacts before
//! the registry existed); a registered member's contacts and recorded activities are dated
//! inside the term, from its first day to its last (its end, or the day the member left:
//! that day still counts). Registry commands and decisions are staff's (registry: staff or
//! admin).

use chrono::{Datelike, NaiveDate};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::member_registry::{year_closed, ChangeMember, Leave, RecordActivity, Register, YearDecision};
use crate::validate::{self, NAME_MAX, TEXT_MAX};
use crate::{Actor, Policy, Role, Timestamp, EVENT_VERSION};

/// A constituent contact, as logged.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogContact {
    pub date: NaiveDate,
    /// The constituent's pseudonymous key, chosen by the member: the same key for the same
    /// person, never the person's name.
    pub constituent: String,
    pub summary: String,
}

/// What a command on a member's record asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberInput {
    Register(Register),
    Change(ChangeMember),
    Leave(Leave),
    LogContact(LogContact),
    RecordActivity(RecordActivity),
    ReminderTalk(YearDecision),
    StartResignation(YearDecision),
    ReopenYear(YearDecision),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberCommand {
    pub member_id: String,
    pub actor: Actor,
    pub at: Timestamp,
    pub input: MemberInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactLogged {
    pub date: NaiveDate,
    pub constituent: String,
    pub summary: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRegistered {
    #[serde(flatten)]
    pub entry: Register,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberChanged {
    #[serde(flatten)]
    pub change: ChangeMember,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberLeft {
    pub on: NaiveDate,
    pub reason: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecorded {
    pub activity: String,
    pub date: NaiveDate,
    pub note: String,
    pub by: Actor,
    pub at: Timestamp,
}

/// A decision on one duty year, who took it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearDecided {
    pub year: i32,
    pub reason: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MemberEvent {
    ContactLogged(ContactLogged),
    MemberRegistered(MemberRegistered),
    MemberChanged(MemberChanged),
    MemberLeft(MemberLeft),
    ActivityRecorded(ActivityRecorded),
    /// 约谈提醒.
    ReminderTalkHeld(YearDecided),
    /// 启动请辞程序.
    ResignationStarted(YearDecided),
    YearReopened(YearDecided),
}

impl DomainEvent for MemberEvent {
    fn event_type(&self) -> String {
        match self {
            MemberEvent::ContactLogged(_) => "contact_logged",
            MemberEvent::MemberRegistered(_) => "member_registered",
            MemberEvent::MemberChanged(_) => "member_changed",
            MemberEvent::MemberLeft(_) => "member_left",
            MemberEvent::ActivityRecorded(_) => "activity_recorded",
            MemberEvent::ReminderTalkHeld(_) => "reminder_talk_held",
            MemberEvent::ResignationStarted(_) => "resignation_started",
            MemberEvent::YearReopened(_) => "year_reopened",
        }
        .to_owned()
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
    #[error("the member is already registered")]
    AlreadyRegistered,
    #[error("the member is not registered")]
    NotRegistered,
    #[error("the member has left")]
    Left,
    #[error("duty year {0} is closed: it was assessed; staff may re-open it with a reason")]
    YearClosed(i32),
    /// An entry dated before the member's term or after its last day (its end, or the day the
    /// member left).
    #[error("{date} lies outside the member's term, which runs from {first} to {last}")]
    OutsideTerm {
        date: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
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
    pub registered: bool,
    pub left: bool,
    /// The term on record: its first and last day (the day the member left, if earlier).
    pub term: Option<(NaiveDate, NaiveDate)>,
    /// Closed duty years staff re-opened.
    pub reopened: Vec<i32>,
}

/// The prefix of a member record's stream id: `member:<member id>`.
pub const STREAM_PREFIX: &str = "member:";

impl MemberRecord {
    /// The events a command leads to; "today" is the deployment's, not UTC's.
    pub fn decide(&self, command: MemberCommand, policy: &Policy) -> Result<Vec<MemberEvent>, MemberError> {
        let MemberCommand {
            member_id,
            actor,
            at,
            input,
        } = command;
        let today = at.with_timezone(&policy.offset).date_naive();
        let staff = actor.role == Role::Staff;
        let manages_registry = staff || actor.role == Role::Admin;
        let own = actor.role == Role::Member && actor.id == member_id;
        let event = match input {
            MemberInput::LogContact(input) => {
                if !own && !staff {
                    return Err(MemberError::Forbidden);
                }
                validate::line("constituent", &input.constituent, NAME_MAX)?;
                validate::text("summary", &input.summary, TEXT_MAX)?;
                self.dated_entry(input.date, today)?;
                MemberEvent::ContactLogged(ContactLogged {
                    date: input.date,
                    constituent: input.constituent,
                    summary: input.summary,
                    at,
                })
            }
            MemberInput::RecordActivity(input) if staff => {
                validate::line("activity", &input.activity, NAME_MAX)?;
                validate::text("note", &input.note, TEXT_MAX)?;
                self.dated_entry(input.date, today)?;
                MemberEvent::ActivityRecorded(ActivityRecorded {
                    activity: input.activity,
                    date: input.date,
                    note: input.note,
                    by: actor,
                    at,
                })
            }
            MemberInput::Register(entry) if manages_registry => {
                if self.registered {
                    return Err(MemberError::AlreadyRegistered);
                }
                entry.validate()?;
                MemberEvent::MemberRegistered(MemberRegistered { entry, by: actor, at })
            }
            MemberInput::Change(change) if manages_registry => {
                self.on_record()?;
                change.validate()?;
                MemberEvent::MemberChanged(MemberChanged { change, by: actor, at })
            }
            MemberInput::Leave(leave) if manages_registry => {
                self.on_record()?;
                validate::text("reason", &leave.reason, TEXT_MAX)?;
                MemberEvent::MemberLeft(MemberLeft {
                    on: leave.on,
                    reason: leave.reason,
                    by: actor,
                    at,
                })
            }
            MemberInput::ReminderTalk(decision) if staff => {
                decision.validate()?;
                MemberEvent::ReminderTalkHeld(decided(decision, actor, at))
            }
            MemberInput::StartResignation(decision) if staff => {
                decision.validate()?;
                MemberEvent::ResignationStarted(decided(decision, actor, at))
            }
            MemberInput::ReopenYear(decision) if staff => {
                decision.validate()?;
                if !year_closed(decision.year, today) {
                    return Err(MemberError::InvalidField {
                        field: "year",
                        reason: "the year is not closed".to_owned(),
                    });
                }
                MemberEvent::YearReopened(decided(decision, actor, at))
            }
            _ => return Err(MemberError::Forbidden),
        };
        Ok(vec![event])
    }

    /// An entry dated `date` is taken on `today`: not in the future, inside the term of a
    /// registered member, not in a closed year staff did not re-open.
    fn dated_entry(&self, date: NaiveDate, today: NaiveDate) -> Result<(), MemberError> {
        if date > today {
            return Err(MemberError::InvalidField {
                field: "date",
                reason: "a contact cannot be logged before it happens".to_owned(),
            });
        }
        if let Some((first, last)) = self.term.filter(|(first, last)| date < *first || date > *last) {
            return Err(MemberError::OutsideTerm { date, first, last });
        }
        if year_closed(date.year(), today) && !self.reopened.contains(&date.year()) {
            return Err(MemberError::YearClosed(date.year()));
        }
        Ok(())
    }

    fn on_record(&self) -> Result<(), MemberError> {
        match (self.registered, self.left) {
            (false, _) => Err(MemberError::NotRegistered),
            (true, true) => Err(MemberError::Left),
            (true, false) => Ok(()),
        }
    }
}

fn decided(decision: YearDecision, by: Actor, at: Timestamp) -> YearDecided {
    YearDecided {
        year: decision.year,
        reason: decision.reason,
        by,
        at,
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
            MemberEvent::MemberRegistered(registered) => {
                self.registered = true;
                self.term = Some((registered.entry.term_start, registered.entry.term_end));
            }
            MemberEvent::MemberLeft(left) => {
                self.left = true;
                // The day of leaving is the term's last day.
                if let Some((_, last)) = self.term.as_mut() {
                    *last = (*last).min(left.on);
                }
            }
            MemberEvent::YearReopened(reopened) => self.reopened.push(reopened.year),
            MemberEvent::MemberChanged(_)
            | MemberEvent::ActivityRecorded(_)
            | MemberEvent::ReminderTalkHeld(_)
            | MemberEvent::ResignationStarted(_) => {}
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
            input: MemberInput::LogContact(LogContact {
                date: date.parse().unwrap(),
                constituent: "牧区-07".to_owned(),
                summary: summary.to_owned(),
            }),
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
                constituent: "牧区-07".to_owned(),
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

    fn staff() -> Actor {
        Actor {
            id: "staff-1".to_owned(),
            role: Role::Staff,
        }
    }

    fn reopened(year: i32) -> MemberEvent {
        MemberEvent::YearReopened(YearDecided {
            year,
            reason: "补录".to_owned(),
            by: staff(),
            at: at(),
        })
    }

    #[test]
    fn a_contact_at_half_past_seven_beijing_time_is_of_beijings_today() {
        // 07:30 on 1 April in Beijing is 23:30 on 31 March in UTC.
        let early = MemberCommand {
            at: Utc.with_ymd_and_hms(2026, 3, 31, 23, 30, 0).unwrap(),
            ..command(member("m-1"), "2026-04-01", "早晨走访")
        };
        assert!(framework()
            .given_no_previous_events()
            .when(early)
            .inspect_result()
            .is_ok());
    }

    #[test]
    fn last_years_contact_after_its_assessment_is_refused_until_staff_reopen_the_year() {
        // `at()` is 10 March 2026: duty year 2025 was assessed on 31 January.
        framework()
            .given_no_previous_events()
            .when(command(member("m-1"), "2025-12-20", "补记走访"))
            .then_expect_error(MemberError::YearClosed(2025));
        let late_but_reopened = framework()
            .given(vec![reopened(2025)])
            .when(command(member("m-1"), "2025-12-20", "补记走访"))
            .inspect_result();
        assert!(late_but_reopened.is_ok());
        let before_assessment = MemberCommand {
            at: Utc.with_ymd_and_hms(2026, 1, 20, 2, 0, 0).unwrap(),
            ..command(member("m-1"), "2025-12-20", "补记走访")
        };
        assert!(framework()
            .given_no_previous_events()
            .when(before_assessment)
            .inspect_result()
            .is_ok());
    }

    fn registered(term_start: &str, term_end: &str) -> MemberEvent {
        MemberEvent::MemberRegistered(MemberRegistered {
            entry: Register {
                name: "张三".to_owned(),
                sector: "农牧界".to_owned(),
                level: crate::member_registry::MemberLevel::District,
                jurisdiction: Some("达拉特旗".to_owned()),
                term_start: term_start.parse().unwrap(),
                term_end: term_end.parse().unwrap(),
            },
            by: staff(),
            at: at(),
        })
    }

    fn left(on: &str) -> MemberEvent {
        MemberEvent::MemberLeft(MemberLeft {
            on: on.parse().unwrap(),
            reason: "工作调动".to_owned(),
            by: staff(),
            at: at(),
        })
    }

    fn outside(date: &str, first: &str, last: &str) -> MemberError {
        MemberError::OutsideTerm {
            date: date.parse().unwrap(),
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }

    #[test]
    fn a_contact_before_the_term_starts_is_refused() {
        // Given a member whose term starts on 1 March 2026,
        // when a contact of 28 February is logged, it is refused; one of 1 March is taken.
        framework()
            .given(vec![registered("2026-03-01", "2030-12-31")])
            .when(command(member("m-1"), "2026-02-28", "走访"))
            .then_expect_error(outside("2026-02-28", "2026-03-01", "2030-12-31"));
        let first_day = framework()
            .given(vec![registered("2026-03-01", "2030-12-31")])
            .when(command(member("m-1"), "2026-03-01", "走访"))
            .inspect_result();
        assert!(first_day.is_ok(), "{first_day:?}");
    }

    #[test]
    fn a_contact_after_the_term_ends_is_refused() {
        // `at()` is 10 March 2026: a term that ended on 28 February is over.
        framework()
            .given(vec![registered("2021-03-01", "2026-02-28")])
            .when(command(member("m-1"), "2026-03-02", "走访"))
            .then_expect_error(outside("2026-03-02", "2021-03-01", "2026-02-28"));
    }

    #[test]
    fn a_contact_after_the_member_left_is_refused_but_the_day_of_leaving_counts() {
        let given = || vec![registered("2023-01-01", "2027-12-31"), left("2026-03-05")];
        framework()
            .given(given())
            .when(command(member("m-1"), "2026-03-06", "走访"))
            .then_expect_error(outside("2026-03-06", "2023-01-01", "2026-03-05"));
        let last_day = framework()
            .given(given())
            .when(command(staff(), "2026-03-05", "离任前走访"))
            .inspect_result();
        assert!(last_day.is_ok(), "{last_day:?}");
    }

    #[test]
    fn an_activity_staff_record_outside_the_term_is_refused_too() {
        let training = MemberCommand {
            actor: staff(),
            input: MemberInput::RecordActivity(RecordActivity {
                activity: "training".to_owned(),
                date: "2025-12-01".parse().unwrap(),
                note: "委员履职培训".to_owned(),
            }),
            ..command(member("m-1"), "2026-03-01", "x")
        };
        framework()
            .given(vec![registered("2026-01-01", "2030-12-31")])
            .when(training)
            .then_expect_error(outside("2025-12-01", "2026-01-01", "2030-12-31"));
    }

    #[test]
    fn the_registry_is_staffs_and_a_member_registers_once() {
        let entry = Register {
            name: "张三".to_owned(),
            sector: "农牧界".to_owned(),
            level: crate::member_registry::MemberLevel::District,
            jurisdiction: Some("达拉特旗".to_owned()),
            term_start: "2025-07-01".parse().unwrap(),
            term_end: "2030-06-30".parse().unwrap(),
        };
        let register = |actor| MemberCommand {
            actor,
            input: MemberInput::Register(entry.clone()),
            ..command(member("m-1"), "2026-03-01", "x")
        };
        framework()
            .given_no_previous_events()
            .when(register(member("m-1")))
            .then_expect_error(MemberError::Forbidden);
        let registered = MemberEvent::MemberRegistered(MemberRegistered {
            entry: entry.clone(),
            by: staff(),
            at: at(),
        });
        framework()
            .given_no_previous_events()
            .when(register(staff()))
            .then_expect_events(vec![registered.clone()]);
        framework()
            .given(vec![registered])
            .when(register(staff()))
            .then_expect_error(MemberError::AlreadyRegistered);
    }
}
