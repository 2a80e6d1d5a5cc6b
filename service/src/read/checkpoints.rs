//! The `projection_checkpoints` rows: where each projection stands in the log. The runner's
//! batches and the rebuild claim and move them inside the transaction that writes the views.

use crate::read::tx::{on_tx, Tx};
use crate::store::{on_pool, Store, StoreError};

/// The position of the last event `name` applied; 0 before the first.
pub async fn position(store: &Store, name: &str) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT position FROM projection_checkpoints WHERE name = $1";
    Ok(on_pool!(store, |pool| sqlx::query_scalar(SQL)
        .bind(name)
        .fetch_one(pool)
        .await?))
}

/// Locks `name`'s row for the transaction if it still stands at `from` (compare-and-set);
/// `false` when another runner moved it first. `None` claims it wherever it stands, making live
/// batches of any process wait for the transaction, then find their own claim stale.
pub async fn claim(tx: &mut Tx, name: &str, from: Option<i64>) -> Result<bool, StoreError> {
    const AT: &str = "UPDATE projection_checkpoints SET position = position WHERE name = $1 AND position = $2";
    const ANYWHERE: &str = "UPDATE projection_checkpoints SET position = position WHERE name = $1";
    let claimed = on_tx!(tx, |tx| match from {
        Some(from) => sqlx::query(AT)
            .bind(name)
            .bind(from)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        None => sqlx::query(ANYWHERE)
            .bind(name)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    });
    Ok(claimed == 1)
}

/// Sets `name`'s checkpoint to `position`, inside the transaction that wrote the views up to it.
pub async fn move_to(tx: &mut Tx, name: &str, position: i64) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE projection_checkpoints SET position = $1, updated_at = CURRENT_TIMESTAMP WHERE name = $2";
    on_tx!(tx, |tx| {
        sqlx::query(SQL).bind(position).bind(name).execute(&mut **tx).await?;
    });
    Ok(())
}

/// Whether any of `names` has applied an event.
pub async fn any_applied(tx: &mut Tx, names: &[&str]) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT EXISTS (SELECT 1 FROM projection_checkpoints WHERE name = $1 AND position <> 0)";
    for name in names {
        let applied: bool = on_tx!(tx, |tx| sqlx::query_scalar(SQL)
            .bind(*name)
            .fetch_one(&mut **tx)
            .await?);
        if applied {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `name` has applied the event at `position` (and so everything before it in log
/// order: on PostgreSQL that is the order of transaction ids, not of positions).
pub async fn has_applied(store: &Store, name: &str, position: i64) -> Result<bool, StoreError> {
    let covered = match store {
        Store::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM projection_checkpoints c \
               JOIN events applied ON applied.position = c.position \
               JOIN events wanted ON wanted.position = $2 \
              WHERE c.name = $1 \
                AND (wanted.transaction_id, wanted.position) <= (applied.transaction_id, applied.position))",
            )
            .bind(name)
            .bind(position)
            .fetch_one(pool)
            .await?
        }
        Store::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM projection_checkpoints WHERE name = $1 AND position >= $2)",
            )
            .bind(name)
            .bind(position)
            .fetch_one(pool)
            .await?
        }
    };
    Ok(covered)
}

/// Events appended after `position`.
pub async fn lag(store: &Store, position: i64) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM events WHERE position > $1";
    Ok(on_pool!(store, |pool| sqlx::query_scalar(SQL)
        .bind(position)
        .fetch_one(pool)
        .await?))
}
