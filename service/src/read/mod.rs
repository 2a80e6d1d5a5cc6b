//! The read side: projections that follow the log into view tables, their rebuild, and the
//! queries the API reads.
//!
//! Modules, each depending only on those listed before it:
//!
//! - `error` ([`ProjectorError`]) and `tx` (a transaction of either backend, [`tx::Tx`]);
//! - `checkpoints`: the SQL of `projection_checkpoints` (claim, move, read);
//! - `faults`: the tests' fault injection (feature `test-hooks`), empty without it;
//! - [`projection`]: the [`Projection`] trait, all the runner and the rebuild know of a
//!   projection; `rows`: view rows as both writers write them (upserts, `COPY`);
//! - [`outcome_cells`]: the case summaries' companion table and the outcome figures read from it;
//! - the projections, one file each: [`case_summaries`], [`member_records`];
//! - `registry` ([`PROJECTIONS`]): every projection, registered once;
//! - [`rebuild`]: the generic full rebuild; [`runner`]: the live engine, [`Projector`];
//! - [`queries`]: what the API reads.

pub mod case_summaries;
mod checkpoints;
mod error;
mod faults;
pub mod member_records;
pub mod outcome_cells;
pub mod projection;
pub mod queries;
pub mod rebuild;
mod registry;
mod rows;
pub mod runner;
pub mod tx;

pub use error::ProjectorError;
#[cfg(feature = "test-hooks")]
pub use faults::Fault;
pub use projection::Projection;
pub use registry::{names, PROJECTIONS};
pub use runner::{Checkpoint, Projector};
