//! Per-client-address limits for the public channel, whose callers have no token. The
//! address is [`super::client::ClientAddress`]'s. The limiters keep a state per address seen;
//! [`RateLimits::spawn_trimming`] forgets, every few minutes, the addresses whose allowance
//! has fully come back, so the state never grows with every address ever seen.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::problem::ApiError;

/// Anonymous submissions per client address per hour.
const SUBMISSIONS_PER_HOUR: u32 = 20;
/// Status reads and ratings per client address per minute (guessing codes is slow work).
const LOOKUPS_PER_MINUTE: u32 = 60;
/// How often addresses with a full allowance are forgotten.
const TRIM_EVERY: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct RateLimits {
    submissions: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    lookups: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits")
    }
}

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN)
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            submissions: Arc::new(RateLimiter::keyed(Quota::per_hour(nonzero(SUBMISSIONS_PER_HOUR)))),
            lookups: Arc::new(RateLimiter::keyed(Quota::per_minute(nonzero(LOOKUPS_PER_MINUTE)))),
        }
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, client: IpAddr) -> Result<(), ApiError> {
    limiter.check_key(&client).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::RateLimited {
            retry_after: u32::try_from(wait.as_secs().saturating_add(1)).unwrap_or(u32::MAX),
        }
    })
}

impl RateLimits {
    pub fn submission(&self, client: IpAddr) -> Result<(), ApiError> {
        check(&self.submissions, client)
    }

    pub fn lookup(&self, client: IpAddr) -> Result<(), ApiError> {
        check(&self.lookups, client)
    }

    /// Trims the limiters every [`TRIM_EVERY`] for as long as they are in use.
    pub fn spawn_trimming(&self) {
        let limiters = [Arc::downgrade(&self.submissions), Arc::downgrade(&self.lookups)];
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(TRIM_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                for limiter in &limiters {
                    let Some(limiter) = limiter.upgrade() else {
                        return;
                    };
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
    }
}
