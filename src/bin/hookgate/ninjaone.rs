//! `hookgate ninjaone register | status | disable`: point NinjaOne's Activity webhook at a source.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use hookgate::config::{Config, source_from_config};
use hookgate::ninjaone::{NinjaOneApi, NinjaOneError, Registration, Status};
use hookgate::{Secret, SecretRef};

use crate::outln;

/// Which NinjaOne API client to act as. Each setting comes from its flag, else its environment
/// variable, else the configuration's `[ninjaone]` section.
#[derive(clap::Args)]
pub struct Connection {
    /// The configuration: its `[ninjaone]` section and, for `register`, the source.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// NinjaOne region (us, us2, eu, ca, oc) or the API's base URL [default: us].
    #[arg(long, env = "NINJAONE_REGION", global = true)]
    region: Option<String>,
    /// The API client's id.
    #[arg(long, env = "NINJAONE_CLIENT_ID", global = true)]
    client_id: Option<String>,
    /// The API client's secret as a reference (env:NAME or file:PATH); the environment variable
    /// NINJAONE_CLIENT_SECRET may hold the secret itself.
    #[arg(long, global = true)]
    client_secret: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Register NinjaOne's webhook (replacing any other: one per API client) so that it posts to
    /// a ninjarmm source, sending the source's token as a custom header.
    #[command(
        after_help = "Example:\n  hookgate ninjaone register --config hookgate.toml --source ninjarmm \\\n    \
                      --public-url https://hooks.example.com --activities CONDITION=* --expand device\n\n\
                      Exit codes: 0 registered; 1 NinjaOne refused (403: needs a system administrator's\n\
                      credentials); 2 usage, configuration or connection error."
    )]
    Register {
        /// The source NinjaOne should post to (in --config).
        #[arg(long)]
        source: String,
        /// The gateway's public base URL (the source's path is appended), or the full callback URL.
        #[arg(long)]
        public_url: String,
        /// Activity types and status codes: TYPE=* or TYPE=STATUS,STATUS (repeatable).
        #[arg(long, required = true)]
        activities: Vec<String>,
        /// Embed these in each activity: device, organization, location (repeatable).
        #[arg(long)]
        expand: Vec<String>,
        /// Only these organizations' activities (repeatable).
        #[arg(long)]
        organization: Vec<u64>,
    },
    /// Show what NinjaOne has registered (custom header values masked).
    Status,
    /// Disable NinjaOne's webhook.
    Disable,
}

pub async fn run(connection: Connection, action: Action) -> anyhow::Result<ExitCode> {
    let config = match &connection.config {
        Some(path) => Some(Config::load(path)?),
        None => None,
    };
    let api = api(&connection, config.as_ref())?;
    let outcome = match action {
        Action::Register {
            source,
            public_url,
            activities,
            expand,
            organization,
        } => {
            let Some(config) = &config else {
                bail!("--source needs the configuration it is in: pass --config");
            };
            let Some(sc) = config.sources.iter().find(|s| s.name == source) else {
                bail!("the configuration has no source named {source:?}");
            };
            let built = source_from_config(sc)?;
            let registration = Registration::for_source(
                &built,
                &sc.mount_path(),
                &public_url,
                &activities,
                &expand,
                &organization,
            )?;
            api.register(&registration).await.map(|()| {
                let kinds: Vec<String> = registration
                    .activities
                    .iter()
                    .map(|(kind, statuses)| format!("{kind}={}", statuses.join(",")))
                    .collect();
                outln!(
                    "registered with NinjaOne ({}): it posts {} to {}{}",
                    api.base(),
                    kinds.join(" "),
                    registration.url_without_query(),
                    match registration.headers.first() {
                        Some(h) => format!(" with the source's token in {}", h.name),
                        None => " with the source's token in the query".to_owned(),
                    }
                );
            })
        }
        Action::Status => api.status().await.map(|status| match status {
            Status::Registered(json) => outln!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string())
            ),
            Status::NotRegistered => {
                outln!("no webhook is registered with NinjaOne ({})", api.base())
            }
        }),
        Action::Disable => api
            .disable()
            .await
            .map(|()| outln!("NinjaOne's webhook is disabled ({})", api.base())),
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // NinjaOne answered, and said no: the check failed (1). Reaching it failed: 2.
        Err(
            e @ (NinjaOneError::Forbidden { .. }
            | NinjaOneError::Credentials { .. }
            | NinjaOneError::Status { .. }),
        ) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

fn api(connection: &Connection, config: Option<&Config>) -> anyhow::Result<NinjaOneApi> {
    let section = config.map(|c| &c.ninjaone);
    let region = connection
        .region
        .clone()
        .or_else(|| section.and_then(|s| s.region.clone()))
        .unwrap_or_else(|| "us".to_owned());
    let client_id = connection
        .client_id
        .clone()
        .or_else(|| section.and_then(|s| s.client_id.clone()))
        .context("no NinjaOne client id: pass --client-id, set NINJAONE_CLIENT_ID, or [ninjaone] client_id")?;
    let reference = connection
        .client_secret
        .clone()
        .or_else(|| section.and_then(|s| s.client_secret.clone()));
    let secret = match (reference, std::env::var("NINJAONE_CLIENT_SECRET")) {
        (Some(reference), _) => SecretRef::parse(&reference, 1)?.resolve()?,
        (None, Ok(value)) => Secret::new(value.into_bytes(), "env:NINJAONE_CLIENT_SECRET")?,
        (None, Err(_)) => bail!(
            "no NinjaOne client secret: pass --client-secret env:NAME, set NINJAONE_CLIENT_SECRET, \
             or [ninjaone] client_secret"
        ),
    };
    let mut api = NinjaOneApi::new(&region, client_id, secret)?;
    if let Some(scope) = section.and_then(|s| s.scope.clone()) {
        api = api.scope(scope);
    }
    Ok(api)
}
