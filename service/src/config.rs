//! Settings, typed: defaults, then environment variables (`LIANXIN_…`, `DATABASE_URL`), then
//! command-line flags, all through clap so every source is checked the same way.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use domain::Policy;
use projections::Quotas;

use crate::app::ServiceOptions;
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
    /// A PostgreSQL standby for reads that tolerate lag.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true, global = true, value_parser = postgres_url)]
    pub database_read_url: Option<String>,
}

/// The URL carries a password: it is never printed.
impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .field(
                "database_read_url",
                &self.database_read_url.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An empty value counts as unset, so `DATABASE_URL=` selects the embedded store.
fn postgres_url(value: &str) -> Result<String, String> {
    if value.is_empty() || value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(value.to_owned())
    } else {
        Err("DATABASE_URL must name a PostgreSQL database (postgres://…)".to_owned())
    }
}

/// What `serve` needs beyond the store.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "LIANXIN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Days a department has to answer a suggestion, when `assign` names no deadline.
    #[arg(long, env = "LIANXIN_SUGGESTION_RESPONSE_DAYS", default_value_t = Policy::default().suggestion_response_days)]
    pub suggestion_response_days: u32,
    /// Days for a micro-consultation, when `assign` names no deadline.
    #[arg(long, env = "LIANXIN_MICRO_CONSULTATION_RESPONSE_DAYS", default_value_t = Policy::default().micro_consultation_response_days)]
    pub micro_consultation_response_days: u32,
    /// Days for a joint research topic, when `assign` names no deadline.
    #[arg(long, env = "LIANXIN_JOINT_RESEARCH_RESPONSE_DAYS", default_value_t = Policy::default().joint_research_response_days)]
    pub joint_research_response_days: u32,
    /// Yearly quota: constituents a member contacts.
    #[arg(long, env = "LIANXIN_QUOTA_CONTACTS", default_value_t = Quotas::default().contacts)]
    pub quota_contacts: u32,
    /// Yearly quota: grassroots consultations a member joins.
    #[arg(long, env = "LIANXIN_QUOTA_CONSULTATIONS", default_value_t = Quotas::default().consultations)]
    pub quota_consultations: u32,
    /// Yearly quota: social-opinion reports a member submits.
    #[arg(long, env = "LIANXIN_QUOTA_REPORTS", default_value_t = Quotas::default().reports)]
    pub quota_reports: u32,
}

impl ServeSettings {
    pub fn options(&self) -> ServiceOptions {
        ServiceOptions {
            policy: Policy {
                suggestion_response_days: self.suggestion_response_days,
                micro_consultation_response_days: self.micro_consultation_response_days,
                joint_research_response_days: self.joint_research_response_days,
            },
            quotas: Quotas {
                contacts: self.quota_contacts,
                consultations: self.quota_consultations,
                reports: self.quota_reports,
            },
            clock: Clock::System,
        }
    }
}
