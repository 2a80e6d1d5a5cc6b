//! The read side: projections that follow the log into view tables, their rebuild, and the
//! queries the API reads.
//!
//! Modules, each using only those listed before it (no import circle):
//!
//! - `error` ([`ProjectorError`]) and [`tx`] (a transaction of either backend);
//! - `checkpoints` (the SQL of `projection_checkpoints`: claim, move, read; uses `tx`) and
//!   `faults` (the tests' fault injection, feature `test-hooks`, empty without it);
//! - [`projection`]: the [`Projection`] trait, all the runner and the rebuild driver know of a
//!   projection; `rows`: view rows as both writers write them (live upserts, the rebuild's
//!   `COPY` or inserts);
//! - [`outcome_cells`]: the case summaries' companion table and the outcome figures read from it;
//! - the projections, one file each, owning their tables: [`case_summaries`] (with
//!   `outcome_cells`), [`member_records`];
//! - `registry` ([`PROJECTIONS`]): every projection, registered once;
//! - [`rebuild`]: the full rebuild, generic over the registry's projections;
//! - [`runner`]: the live engine, [`Projector`] (lease, wake-ups, checkpoints, batches);
//! - [`standby`]: which store a lag-tolerant read goes to ([`ReadStores`]);
//! - [`queries`]: what the API reads (cursor, then case lists, overdue list, members; the
//!   figures come from `outcome_cells`).
//!
//! Adding a projection is a file implementing [`Projection`], one line in `registry`, and the
//! migrations creating its tables and its checkpoint row.

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
pub mod standby;
pub mod tx;

pub use error::ProjectorError;
#[cfg(feature = "test-hooks")]
pub use faults::Fault;
pub use projection::Projection;
pub use registry::{names, PROJECTIONS};
pub use runner::{Checkpoint, Projector};
pub use standby::ReadStores;
