//! Where a read that tolerates lag goes: to a standby when the service was given one
//! (`DATABASE_READ_URL`), so that dashboards, lists and exports take no CPU from commands; to
//! the primary otherwise. The promises hold on either:
//!
//! - **Read your writes.** A read asked for a `min_position` is answered from the standby only
//!   once the standby has replayed everything the primary had written when the read began
//!   (the projections' checkpoint past that position included), waiting at most
//!   [`STANDBY_WAIT`]; after that, from the primary.
//! - **A standby down is no outage.** A read the standby cannot answer because it is
//!   unreachable is answered from the primary, and the standby is left alone for
//!   [`STANDBY_RETRY`] before it is tried again. So is a read naming a position the standby
//!   has not replayed yet (the audit log's `after`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{Store, StoreError};

/// How long a read with `min_position` waits for the standby to replay before it is answered
/// from the primary.
pub const STANDBY_WAIT: Duration = Duration::from_secs(1);
/// How long an unreachable standby is passed over.
pub const STANDBY_RETRY: Duration = Duration::from_secs(5);

/// The primary, and the standby lag-tolerant reads prefer.
#[derive(Debug, Clone)]
pub struct ReadStores {
    primary: Store,
    standby: Option<Store>,
    /// When the standby last failed to answer.
    failed_at: std::sync::Arc<Mutex<Option<Instant>>>,
}

/// The store a read was sent to.
#[derive(Debug, Clone)]
pub struct Picked {
    pub store: Store,
    pub standby: bool,
}

impl ReadStores {
    pub fn new(primary: Store, standby: Option<Store>) -> Self {
        ReadStores {
            primary,
            standby,
            failed_at: Default::default(),
        }
    }

    pub fn primary(&self) -> &Store {
        &self.primary
    }

    /// The store to read from: the standby unless there is none, it failed within
    /// [`STANDBY_RETRY`], or `fresh` (the read must see every write acknowledged before it)
    /// and it has not replayed them within [`STANDBY_WAIT`].
    pub async fn pick(&self, fresh: bool) -> Picked {
        let primary = Picked {
            store: self.primary.clone(),
            standby: false,
        };
        let Some(standby) = self.standby.as_ref().filter(|_| !self.recently_failed()) else {
            return primary;
        };
        if fresh {
            match standby.caught_up_with(&self.primary, STANDBY_WAIT).await {
                Ok(true) => {}
                Ok(false) => return primary,
                Err(error) => {
                    self.failed(&error);
                    return primary;
                }
            }
        }
        Picked {
            store: standby.clone(),
            standby: true,
        }
    }

    /// Whether a read the standby failed with `error` is to be asked of the primary: when the
    /// standby is unreachable (it is then passed over for a while), or does not know a position
    /// the read names (it has not replayed that event yet).
    pub fn retry_on_primary(&self, error: &StoreError) -> bool {
        match error {
            StoreError::UnknownPosition(_) => true,
            StoreError::Unavailable(_) => {
                self.failed(error);
                true
            }
            _ => false,
        }
    }

    fn failed(&self, error: &StoreError) {
        tracing::warn!(%error, "the read standby does not answer; reading from the primary");
        *self.failed_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
    }

    fn recently_failed(&self) -> bool {
        self.failed_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|at| at.elapsed() < STANDBY_RETRY)
    }
}
