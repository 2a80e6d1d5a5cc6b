//! Logging and metrics, set up once per process. Logs: human-readable text by default, JSON
//! lines on request, always on stderr so that stdout carries only a command's result; colour
//! only when stderr is a terminal, so no escape codes end up in a log file. Metrics:
//! Prometheus text at `/metrics`, labelled by route, kind and action, never by anything a
//! caller typed.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber; `RUST_LOG` overrides the default filter. A second call
/// (as in tests that start several services) leaves the first in place.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already installed: keep the first subscriber.
    drop(result);
}

/// The process's metrics recorder, installed on first use; what `/metrics` renders.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a library user's): ours still renders, empty.
        drop(metrics::set_global_recorder(recorder));
        handle
    })
}
