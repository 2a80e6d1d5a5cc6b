//! Connections the command path keeps between commands.
//!
//! sqlx 0.8's pool takes a connection back only after pinging it: a `Sync` and its
//! `ReadyForQuery`, a round trip of its own on every release. A command's stream read and append,
//! each run on the pool, so cost four round trips where the fair limit's transaction costs two,
//! and without the pings the in-process command path does a quarter more (docs/performance.md).
//! [`Kept`] lends one connection for a whole command and takes it back without a ping when the
//! last statement run on it completed. A connection whose statement failed or was cancelled is
//! in doubt and goes back to the pool, which pings it (draining what a cancelled statement left)
//! or closes it, as before; so does one beyond [`Kept`]'s bound.
//!
//! A kept connection stays checked out of the pool, so the pool still bounds every connection
//! the process opens; at most a third of them are kept idle (the PostgreSQL pool is sized for
//! it), the rest are left to the projections, the reads and the background tasks. While the
//! pool has every connection open and none idle (reads may be waiting for one), a connection is
//! given back rather than kept. A kept connection to a server that died fails its next
//! statement, like an idle one of the pool (answered 503), and is not kept again: after a
//! promotion the next ones come from the pool, on the new primary.

use std::sync::{Arc, Mutex};

use crate::store::{Appendable, Appended, Commit, Connection, Store, StoreError, StoredEvent};

/// Idle connections kept for the next commands.
#[derive(Debug, Clone)]
pub struct Kept {
    store: Store,
    idle: Arc<Mutex<Vec<Connection>>>,
    most: usize,
}

impl Kept {
    pub fn new(store: Store) -> Self {
        let most = (store.max_connections() / 3).max(1) as usize;
        Kept {
            store,
            idle: Arc::default(),
            most,
        }
    }

    /// A kept connection, or a new one from the pool when none is idle.
    pub async fn lend(&self) -> Result<Lent<'_>, StoreError> {
        let idle = self.idle().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.store.connection().await?,
        };
        Ok(Lent {
            home: self,
            connection: Some(connection),
            settled: true,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // The list is consistent whenever the lock is released, so a panic elsewhere while it
        // was held leaves nothing to repair.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens up to `count` connections (at most as many as are kept) before the first commands
    /// need them, so that those do not wait for the server to start a backend each.
    pub async fn open(&self, count: usize) -> Result<(), StoreError> {
        let lent = futures_util::future::try_join_all((0..count.min(self.most)).map(|_| self.lend())).await?;
        drop(lent);
        Ok(())
    }

    /// How many connections are idle here now.
    pub fn idle_count(&self) -> usize {
        self.idle().len()
    }
}

/// A connection lent by [`Kept`]: kept again when dropped if its last statement completed.
#[derive(Debug)]
pub struct Lent<'k> {
    home: &'k Kept,
    /// Taken out only when dropped.
    connection: Option<Connection>,
    /// No statement is under way or failed on the connection.
    settled: bool,
}

impl Lent<'_> {
    /// The connection for a statement: unsettled until the statement has completed.
    fn unsettled(&mut self) -> Result<&mut Connection, StoreError> {
        self.settled = false;
        self.connection
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("a lent connection was used after it was returned".into()))
    }

    /// A statement's result: the connection is settled again if the statement completed.
    fn completed<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.settled = result.is_ok();
        result
    }

    /// [`Store::stream_events`] on the lent connection.
    pub async fn stream_events(&mut self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.stream_events_after(id, 0).await
    }

    /// [`Connection::stream_events_after`] on the lent connection.
    pub async fn stream_events_after(&mut self, id: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let events = self.unsettled()?.stream_events_after(id, after).await;
        self.completed(events)
    }

    /// [`Store::append`] on the lent connection, with the hash the stream's next event chains to.
    pub async fn append<E: Appendable>(&mut self, commit: Commit<'_, E>) -> Result<Appended, StoreError> {
        let appended = self.unsettled()?.append(commit).await;
        self.completed(appended)
    }

    /// [`Connection::append_unless_behind`] on the lent connection.
    pub async fn append_unless_behind<E: Appendable>(
        &mut self,
        commit: Commit<'_, E>,
    ) -> Result<Option<Appended>, StoreError> {
        let appended = self.unsettled()?.append_unless_behind(commit).await;
        self.completed(appended)
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.settled && !self.home.store.exhausted() {
            let mut idle = self.home.idle();
            if idle.len() < self.home.most {
                idle.push(connection);
                return;
            }
        }
        // Back to the pool, outside the lock.
        drop(connection);
    }
}
