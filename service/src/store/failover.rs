//! Several PostgreSQL addresses, one primary. PostgreSQL's streaming replication keeps the
//! standbys; this module only finds the server that accepts writes and follows it when a
//! standby is promoted.
//!
//! `DATABASE_URL` may list several addresses, comma-separated (`postgres://a/db,postgres://b/db`).
//! With one, the pool connects to it as it always did. With several:
//! - at start the pool is pointed at the first address whose server says it is not in recovery
//!   (`SELECT pg_is_in_recovery()`); none answering so fails the start;
//! - every new connection asks the same question and is refused (the pool then tries again,
//!   until its acquire timeout) when it reached a standby: no write is ever sent to one;
//! - a watcher holds one connection of its own to the primary and asks every
//!   [`PROBE_EVERY`]; when the answer is not "primary" (the server died, or was demoted) it asks
//!   every address in turn until one is, and points the pool's future connections there
//!   (`Pool::set_connect_options`). The pool's connections to a dead server fail their next
//!   query (answered 503 as [`StoreError::Unavailable`]) and are dropped, so the pool refills on
//!   the new primary without a restart.
//!
//! While no address is a primary, commands wait up to the pool's acquire timeout and fail as
//! unavailable. Fencing is not done here: promoting a standby while the old primary still runs
//! and accepts writes is the operator's mistake to avoid (stop or kill it first), as with any
//! PostgreSQL failover. The watcher lives as long as the process (or until the pool is closed).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::store::StoreError;

/// How often the watcher asks the primary whether it still is one.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long one address may take to connect and answer before the next is tried.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

const IN_RECOVERY: &str = "SELECT pg_is_in_recovery()";

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    #[error("none of the {0} database addresses is a primary that accepts writes")]
    NoPrimary(usize),
    #[error("the server reached is a standby, not the primary")]
    Standby,
}

/// The addresses of a comma-separated list, each parsed as a PostgreSQL URL.
pub(crate) fn addresses(list: &str) -> Result<Vec<PgConnectOptions>, StoreError> {
    list.split(',')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(|address| address.parse::<PgConnectOptions>().map_err(StoreError::from))
        .map(|options| options.map(bounded_lock_waits))
        .collect()
}

/// No statement of the service waits for a lock for ever. A rebuild reads the log on a second
/// connection while its transaction holds a share lock on `events`; a statement that queues for
/// an exclusive lock there (DDL, `TRUNCATE`) makes that read queue behind it, and neither would
/// ever move. With a bound the read fails, the rebuild rolls back and is tried again. A minute
/// is longer than any rebuild or batch holds a lock it waits for.
fn bounded_lock_waits(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("lock_timeout", "60s")])
}

/// A pool on the primary among `candidates`, followed across promotions when there are several.
pub(crate) async fn primary_pool(
    options: PgPoolOptions,
    candidates: Vec<PgConnectOptions>,
) -> Result<PgPool, StoreError> {
    let [first, ..] = candidates.as_slice() else {
        return Err(StoreError::Unavailable(Box::new(FailoverError::NoPrimary(0))));
    };
    if candidates.len() == 1 {
        return Ok(options.connect_with(first.clone()).await?);
    }
    let Some((primary, watching)) = find_primary(&candidates).await else {
        return Err(StoreError::Unavailable(Box::new(FailoverError::NoPrimary(
            candidates.len(),
        ))));
    };
    let pool = options
        .after_connect(|connection, _| {
            Box::pin(async move {
                let standby: bool = sqlx::query_scalar(IN_RECOVERY).fetch_one(&mut *connection).await?;
                if standby {
                    return Err(sqlx::Error::Configuration(Box::new(FailoverError::Standby)));
                }
                Ok(())
            })
        })
        .connect_with(candidates[primary].clone())
        .await?;
    tokio::spawn(follow_primary(pool.clone(), candidates, primary, watching));
    Ok(pool)
}

/// `Some(false)` from a primary, `Some(true)` from a standby, `None` when it does not answer.
async fn in_recovery(connection: &mut PgConnection) -> Option<bool> {
    let question = sqlx::query_scalar(IN_RECOVERY).fetch_one(connection);
    tokio::time::timeout(PROBE_TIMEOUT, question).await.ok()?.ok()
}

/// The first address whose server is a primary, with a connection to it.
async fn find_primary(candidates: &[PgConnectOptions]) -> Option<(usize, PgConnection)> {
    for (index, address) in candidates.iter().enumerate() {
        let Ok(Ok(mut connection)) = tokio::time::timeout(PROBE_TIMEOUT, address.connect()).await else {
            continue;
        };
        if in_recovery(&mut connection).await == Some(false) {
            return Some((index, connection));
        }
        drop(connection.close().await);
    }
    None
}

async fn follow_primary(pool: PgPool, candidates: Vec<PgConnectOptions>, mut primary: usize, watching: PgConnection) {
    let mut watching = Some(watching);
    let closed = pool.close_event();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            () = &mut closed => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
        if let Some(connection) = watching.as_mut() {
            if in_recovery(connection).await == Some(false) {
                continue;
            }
            tracing::warn!(
                address = primary,
                "the primary does not answer as one; looking for the primary"
            );
        }
        watching = None;
        if let Some((found, connection)) = find_primary(&candidates).await {
            if found != primary {
                let address = &candidates[found];
                tracing::warn!(
                    host = address.get_host(),
                    port = address.get_port(),
                    "following the primary to another address"
                );
                pool.set_connect_options(address.clone());
                primary = found;
            }
            watching = Some(connection);
        }
    }
}
