//! Queries over the projections' tables, by what they read: the case lists ([`list_cases`]),
//! the overdue list ([`overdue_by_department`]), members' duty records and assessment
//! ([`member_record`], [`assessment`]) and the outcome figures ([`outcomes`], read from the
//! outcome cells; [`outcomes_in_jurisdiction`] for a reader limited to one), a handling unit's
//! queue and the units' scorecards ([`unit_queue`], [`scorecards`]). Read-only: the projections
//! own the writes.

mod cases;
mod cursor;
mod departments;
mod figures;
mod members;
mod overdue;

pub use crate::read::outcome_cells::outcomes;
pub use cases::{list_cases, CaseFilter};
pub use cursor::Cursor;
pub use departments::{scorecards, unit_queue, Bucket, Evaluations, Queue, QueueCase, Scorecard};
pub use figures::{outcomes_in_jurisdiction, Cohort};
pub use members::{
    archive, assessment, current_year, entries, member_record, Archive, Assessment, MemberEntry, MemberStanding,
};
pub use overdue::{overdue_by_department, OverdueByDepartment, OverdueCase, OverdueFilter};
