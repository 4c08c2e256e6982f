//! Serve: run a configured gateway until shutdown, which is all `hookgate serve` does.
//!
//! Running a gateway is more than [`server::serve`]: the spool has to be opened before anything
//! is built on it, the [`Deliverer`](crate::delivery::Deliverer) and the admin API run beside
//! the webhook listener, the retention horizon is applied every [`SWEEP_EVERY`], and one
//! shutdown has to reach all of them. That lives here, in the library, so the binary only parses
//! arguments, sets up logging and metrics, prints the banner and maps errors to exit codes, and
//! so tests (and embedders) drive a whole gateway in-process (the mini-redis way: the listeners
//! and the shutdown future are parameters).
//!
//! It comes in three steps, so the caller can report between them:
//!
//! 1. [`prepare`] opens the spool and builds the [`App`] (every configuration problem at once);
//! 2. [`Prepared::bind`] binds the configured addresses (or bind listeners yourself, on
//!    `127.0.0.1:0` in a test);
//! 3. [`Prepared::run`] serves until the shutdown future completes, then waits for the
//!    deliverer, the admin API and the retention loop to stop.
//!
//! ```no_run
//! # async fn run(config: hookgate::config::Config) -> Result<(), hookgate::serve::ServeError> {
//! let prepared = hookgate::serve::prepare(&config, "hookgate.toml")?;
//! let listeners = prepared.bind().await?;
//! prepared
//!     .run(listeners, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{self, App, Mount};
use crate::config::{Config, ConfigError};
use crate::server;
use crate::spool::{Spool, SpoolError};

/// How often the retention horizon (`[spool] retention`) is applied.
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Why a gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration has problems; `hookgate serve` prints them and refuses to start.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The spool could not be opened (usually: another process holds it).
    #[error("cannot open the spool at {} (is another hookgate using it?)", path.display())]
    Spool {
        /// The spool's directory.
        path: PathBuf,
        /// What the store said.
        #[source]
        source: SpoolError,
    },
    /// The webhook listener could not be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The admin API's listener could not be bound.
    #[error("cannot listen on {addr} (admin API)")]
    ListenAdmin {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Serving failed (reading a listener's address, accepting connections).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A gateway built from a configuration, with its spool open, ready to bind and run.
pub struct Prepared {
    app: App<Incoming>,
    /// The open spool and where it is: `run` sweeps it, and the banner names the path.
    spool: Option<(Arc<Spool>, PathBuf)>,
    /// `[spool] retention`, applied every [`SWEEP_EVERY`].
    retention: Duration,
}

/// The listeners a [`Prepared`] gateway serves on.
#[derive(Debug)]
pub struct Listeners {
    /// The webhook listener.
    pub public: TcpListener,
    /// The admin API's listener. Without it the admin API is not served, even when configured.
    pub admin: Option<TcpListener>,
}

/// Open the spool (when `[spool]` is enabled) and build the gateway `config` describes.
///
/// `origin` names the configuration in error messages (its path, or "embedded default"). The
/// spool is opened first: a spool another process holds is [`ServeError::Spool`], and then every
/// configuration problem is reported at once as [`ServeError::Config`].
pub fn prepare(config: &Config, origin: &str) -> Result<Prepared, ServeError> {
    let spool = if config.spool.enabled {
        let path = config.spool_path();
        match Spool::open(&path) {
            Ok(opened) => Some((Arc::new(opened), path)),
            Err(source) => return Err(ServeError::Spool { path, source }),
        }
    } else {
        None
    };
    let app = app::build::<Incoming>(config, origin, spool.as_ref().map(|(s, _)| Arc::clone(s)))?;
    Ok(Prepared {
        app,
        spool,
        retention: config.spool.retention,
    })
}

impl Prepared {
    /// What is mounted where (secrets only by fingerprint), for the start-up banner.
    pub fn mounts(&self) -> &[Mount] {
        &self.app.mounts
    }

    /// Things that work but are probably not what was meant.
    pub fn warnings(&self) -> &[String] {
        &self.app.warnings
    }

    /// Where the spool is, when it is enabled (events are stored there before their 202).
    pub fn spool_path(&self) -> Option<&Path> {
        self.spool.as_ref().map(|(_, path)| path.as_path())
    }

    /// The configured webhook address (`server.listen`).
    pub fn listen(&self) -> SocketAddr {
        self.app.listen
    }

    /// The configured admin API address (`[admin] listen`), when the admin API is on.
    pub fn admin_listen(&self) -> Option<SocketAddr> {
        self.app.admin.as_ref().map(|(addr, _)| *addr)
    }

    /// Bind the configured webhook and admin addresses.
    pub async fn bind(&self) -> Result<Listeners, ServeError> {
        Ok(Listeners {
            public: self.bind_public().await?,
            admin: self.bind_admin().await?,
        })
    }

    /// Bind the configured webhook address only (`hookgate serve` prints its banner between
    /// this and [`bind_admin`](Self::bind_admin)).
    pub async fn bind_public(&self) -> Result<TcpListener, ServeError> {
        let addr = self.app.listen;
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen { addr, source })
    }

    /// Bind the configured admin API address, when the admin API is on.
    pub async fn bind_admin(&self) -> Result<Option<TcpListener>, ServeError> {
        match self.admin_listen() {
            Some(addr) => TcpListener::bind(addr)
                .await
                .map(Some)
                .map_err(|source| ServeError::ListenAdmin { addr, source }),
            None => Ok(None),
        }
    }

    /// Serve until `shutdown` completes, then stop everything and wait for it.
    ///
    /// Beside the webhook listener this runs the deliverer (spool on), the admin API (configured
    /// and given a listener) and the retention loop (spool on). When `shutdown` completes, the
    /// webhook listener stops accepting and drains its requests (`server.shutdown_grace`), and
    /// the others are told to stop through one watch channel; `run` returns when all of them
    /// have. The spool is closed when the last task holding it is gone, so it can be reopened
    /// once `run` returns.
    pub async fn run<F>(self, listeners: Listeners, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()>,
    {
        let Prepared {
            app,
            spool,
            retention,
        } = self;
        // One sender, many receivers: the tasks beside the server wait for `true`; if the sender
        // is dropped (the server failed), `wait_for` ends too, so nothing is left running.
        let (stop, stopped) = watch::channel(false);
        let stopped_by = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let mut background: Vec<JoinHandle<()>> = Vec::new();
        if let Some(deliverer) = app.deliverer.clone() {
            background.push(tokio::spawn(deliverer.run(stopped_by(stopped.clone()))));
        }
        if let Some(alerts) = app.alerts {
            background.push(tokio::spawn(alerts.run(stopped_by(stopped.clone()))));
        }
        if let (Some((_, router)), Some(listener)) = (app.admin, listeners.admin) {
            let shutdown = stopped_by(stopped.clone());
            background.push(tokio::spawn(async move {
                if let Err(error) =
                    server::serve(listener, router, Default::default(), shutdown).await
                {
                    tracing::error!(%error, "admin API stopped");
                }
            }));
        }
        if let Some((spool, _)) = spool {
            background.push(tokio::spawn(sweep_loop(spool, retention, stopped)));
        }
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        server::serve(listeners.public, app.gateway, app.server, shutdown).await?;
        for task in background {
            let _ = task.await;
        }
        Ok(())
    }
}

/// Apply the retention horizon now and every [`SWEEP_EVERY`] until told to stop.
async fn sweep_loop(spool: Arc<Spool>, retention: Duration, mut stopped: watch::Receiver<bool>) {
    loop {
        match spool.sweep(retention).await {
            Ok(swept) if swept.events > 0 => tracing::info!(
                events = swept.events,
                "retention: removed what is past the horizon"
            ),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "retention sweep failed"),
        }
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}
