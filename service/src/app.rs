//! The running service: open the store, apply migrations, bind the listener, serve until
//! told to stop. Tests build it on port 0 and read the port back.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use domain::Policy;
use projections::Quotas;
use tokio::net::TcpListener;

use crate::audit::{LogSigner, TransparencyLog};
use crate::http::serve::ConnectionLimits;
use crate::http::{self, AppState, RateLimits, Services, TrustedProxies};
use crate::read::{Projector, ReadStores};
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

/// What the running service decides by: deadlines, quotas, its clock, and its edge (how many
/// connections, how long they may idle, whose `X-Forwarded-For` to believe).
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    pub policy: Policy,
    pub quotas: Quotas,
    pub clock: Clock,
    pub connections: ConnectionLimits,
    pub trusted_proxies: TrustedProxies,
}

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: Services,
    connections: ConnectionLimits,
}

impl Application {
    /// Binds the listener and starts the projections; serving starts with `run_until`.
    pub async fn build(store: Store, options: ServiceOptions, listen: SocketAddr) -> Result<Self, StartError> {
        let listener = TcpListener::bind(listen).await.map_err(|source| StartError::Listen {
            address: listen,
            source,
        })?;
        crate::telemetry::metrics();
        let engine = Engine::new(store.clone(), options.policy.clone(), options.clock);
        let projector = Projector::new(store.clone(), options.policy).with_recent_appends(engine.follow_appends());
        let transparency = TransparencyLog::new(store.clone()).with_recent_appends(engine.follow_appends());
        let reads = ReadStores::new(store.clone(), None);
        projector.spawn(engine.appended());
        let engine = Arc::new(engine);
        // In the background: a server not reachable yet must not hold up the start.
        let opening = Arc::clone(&engine);
        tokio::spawn(async move {
            if let Err(error) = opening.open_connections(usize::MAX).await {
                tracing::warn!(%error, "cannot open the command path's connections ahead of time");
            }
        });
        let limits = RateLimits::default();
        limits.spawn_trimming();
        let state = Services {
            engine,
            projector,
            quotas: Arc::new(options.quotas),
            limits,
            trusted_proxies: options.trusted_proxies,
            transparency,
            tokens: Arc::default(),
            reads,
        };
        Ok(Application {
            listener,
            state,
            connections: options.connections,
        })
    }

    /// Signs a checkpoint of the log's Merkle tree every `interval` while the log grows.
    pub fn with_signer(mut self, signer: LogSigner, interval: Duration) -> Self {
        self.state.transparency = self.state.transparency.with_signer(signer, interval);
        self
    }

    /// Sends reads that tolerate lag to `standby` (see [`crate::read::standby`]).
    pub fn with_read_standby(mut self, standby: Store) -> Self {
        self.state.reads = ReadStores::new(self.state.engine.store().clone(), Some(standby));
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let backend = self.state.engine.store().backend();
        tracing::info!(address = %self.listener.local_addr()?, store = backend, "lianxin is serving");
        self.state.transparency.spawn(self.state.engine.appended());
        http::serve::serve(
            self.listener,
            http::router(AppState::new(self.state)),
            self.connections,
            shutdown,
        )
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
