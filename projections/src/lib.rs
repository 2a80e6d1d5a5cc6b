//! lianxin's read models, fed by the ordered event log: what each keeps of an event, and the
//! figures computed from what it keeps. Pure like the domain: the service runs them over the
//! log, stores their rows next to a checkpoint in one transaction, and queries them.

mod assessment;
mod case_summary;
mod log;
mod member_record;
mod outcome_cells;
mod outcomes;

pub use assessment::*;
pub use case_summary::*;
pub use log::*;
pub use member_record::*;
pub use outcome_cells::*;
pub use outcomes::*;

/// The names projections' checkpoints are kept under (the service registers every projection
/// in `service::read::PROJECTIONS`).
pub const CASE_SUMMARIES: &str = "case_summaries";
pub const MEMBER_RECORDS: &str = "member_records";
