//! Settings the decisions depend on, handed to the aggregates as cqrs-es "services" so that
//! the rules stay pure: deadlines per kind, the windows of a handling unit and of the proposer,
//! the working-day calendar and the deployment's time zone.
//!
//! Every deadline the domain sets is computed here and recorded in its event, so that reading
//! a case back never needs the calendar that was in force when it was decided.

use std::sync::Arc;

use chrono::{Duration, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::calendar::{china_standard_time, end_of_local_day, WorkCalendar};
use crate::{Kind, Timestamp};

/// How a kind's response deadline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayCounting {
    /// Calendar days from the moment of assignment.
    #[default]
    CalendarDays,
    /// Working days after the day of assignment, to the end of the last one (local time).
    WorkingDays,
}

impl std::str::FromStr for DayCounting {
    type Err = crate::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "calendar_days" => Ok(DayCounting::CalendarDays),
            "working_days" => Ok(DayCounting::WorkingDays),
            other => Err(crate::UnknownName(other.to_owned())),
        }
    }
}

/// A number of days and how they are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub days: u32,
    pub counting: DayCounting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Days a department has to respond, per kind, when `assign` names no `due_at`.
    pub suggestion_response_days: u32,
    pub micro_consultation_response_days: u32,
    pub joint_research_response_days: u32,
    /// How each kind's response days are counted, in [`Kind::ALL`]'s order.
    pub response_counting: [DayCounting; 3],
    /// Working days the lead unit has to sign for a case (签收) after assignment.
    pub acknowledge_working_days: u32,
    /// Working days after assignment in which the lead unit may object (退回/异议).
    pub objection_working_days: u32,
    /// Working days the proposer has to evaluate a reply.
    pub evaluation_working_days: u32,
    pub calendar: Arc<WorkCalendar>,
    /// The deployment's time zone, for "the end of a day".
    pub offset: FixedOffset,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            suggestion_response_days: 15,
            micro_consultation_response_days: 30,
            joint_research_response_days: 180,
            response_counting: [DayCounting::CalendarDays; 3],
            acknowledge_working_days: 1,
            objection_working_days: 5,
            evaluation_working_days: 10,
            calendar: Arc::new(WorkCalendar::official()),
            offset: china_standard_time(),
        }
    }
}

impl Policy {
    /// The response period of `kind`.
    pub fn response_period(&self, kind: Kind) -> Period {
        let (days, index) = match kind {
            Kind::Suggestion => (self.suggestion_response_days, 0),
            Kind::MicroConsultation => (self.micro_consultation_response_days, 1),
            Kind::JointResearch => (self.joint_research_response_days, 2),
        };
        Period {
            days,
            counting: self.response_counting[index],
        }
    }

    pub fn response_deadline(&self, kind: Kind, from: Timestamp) -> Timestamp {
        self.deadline(self.response_period(kind), from)
    }

    /// The end of `period` started at `from`.
    pub fn deadline(&self, period: Period, from: Timestamp) -> Timestamp {
        match period.counting {
            DayCounting::CalendarDays => from + Duration::days(i64::from(period.days)),
            DayCounting::WorkingDays => {
                let start = from.with_timezone(&self.offset).date_naive();
                end_of_local_day(self.calendar.add_working_days(start, period.days), self.offset)
            }
        }
    }

    /// `due_at` moved on by `days` of `kind`'s counting. A working-day deadline ends at the
    /// start of the day after its last day, so the days are counted from that last day.
    pub fn extended_deadline(&self, kind: Kind, due_at: Timestamp, days: u32) -> Timestamp {
        let period = Period {
            days,
            ..self.response_period(kind)
        };
        match period.counting {
            DayCounting::CalendarDays => self.deadline(period, due_at),
            DayCounting::WorkingDays => self.deadline(period, due_at - Duration::milliseconds(1)),
        }
    }

    /// The end of `days` working days after `from`: the windows to sign, object and evaluate.
    pub fn working_days_after(&self, from: Timestamp, days: u32) -> Timestamp {
        self.deadline(
            Period {
                days,
                counting: DayCounting::WorkingDays,
            },
            from,
        )
    }
}
