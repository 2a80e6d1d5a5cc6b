//! The read side: projections that follow the log into view tables, their rebuild, and the
//! queries the API reads.

pub mod outcome_cells;
pub mod projector;
pub mod queries;
pub mod rebuild;
pub mod view_rows;
