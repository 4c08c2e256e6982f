//! The `hookgate` command: parse arguments, set up logging, and call the library.

#[path = "hookgate/admin_client.rs"]
mod admin_client;
#[path = "hookgate/destinations.rs"]
mod destinations;
#[path = "hookgate/events.rs"]
mod events;
#[path = "hookgate/generate.rs"]
mod generate;
#[path = "hookgate/ninjaone.rs"]
mod ninjaone;
#[cfg(feature = "otel")]
#[path = "hookgate/otel.rs"]
mod otel;
#[path = "hookgate/send.rs"]
mod send;
#[path = "hookgate/sources.rs"]
mod sources;
#[path = "hookgate/verify.rs"]
mod verify;

use self::generate::{generate, generate_module};
use self::send::{Target, resolve_target, send_all, send_event};
use self::verify::{Captured, paint, verify_captured};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use hookgate::config::Config;
use hookgate::profile::Profile;
use hookgate::serve::{Listeners, ServeError};
use hookgate::{Secret, SecretRef, Source, app, client};

/// `println!` that does not panic when standard output is closed (`hookgate send --list | head`).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Receive webhooks safely: verify, deduplicate, and route signed events.
#[derive(Parser)]
#[command(
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  hookgate serve                          the embedded default, no configuration\n  \
                  hookgate serve --config hookgate.toml\n  \
                  hookgate send homa --all                every example of a sender's spec, signed\n  \
                  hookgate verify homa --secret env:S --request captured.http\n  \
                  hookgate events tail                    follow events as they arrive\n\n\
                  Exit codes: 0 success; 1 the command's check failed (problems, refusals, a failed\n\
                  verification; each says why); 2 usage, input or connection error; 3 (verify) a valid\n\
                  signature on a stale event. Colour and progress only on a terminal; NO_COLOR turns\n\
                  colour off."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Without --config, every seed sender is mounted at /hooks/<profile> with a
    /// secret generated once into the data directory, and events are printed as JSON lines.
    #[command(after_help = "Examples:\n  hookgate serve\n  hookgate serve --config hookgate.toml")]
    Serve {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen address, overriding the configuration (port 0 picks a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Data directory of the embedded default.
        #[arg(long, default_value = "hookgate-data")]
        data_dir: PathBuf,
    },
    /// Check a configuration and its secrets; lists every problem and exits non-zero if any.
    Check {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Generate a receiver crate with typed events and handler stubs from an OpenAPI webhook spec.
    #[command(
        after_help = "Examples:\n  hookgate gen --spec spec/ninjarmm/webhook.yaml --out ninjarmm-receiver --profile ninjarmm\n  \
                            hookgate gen --spec orders.yaml --out orders --type-field /type"
    )]
    Gen {
        /// OpenAPI document (3.0 with paths or x-webhooks, 3.1 with webhooks), YAML or JSON.
        #[arg(long)]
        spec: PathBuf,
        /// Directory of the crate (created if needed).
        #[arg(long, required_unless_present = "module")]
        out: Option<PathBuf>,
        /// Crate name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
        /// Sender profile (ninjaone, ninjarmm, webnet, homa, opscenter, standard-webhooks,
        /// github, stripe, slack, shopify, generic).
        #[arg(long, default_value = "generic")]
        profile: String,
        /// JSON pointer to the event type, for the generic profile (inferred when absent).
        #[arg(long)]
        type_field: Option<String>,
        /// Depend on hookgate at this path instead of crates.io.
        #[arg(long)]
        hookgate_path: Option<PathBuf>,
        /// Also overwrite src/handlers.rs and tests/examples.rs.
        #[arg(long)]
        force: bool,
        /// Write one self-contained module (types, event enum, TypedEvent impls) to this file
        /// instead of a crate; --out is then not needed.
        #[arg(long, conflicts_with = "force")]
        module: Option<PathBuf>,
        /// How the module names hookgate (`crate` for the modules inside hookgate itself).
        #[arg(long, default_value = "hookgate", requires = "module")]
        hookgate_crate: String,
    },
    /// Query the delivery log, replay events, retry dead letters, purge: through the admin API
    /// of a running gateway, or on the spool of a stopped one.
    #[command(
        after_help = "Examples:\n  hookgate events list --status dead\n  hookgate events show 42\n  \
                            hookgate events replay 42\n  hookgate events retry --source ninja\n  \
                            hookgate events --config hookgate.toml list --type 'ALERT_*' --since 2h"
    )]
    Events {
        #[command(flatten)]
        connection: events::Connection,
        #[command(subcommand)]
        action: events::Action,
    },
    /// Manage the sources of a running gateway through its admin API: list, create, enable,
    /// disable, rotate and retire secrets, delete, test, and list a source's event types.
    Sources {
        #[command(flatten)]
        connection: sources::Connection,
        #[command(subcommand)]
        action: sources::Action,
    },
    /// Control the destinations of a running gateway through its admin API: list, pause,
    /// resume, set limits, reset; list and release ordering keys blocked by a dead letter.
    #[command(
        after_help = "Examples:\n  hookgate destinations list\n  hookgate destinations pause billing\n  \
                            hookgate destinations set billing --rate 20\n  hookgate destinations blocked"
    )]
    Destinations {
        #[command(flatten)]
        connection: sources::Connection,
        #[command(subcommand)]
        action: destinations::Action,
    },
    /// Point NinjaOne's Activity webhook at a source (register, status, disable) through its
    /// Public API.
    Ninjaone {
        #[command(flatten)]
        connection: ninjaone::Connection,
        #[command(subcommand)]
        action: ninjaone::Action,
    },
    /// Check a captured request offline: does it verify for this source, and if not, why not
    /// (wrong secret, wrong header, re-serialized body, stale timestamp, ...).
    #[command(
        after_help = "Examples:\n  hookgate verify homa --secret env:HOMA_SECRET --request captured.http\n  \
                            hookgate verify --config hookgate.toml --source ninja --headers h.txt --body body.json\n\n\
                            A captured request is the request line, the headers, a blank line and the exact body\n\
                            bytes; --headers takes `Name: value` lines (a request or status line is skipped).\n\n\
                            Exit codes: 0 verified; 1 not verified (the reason is printed); 3 verified but the\n\
                            event's timestamp is past the tolerance; 2 usage or input error."
    )]
    Verify {
        #[command(flatten)]
        sender: SenderArgs,
        /// A captured HTTP request: request line, headers, blank line, body.
        #[arg(long, conflicts_with_all = ["headers", "body"], required_unless_present = "headers")]
        request: Option<PathBuf>,
        /// Captured headers, one `Name: value` per line.
        #[arg(long, requires = "body")]
        headers: Option<PathBuf>,
        /// The exact body bytes, as received.
        #[arg(long)]
        body: Option<PathBuf>,
        /// How far an event's own timestamp may be from now.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        tolerance: std::time::Duration,
    },
    /// Build a sample event, sign it the way the real sender does, POST it, print the answer.
    #[command(
        after_help = "Examples:\n  hookgate send ninjaone\n  hookgate send ninjaone --now\n  \
                            hookgate send homa --event ticket.closed\n  \
                            hookgate send homa --all\n  \
                            hookgate send --config hookgate.toml --source ninja --body alert.json\n\n\
                            Exit codes: 0 every event got a 2xx; 1 one or more did not; 2 usage or input error."
    )]
    Send {
        #[command(flatten)]
        sender: SenderArgs,
        /// Where to POST; defaults to the local gateway's path for the profile or source.
        #[arg(long)]
        url: Option<String>,
        /// Event type of the sample to send (see --list).
        #[arg(long)]
        event: Option<String>,
        /// Send this file as the body instead of a sample.
        #[arg(long)]
        body: Option<PathBuf>,
        /// Make the sample a new event: its timestamp now and, where the sender has an id
        /// field, a fresh id. Without it the sample is the spec's example as written, so sending
        /// it twice sends one event twice (the second answer is 200 duplicate).
        #[arg(long, conflicts_with = "body")]
        now: bool,
        /// List the sample event types of each profile and exit.
        #[arg(long)]
        list: bool,
        /// Send every example of the source's spec, one after another (each a new event).
        #[arg(long, conflicts_with_all = ["event", "body", "list", "now"])]
        all: bool,
    },
}

/// What must live until the end of `main` for telemetry to be flushed.
struct Telemetry {
    #[cfg(feature = "otel")]
    _otel: otel::Guard,
}

/// Which sender to act as: a profile with a secret, or a source of a configuration.
#[derive(clap::Args)]
struct SenderArgs {
    /// Sender profile (ninjaone, ninjarmm, webnet, homa, opscenter; standard-webhooks, github,
    /// stripe, slack, shopify with --body).
    profile: Option<String>,
    /// Take the source (profile, path, secrets) from this configuration.
    #[arg(long, short, requires = "source")]
    config: Option<PathBuf>,
    /// Name of the source in --config.
    #[arg(long)]
    source: Option<String>,
    /// Secret reference (env:NAME or file:PATH); defaults to the embedded default's secret in
    /// --data-dir.
    #[arg(long)]
    secret: Option<String>,
    /// Data directory of the embedded default.
    #[arg(long, default_value = "hookgate-data")]
    data_dir: PathBuf,
}

impl SenderArgs {
    /// The sender, and where to POST (`url`, or the local gateway's path for it).
    fn target(self, url: Option<String>) -> Target {
        Target {
            profile: self.profile,
            config: self.config,
            source: self.source,
            url,
            secret: self.secret,
            data_dir: self.data_dir,
        }
    }
}

fn init_logging(configured: hookgate::config::LogFormat) -> Telemetry {
    use hookgate::config::LogFormat;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, Registry};
    // The store's own info lines (memtable flushes, ingestion) are noise at the default level.
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,fjall=warn,lsm_tree=warn"))
    };
    // Colours only on a terminal: a log collector reading a pipe gets plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let format = match std::env::var("HOOKGATE_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("pretty") => LogFormat::Pretty,
        Ok("text") => LogFormat::Text,
        _ => configured,
    };
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Pretty => fmt.pretty().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    // Each layer has its own filter: the per-request span (DEBUG, target `hookgate::request`)
    // is formatted into log lines only when RUST_LOG asks for it, and exported whenever OTLP
    // export is on.
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter()));
    #[cfg(feature = "otel")]
    let (export, guard) = otel::layer();
    #[cfg(feature = "otel")]
    let export_filter = match format!("{}=debug", hookgate::observe::REQUEST_SPAN_TARGET).parse() {
        Ok(request_spans) => filter().add_directive(request_spans),
        Err(_) => filter(),
    };
    #[cfg(feature = "otel")]
    let registry = registry.with(export.with_filter(export_filter));
    registry.init();
    Telemetry {
        #[cfg(feature = "otel")]
        _otel: guard,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `server.worker_threads` and `log.format` decide the runtime and the logger, so they are
    // read before either exists; any problem with the file is reported by `serve` itself.
    let (workers, log_format) = match &cli.command {
        Command::Serve {
            config: Some(path), ..
        } => Config::load(path)
            .map(|c| (c.server.worker_threads, c.log.format))
            .unwrap_or_default(),
        _ => Default::default(),
    };
    let _telemetry = init_logging(log_format);
    let mut builder = match workers {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if workers > 1 {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                config,
                listen,
                data_dir,
            } => serve(config, listen, data_dir).await,
            Command::Check { config } => check(config),
            Command::Events { connection, action } => events::run(connection, action).await,
            Command::Ninjaone { connection, action } => ninjaone::run(connection, action).await,
            Command::Sources { connection, action } => sources::run(connection, action).await,
            Command::Destinations { connection, action } => {
                destinations::run(connection, action).await
            }
            Command::Gen {
                spec,
                out,
                name,
                profile,
                type_field,
                hookgate_path,
                force,
                module,
                hookgate_crate,
            } => match module {
                Some(module) => generate_module(&spec, &profile, &module, &hookgate_crate),
                None => generate(
                    spec,
                    out.unwrap_or_default(),
                    name,
                    &profile,
                    type_field,
                    hookgate_path,
                    force,
                ),
            },
            Command::Verify {
                sender,
                request,
                headers,
                body,
                tolerance,
            } => {
                let target = sender.target(Some(String::new()));
                let captured = match (request, headers, body) {
                    (Some(request), _, _) => Captured::Request(request),
                    (None, Some(headers), Some(body)) => Captured::Parts(headers, body),
                    _ => bail!("give --request, or --headers with --body"),
                };
                verify_captured(&target, &captured, tolerance)
            }
            Command::Send {
                sender,
                url,
                event,
                body,
                now,
                list,
                all,
            } => {
                if list {
                    for p in Profile::SEEDS {
                        outln!("{:<10} {}", p.name(), p.sample_events().join(", "));
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                let target = sender.target(url);
                if all {
                    return send_all(&target).await;
                }
                send_event(target, event, body, now).await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(
    config_path: Option<PathBuf>,
    listen: Option<String>,
    data_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    let (config, origin, default_secret) = match &config_path {
        Some(path) => (Config::load(path)?, path.display().to_string(), None),
        None => {
            let (config, secret) = app::embedded_config(&data_dir, listen.as_deref())
                .with_context(|| {
                    format!("cannot prepare the data directory {}", data_dir.display())
                })?;
            (config, "embedded default".to_owned(), Some(secret))
        }
    };
    let mut config = config;
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    // Metrics are recorded from here on and served on the admin listener's /metrics.
    if let Err(error) = hookgate::metrics::install_prometheus() {
        tracing::warn!(%error, "metrics are off");
    }
    let prepared = match hookgate::serve::prepare(&config, &origin) {
        Ok(prepared) => prepared,
        Err(ServeError::Config(e)) => {
            eprint!("{e}");
            eprintln!("hookgate refuses to start until these are fixed.");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let listener = prepared.bind_public().await?;
    let addr = listener.local_addr()?;
    eprintln!("hookgate listening on http://{addr}");
    for m in prepared.mounts() {
        eprintln!(
            "  POST {:<20} {:<10} secrets {}  routes: {}",
            m.path,
            m.profile,
            m.secret_fingerprints.join(","),
            m.routes.join("; ")
        );
    }
    for w in prepared.warnings() {
        eprintln!("warning: {w}");
    }
    if let Some(secret) = default_secret {
        eprintln!(
            "embedded default: every seed sender shares this secret (stored in {}):\n  {secret}\n\
             try it: hookgate send ninjaone --url http://{addr}/hooks/ninjaone",
            app::default_secret_path(&data_dir).display()
        );
    }
    match prepared.spool_path() {
        Some(path) => eprintln!(
            "events are stored in {} (fsync'd) before the 202, then delivered",
            path.display()
        ),
        None => eprintln!("spool disabled: routes run before the answer; nothing survives a crash"),
    }
    let admin = prepared.bind_admin().await?;
    if let Some(admin) = &admin {
        eprintln!(
            "admin API on http://{} (bearer token required)",
            admin.local_addr()?
        );
    }
    let listeners = Listeners {
        public: listener,
        admin,
    };
    prepared.run(listeners, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A profile named on the command line.
fn profile_arg(name: &str) -> anyhow::Result<Profile> {
    Profile::from_name(name).with_context(|| {
        format!(
            "unknown profile {name:?} (known: {})",
            Profile::names().join(", ")
        )
    })
}

fn check(path: PathBuf) -> anyhow::Result<ExitCode> {
    let origin = path.display().to_string();
    let built = Config::load(&path)
        .and_then(|c| app::build::<http_body_util::Full<Bytes>>(&c, &origin, None));
    match built {
        Ok(app) => {
            outln!("{origin}: OK");
            for m in &app.mounts {
                outln!(
                    "  {} ({}) at {} with {} secret(s); routes: {}",
                    m.name,
                    m.profile,
                    m.path,
                    m.secret_fingerprints.len(),
                    if m.routes.is_empty() {
                        "none".into()
                    } else {
                        m.routes.join("; ")
                    }
                );
            }
            for w in &app.warnings {
                outln!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
