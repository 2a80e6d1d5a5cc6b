//! The running service: open the store, apply migrations, bind the listener, serve until
//! told to stop. Tests build it on port 0 and read the port back.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use domain::Policy;
use projections::Quotas;
use tokio::net::TcpListener;

use crate::config::StoreSettings;
use crate::http::{self, AppState, RateLimits};
use crate::read::projector::Projector;
use crate::store::{Store, StoreError};
use crate::write::engine::{Clock, Engine};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Opens the configured store and brings its schema up to date.
pub async fn open_store(settings: &StoreSettings) -> Result<Store, StoreError> {
    let database_url = settings.database_url.as_deref().filter(|url| !url.is_empty());
    let store = Store::open(database_url, &settings.data_dir).await?;
    store.migrate().await?;
    Ok(store)
}

/// The store on a standby for reads that tolerate lag, when `DATABASE_READ_URL` names one.
pub async fn open_read_store(settings: &StoreSettings) -> Result<Option<Store>, StoreError> {
    match settings.database_read_url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => Ok(Some(Store::open_replica(url).await?)),
        None => Ok(None),
    }
}

/// What the running service decides by: deadlines, quotas, and its clock.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    pub policy: Policy,
    pub quotas: Quotas,
    pub clock: Clock,
}

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds the listener and starts the projections; serving starts with `run_until`.
    pub async fn build(store: Store, options: ServiceOptions, listen: SocketAddr) -> Result<Self, StartError> {
        let listener = TcpListener::bind(listen).await.map_err(|source| StartError::Listen {
            address: listen,
            source,
        })?;
        crate::telemetry::metrics();
        let engine = Engine::new(store.clone(), options.policy, options.clock);
        let projector = Projector::new(store);
        projector.spawn(engine.appended());
        let state = AppState {
            engine: Arc::new(engine),
            projector,
            quotas: options.quotas,
            limits: RateLimits::default(),
        };
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let backend = self.state.engine.store().backend();
        tracing::info!(address = %self.listener.local_addr()?, store = backend, "lianxin is serving");
        let router = http::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
