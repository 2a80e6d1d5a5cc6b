//! A transaction of either backend, so that a projection's methods take one type: each body is
//! written once and compiled for both by `on_tx!`, as `on_pool!` does for pools.

use crate::store::{Store, StoreError};

#[derive(Debug)]
pub enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Runs one body on whichever transaction `tx` holds.
macro_rules! on_tx {
    ($tx:expr, |$inner:ident| $body:expr) => {
        match $tx {
            $crate::read::tx::Tx::Postgres($inner) => $body,
            $crate::read::tx::Tx::Sqlite($inner) => $body,
        }
    };
}
pub(crate) use on_tx;

impl Tx {
    pub async fn begin(store: &Store) -> Result<Tx, StoreError> {
        Ok(match store {
            Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    /// Lets PostgreSQL commit without waiting for the disk: the views follow from the durable
    /// log, and their checkpoints commit with them, so what a crash loses is applied again.
    pub async fn without_flush(&mut self) -> Result<(), StoreError> {
        if let Tx::Postgres(tx) = self {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Runs one statement that binds nothing.
    pub async fn execute(&mut self, statement: &str) -> Result<(), StoreError> {
        on_tx!(self, |tx| {
            sqlx::query(statement).execute(&mut **tx).await?;
        });
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        on_tx!(self, |tx| tx.commit().await?);
        Ok(())
    }
}
