//! A published report 年度/季度/月度通报: the figures of a period frozen as they were computed,
//! with the log position they were computed at and the version each case of the period stood at.
//! One stream per report (`report:<id>`), holding one `published` event: nothing later in the
//! log changes it, so a report published once answers the same bytes forever, whatever is
//! reopened or rebuilt afterwards. The figures are kept as the JSON they were answered as, not
//! as a type of this release, so that a later change to how figures are computed never
//! rewrites what was published.

use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Actor, Policy, Role, Timestamp, EVENT_VERSION};

/// The prefix of a report's stream id: `report:<report id>`.
pub const STREAM_PREFIX: &str = "report:";

/// What staff publish.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// `YYYY`, `YYYY-Qn` or `YYYY-MM`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^(20[0-9]{2}|21[0-9]{2}|2200)(-Q[1-4]|-(0[1-9]|1[0-2]))?$")
    )]
    pub period: String,
}

/// A period a report covers: a year, a quarter or a month, in the deployment's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    pub first_day: NaiveDate,
    pub months: u32,
}

impl ReportPeriod {
    /// `YYYY`, `YYYY-Qn` or `YYYY-MM`; `None` for anything else.
    pub fn parse(text: &str) -> Option<ReportPeriod> {
        let (year, rest) = match text.split_once('-') {
            Some((year, rest)) => (year, Some(rest)),
            None => (text, None),
        };
        if year.len() != 4 {
            return None;
        }
        // The years a CPPCC office reports on, as `year` is bounded everywhere in the API.
        let year: i32 = year.parse().ok().filter(|year| (2000..=2200).contains(year))?;
        let (month, months) = match rest {
            None => (1, 12),
            Some(quarter) if quarter.starts_with('Q') => {
                let quarter: u32 = quarter[1..].parse().ok().filter(|quarter| (1..=4).contains(quarter))?;
                (quarter * 3 - 2, 3)
            }
            Some(month) if month.len() == 2 => (month.parse().ok()?, 1),
            Some(_) => return None,
        };
        Some(ReportPeriod {
            first_day: NaiveDate::from_ymd_opt(year, month, 1)?,
            months,
        })
    }

    /// The period `[from, to)`: its first and the next period's first moment, in `offset`.
    pub fn bounds(self, offset: FixedOffset) -> (Timestamp, Timestamp) {
        let start = |day: NaiveDate| {
            offset
                .from_local_datetime(&day.and_time(NaiveTime::MIN))
                .single()
                .expect("a fixed offset maps every local time once")
                .to_utc()
        };
        let next = self.first_day + Months::new(self.months);
        (start(self.first_day), start(next))
    }

    /// Whether the period has ended at `at`, in `offset`.
    pub fn has_ended(self, at: Timestamp, offset: FixedOffset) -> bool {
        self.bounds(offset).1 <= at
    }

    /// The year the period lies in.
    pub fn year(self) -> i32 {
        self.first_day.year()
    }
}

/// A case of the period, as the report counted it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedCase {
    pub id: String,
    /// The number of the case's events counted.
    pub version: u64,
}

/// What publishing computed, handed in with the command: the domain keeps it as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub from: Timestamp,
    pub to: Timestamp,
    /// The log position the figures were computed at: every event at or before it counted.
    pub position: i64,
    pub figures: Value,
    pub cases: Vec<CountedCase>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportCommand {
    pub actor: Actor,
    pub at: Timestamp,
    pub period: String,
    pub computed: Computed,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub position: i64,
    /// The figures as answered at publishing (docs/figures.md), kept as JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub figures: Value,
    pub cases: Vec<CountedCase>,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReportEvent {
    Published(Published),
}

impl DomainEvent for ReportEvent {
    fn event_type(&self) -> String {
        match self {
            ReportEvent::Published(_) => "published".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("only staff publish reports")]
    Forbidden,
    #[error("invalid `period`: {0}")]
    InvalidPeriod(&'static str),
    #[error("this report is already published; publish another")]
    AlreadyPublished,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u64,
}

impl Report {
    /// The event publishing leads to: staff only, a period that has ended, once per report.
    pub fn decide(&self, command: ReportCommand, policy: &Policy) -> Result<Vec<ReportEvent>, ReportError> {
        if command.actor.role != Role::Staff {
            return Err(ReportError::Forbidden);
        }
        let period =
            ReportPeriod::parse(&command.period).ok_or(ReportError::InvalidPeriod("YYYY, YYYY-Qn or YYYY-MM"))?;
        if !period.has_ended(command.at, policy.offset) {
            return Err(ReportError::InvalidPeriod("a report covers a period that has ended"));
        }
        if self.version > 0 {
            return Err(ReportError::AlreadyPublished);
        }
        let Computed {
            from,
            to,
            position,
            figures,
            cases,
        } = command.computed;
        Ok(vec![ReportEvent::Published(Published {
            period: command.period,
            from,
            to,
            position,
            figures,
            cases,
            by: command.actor.id,
            at: command.at,
        })])
    }
}

impl Aggregate for Report {
    const TYPE: &'static str = "report";
    type Command = ReportCommand;
    type Event = ReportEvent;
    type Error = ReportError;
    type Services = Policy;

    async fn handle(
        &mut self,
        command: ReportCommand,
        policy: &Policy,
        sink: &EventSink<Self>,
    ) -> Result<(), ReportError> {
        for event in self.decide(command, policy)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, _event: ReportEvent) {
        self.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::china_standard_time;

    fn command(role: Role, period: &str) -> ReportCommand {
        ReportCommand {
            actor: Actor {
                id: "staff-1".to_owned(),
                role,
            },
            at: Utc.with_ymd_and_hms(2027, 1, 5, 1, 0, 0).unwrap(),
            period: period.to_owned(),
            computed: Computed {
                from: Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap(),
                to: Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap(),
                position: 42,
                figures: serde_json::json!({"voices": 3}),
                cases: Vec::new(),
            },
        }
    }

    #[test]
    fn periods_are_years_quarters_and_months_of_the_deployments_days() {
        let bounds = |text: &str| ReportPeriod::parse(text).map(|period| period.bounds(china_standard_time()));
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 16, 0, 0).unwrap();
        assert_eq!(bounds("2026"), Some((at(2025, 12, 31), at(2026, 12, 31))));
        assert_eq!(bounds("2026-Q2"), Some((at(2026, 3, 31), at(2026, 6, 30))));
        assert_eq!(bounds("2026-02"), Some((at(2026, 1, 31), at(2026, 2, 28))));
        for wrong in ["26", "2026-Q5", "2026-13", "2026-1", "2026-W1", ""] {
            assert_eq!(bounds(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn staff_publish_an_ended_period_once() {
        let framework = || TestFramework::<Report>::with(Policy::default());
        let published = framework()
            .given_no_previous_events()
            .when(command(Role::Staff, "2026"))
            .inspect_result()
            .unwrap();
        framework()
            .given(published)
            .when(command(Role::Staff, "2026"))
            .then_expect_error(ReportError::AlreadyPublished);
        framework()
            .given_no_previous_events()
            .when(command(Role::Member, "2026"))
            .then_expect_error(ReportError::Forbidden);
        framework()
            .given_no_previous_events()
            .when(command(Role::Staff, "2027"))
            .then_expect_error(ReportError::InvalidPeriod("a report covers a period that has ended"));
    }
}
