//! Settings, typed: defaults, then environment variables (`LIANXIN_…`, `DATABASE_URL`), then
//! command-line flags, all through clap so every source is checked the same way.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use domain::{DayCounting, Policy};
use projections::Quotas;

use crate::app::ServiceOptions;
use crate::http::serve::ConnectionLimits;
use crate::http::{IpNet, TrustedProxies};
use crate::store::{Store, StoreError};
use crate::write::calendar::{self, CalendarFileError};
use crate::write::engine::Clock;

/// Where the events live: PostgreSQL when `DATABASE_URL` names one, else the embedded store.
#[derive(Clone, Args)]
pub struct StoreSettings {
    /// Directory of the embedded SQLite store.
    #[arg(long, env = "LIANXIN_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…); selects PostgreSQL instead of the embedded store.
    /// Several, comma-separated, name a primary and its standbys: the service writes to the
    /// one that accepts writes and follows a promotion.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true, value_parser = postgres_url)]
    pub database_url: Option<String>,
}

/// The URL carries a password: it is never printed.
impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl StoreSettings {
    /// Opens the configured store and brings its schema up to date. A schema already current is
    /// left alone, so that a role without DDL rights (PostgreSQL's `lianxin_runtime`) can open it.
    pub async fn open(&self) -> Result<Store, StoreError> {
        let database_url = self.database_url.as_deref().filter(|url| !url.is_empty());
        let store = Store::open(database_url, &self.data_dir).await?;
        if !store.is_ready().await.unwrap_or(false) {
            store.migrate().await?;
        }
        Ok(store)
    }
}

fn quota_items(text: &str) -> Result<Quotas, String> {
    Quotas::parse(text).map_err(|error| error.to_string())
}

/// An empty value counts as unset, so `DATABASE_URL=` selects the embedded store.
fn postgres_url(value: &str) -> Result<String, String> {
    if value.is_empty() || value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(value.to_owned())
    } else {
        Err("DATABASE_URL must name a PostgreSQL database (postgres://…)".to_owned())
    }
}

/// A database URL, which may carry a password: never printed.
#[derive(Clone)]
pub struct SecretUrl(String);

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn secret_postgres_url(value: &str) -> Result<SecretUrl, String> {
    postgres_url(value).map(SecretUrl)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadStandbyError {
    #[error("DATABASE_READ_URL names a standby of a PostgreSQL primary: give DATABASE_URL too")]
    NoPrimary,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The deployment's deadlines, windows, calendar and time zone: what `serve` decides cases by
/// and what `replay` rebuilds the projections with (the outcome cells keep days of its time
/// zone and working days of its calendar), so both take the same settings.
#[derive(Debug, Clone, Args)]
pub struct PolicySettings {
    /// Days a department has to answer a suggestion, when `assign` names no deadline.
    #[arg(long, env = "LIANXIN_SUGGESTION_RESPONSE_DAYS", default_value_t = Policy::default().suggestion_response_days)]
    pub suggestion_response_days: u32,
    /// Days for a micro-consultation, when `assign` names no deadline.
    #[arg(long, env = "LIANXIN_MICRO_CONSULTATION_RESPONSE_DAYS", default_value_t = Policy::default().micro_consultation_response_days)]
    pub micro_consultation_response_days: u32,
    /// Days for a joint research topic, when `assign` names no deadline.
    #[arg(long, env = "LIANXIN_JOINT_RESEARCH_RESPONSE_DAYS", default_value_t = Policy::default().joint_research_response_days)]
    pub joint_research_response_days: u32,
    /// How a suggestion's response days are counted: calendar_days or working_days.
    #[arg(long, env = "LIANXIN_SUGGESTION_DAY_COUNTING", default_value = "calendar_days")]
    pub suggestion_day_counting: DayCounting,
    /// How a micro-consultation's response days are counted.
    #[arg(
        long,
        env = "LIANXIN_MICRO_CONSULTATION_DAY_COUNTING",
        default_value = "calendar_days"
    )]
    pub micro_consultation_day_counting: DayCounting,
    /// How a joint research topic's response days are counted.
    #[arg(long, env = "LIANXIN_JOINT_RESEARCH_DAY_COUNTING", default_value = "calendar_days")]
    pub joint_research_day_counting: DayCounting,
    /// Working days a lead unit has to sign for a case.
    #[arg(long, env = "LIANXIN_ACKNOWLEDGE_WORKING_DAYS", default_value_t = Policy::default().acknowledge_working_days)]
    pub acknowledge_working_days: u32,
    /// Working days after assignment in which a lead unit may object.
    #[arg(long, env = "LIANXIN_OBJECTION_WORKING_DAYS", default_value_t = Policy::default().objection_working_days)]
    pub objection_working_days: u32,
    /// Working days the proposer has to evaluate a reply.
    #[arg(long, env = "LIANXIN_EVALUATION_WORKING_DAYS", default_value_t = Policy::default().evaluation_working_days)]
    pub evaluation_working_days: u32,
    /// A file of working-day calendar days (public holidays, make-up days) merged over the
    /// official calendars this release ships, for years announced later.
    #[arg(long, env = "LIANXIN_CALENDAR")]
    pub calendar: Option<PathBuf>,
    /// The deployment's time zone as a UTC offset (China keeps +08:00 all year).
    #[arg(
        long,
        env = "LIANXIN_UTC_OFFSET",
        default_value = "+08:00",
        allow_hyphen_values = true
    )]
    pub utc_offset: chrono::FixedOffset,
}

impl PolicySettings {
    /// The policy; the calendar file, if named, is read here.
    pub fn policy(&self) -> Result<Policy, CalendarFileError> {
        Ok(Policy {
            suggestion_response_days: self.suggestion_response_days,
            micro_consultation_response_days: self.micro_consultation_response_days,
            joint_research_response_days: self.joint_research_response_days,
            response_counting: [
                self.suggestion_day_counting,
                self.micro_consultation_day_counting,
                self.joint_research_day_counting,
            ],
            acknowledge_working_days: self.acknowledge_working_days,
            objection_working_days: self.objection_working_days,
            evaluation_working_days: self.evaluation_working_days,
            calendar: Arc::new(calendar::load(self.calendar.as_deref())?),
            offset: self.utc_offset,
        })
    }
}

/// What `serve` needs beyond the store.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "LIANXIN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A PostgreSQL standby of the primary (postgres://…) for the reads that tolerate lag: case
    /// lists, figures, the overdue list, queues, scorecards, duty records, the audit log's
    /// pages. A read with `min_position` waits (up to 1 s) for the standby to replay the write
    /// or is answered from the primary; so is every read while the standby is unreachable.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true, value_parser = secret_postgres_url)]
    pub database_read_url: Option<SecretUrl>,
    #[command(flatten)]
    pub policy: PolicySettings,
    /// Yearly quota: constituents a member contacts.
    #[arg(long, env = "LIANXIN_QUOTA_CONTACTS", default_value_t = 5)]
    pub quota_contacts: u32,
    /// Yearly quota: grassroots consultations a member joins.
    #[arg(long, env = "LIANXIN_QUOTA_CONSULTATIONS", default_value_t = 2)]
    pub quota_consultations: u32,
    /// Yearly quota: social-opinion reports a member submits.
    #[arg(long, env = "LIANXIN_QUOTA_REPORTS", default_value_t = 1)]
    pub quota_reports: u32,
    /// The whole yearly quota set (六个一), replacing the three above:
    /// `NAME=ACTIVITY[+ACTIVITY…]:MINIMUM`, items separated by commas. Activities:
    /// constituents, voices_relayed, social_opinion_reports, grassroots_consultations,
    /// consultations, problems_solved, research_reports, or one staff record by name.
    #[arg(long, env = "LIANXIN_QUOTA_ITEMS", value_parser = quota_items)]
    pub quota_items: Option<Quotas>,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "LIANXIN_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_connections,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a client has to send a request's headers (also the longest a kept-alive
    /// connection waits for its next request).
    #[arg(long, env = "LIANXIN_HEADER_READ_TIMEOUT", default_value_t = ConnectionLimits::default().header_read_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,
    /// Seconds a connection may stay without a byte moving either way before it is closed;
    /// more than the 30 s a request may take.
    #[arg(long, env = "LIANXIN_IDLE_TIMEOUT", default_value_t = ConnectionLimits::default().idle_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(31..))]
    pub idle_timeout: u64,
    /// Address blocks of reverse proxies whose `X-Forwarded-For` names the client for the
    /// public channel's rate limits (e.g. `10.0.0.0/8`); by default none: the peer address.
    #[arg(long = "trusted-proxy", env = "LIANXIN_TRUSTED_PROXIES", value_delimiter = ',', num_args = 1..)]
    pub trusted_proxies: Vec<IpNet>,
}

impl ServeSettings {
    /// The read standby, if one is named (an empty value names none), for a PostgreSQL `primary`.
    pub fn read_standby(&self, primary: &Store) -> Result<Option<Store>, ReadStandbyError> {
        let Some(SecretUrl(url)) = self.database_read_url.as_ref().filter(|url| !url.0.is_empty()) else {
            return Ok(None);
        };
        if !matches!(primary, Store::Postgres(_)) {
            return Err(ReadStandbyError::NoPrimary);
        }
        Ok(Some(Store::open_replica(url)?))
    }

    /// The options to start with; the calendar file, if named, is read here.
    pub fn options(&self) -> Result<ServiceOptions, CalendarFileError> {
        Ok(ServiceOptions {
            policy: self.policy.policy()?,
            quotas: self
                .quota_items
                .clone()
                .unwrap_or_else(|| Quotas::three(self.quota_contacts, self.quota_consultations, self.quota_reports)),
            clock: Clock::System,
            connections: ConnectionLimits {
                max_connections: self.max_connections,
                header_read_timeout: Duration::from_secs(self.header_read_timeout),
                idle_timeout: Duration::from_secs(self.idle_timeout),
            },
            trusted_proxies: TrustedProxies::new(self.trusted_proxies.clone()),
        })
    }
}
