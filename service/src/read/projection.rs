//! What a projection is to the runner and the rebuild driver, which know no projection but
//! through this trait and the registry ([`crate::read::PROJECTIONS`]).
//!
//! A projection owns its tables and everything written to them: the live batch
//! ([`Projection::apply`]), its part of a rebuild ([`Projection::rebuild`]) and of the test dump.
//! It writes inside the transaction it is given and never commits, claims or moves a
//! checkpoint: the caller does, so that view rows and checkpoint commit together. Its live batch
//! and its rebuild fold every fact with one function of its own, so the two cannot drift apart.

use domain::{Policy, Timestamp};
use futures_util::future::BoxFuture;
use projections::Fact;

use crate::read::error::ProjectorError;
use crate::read::tx::Tx;
use crate::store::{Store, StoreError};

pub trait Projection: Sync {
    /// The name its checkpoint is kept under (`lianxin replay NAME`, `GET /api/v1/projections`).
    fn name(&self) -> &'static str;

    /// The tables it owns: a rebuild stages (PostgreSQL) or empties (SQLite) them.
    fn tables(&self) -> &'static [&'static str];

    /// Applies `batch` (facts in log order) inside `tx`, which has claimed the checkpoint at the
    /// position before the batch; the caller moves it and commits. `store` is for reads outside
    /// the transaction; `policy` the deployment's calendar and time zone, for what a view keeps
    /// by day or in working days.
    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx,
        store: &'a Store,
        policy: &'a Policy,
        batch: &'a [Fact],
    ) -> BoxFuture<'a, Result<(), ProjectorError>>;

    /// Does inside `tx`, which holds its checkpoint where it is, the work its live batches leave
    /// for later so that each batch stays small (the outcome cells' roll-ups of the months ended
    /// by `now` in the deployment's time zone). Returns how many rows it wrote. Most projections
    /// leave nothing.
    fn settle<'a>(
        &'a self,
        _tx: &'a mut Tx,
        _policy: &'a Policy,
        _now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, ProjectorError>> {
        Box::pin(async { Ok(0) })
    }

    /// A fresh fold for a rebuild from the whole log, with the deployment's `policy`.
    fn rebuild(&self, policy: &Policy) -> Box<dyn Fold>;

    /// Every row of its tables as lines, per table, in a stable order: two projections are equal
    /// when these are.
    #[cfg(feature = "test-hooks")]
    fn dump<'a>(&'a self, store: &'a Store) -> BoxFuture<'a, Result<Dump, StoreError>>;
}

/// A projection's rows as lines, per table.
#[cfg(feature = "test-hooks")]
pub type Dump = Vec<(&'static str, Vec<String>)>;

/// A projection's side of a rebuild. The driver feeds it every fact of the log, stream by
/// stream, each stream in sequence order, on a task of its own; the rows it returns are written
/// on the transaction's connection meanwhile.
pub trait Fold: Send {
    /// One fact of the stream being folded.
    fn fact(&mut self, fact: &Fact);

    /// The stream `stream` has no more facts: its final rows join those pending.
    fn end_stream(&mut self, stream: &str);

    /// The rows pending, taken away to be written.
    fn take_rows(&mut self) -> Box<dyn Rows>;

    /// Writes what is only known once every stream is folded (sums over streams), after the
    /// rows and the tables' indexes.
    fn finish(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), ProjectorError>>;
}

/// Final rows of a few thousand streams, on their way from a fold to the writer.
pub trait Rows: Send {
    /// Loads them into the tables being rebuilt.
    fn load(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), StoreError>>;
}
