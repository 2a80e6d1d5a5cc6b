//! Every projection, registered once: names, lease keys, tables, live batches, rebuild and dump
//! all follow from this array. Adding a projection is a file implementing
//! [`Projection`] and a line here.

use crate::read::case_summaries::CaseSummaries;
use crate::read::error::ProjectorError;
use crate::read::member_records::MemberRecords;
use crate::read::projection::Projection;

/// Every projection. The order is that of their advisory-lock keys (`lease_key`): append, do
/// not reorder.
pub const PROJECTIONS: [&dyn Projection; 2] = [&CaseSummaries, &MemberRecords];

/// Every projection's name.
pub fn names() -> [&'static str; PROJECTIONS.len()] {
    PROJECTIONS.map(|projection| projection.name())
}

/// The projection named `name`.
pub fn named(name: &str) -> Result<&'static dyn Projection, ProjectorError> {
    PROJECTIONS
        .into_iter()
        .find(|projection| projection.name() == name)
        .ok_or_else(|| ProjectorError::UnknownProjection(name.to_owned()))
}

/// The PostgreSQL advisory-lock key of a projection's runner.
pub fn lease_key(projection: &dyn Projection) -> i64 {
    let index = PROJECTIONS
        .iter()
        .position(|known| known.name() == projection.name())
        .unwrap_or_default();
    0x6c78_0000 + index as i64
}
