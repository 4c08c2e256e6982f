//! `hookgate sources ...`: the sources API of a running gateway, from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use hookgate::config::Config;
use serde_json::{Value, json};

use crate::admin_client::AdminClient;
use crate::outln;

/// Which admin API, with which token (a tenant's token sees only that tenant's sources).
#[derive(clap::Args)]
pub struct Connection {
    /// Configuration file: its `[admin]` listen address and token.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Admin API base URL of a running gateway, e.g. http://127.0.0.1:9091.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Reference to the admin token (env:NAME or file:PATH) [default: env:HOOKGATE_ADMIN_TOKEN,
    /// or admin.token of --config].
    #[arg(long, global = true)]
    token: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// List the sources (the configuration file's too, read-only).
    List,
    /// Show one source: its secrets by fingerprint only.
    Get {
        /// The source's id.
        id: String,
    },
    /// Create a source; a generated secret is printed once.
    #[command(
        after_help = "Examples:\n  hookgate sources create --name billing --profile stripe --secret-env STRIPE_SECRET --route '*=log'\n  \
                      hookgate sources create --name tickets --profile homa --route 'ticket.*=log'\n  \
                      hookgate sources create --json source.json"
    )]
    Create {
        /// Name.
        #[arg(long, required_unless_present = "json")]
        name: Option<String>,
        /// Profile (homa, stripe, standard-webhooks, generic, ...).
        #[arg(long, required_unless_present = "json")]
        profile: Option<String>,
        /// Mount path [default: /hooks/<name>].
        #[arg(long)]
        path: Option<String>,
        /// Tenant (a tenant's token creates in its own).
        #[arg(long)]
        tenant: Option<String>,
        /// Routes: EVENTS=DESTINATION, e.g. 'ticket.*=log' (repeatable).
        #[arg(long = "route")]
        routes: Vec<String>,
        /// Take the secret from this environment variable instead of generating one.
        #[arg(long)]
        secret_env: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        /// The whole request as a JSON file (the keys of a [[source]] table, routes, secret).
        #[arg(long, conflicts_with_all = ["name", "profile", "path", "tenant", "routes", "secret_env"])]
        json: Option<PathBuf>,
    },
    /// Enable a source.
    Enable {
        /// The source's id.
        id: String,
    },
    /// Disable a source: it answers 403 source_disabled.
    Disable {
        /// The source's id.
        id: String,
    },
    /// Add a secret (generated and printed once unless --secret-env), retiring the others later.
    Rotate {
        /// The source's id.
        id: String,
        /// Take the new secret from this environment variable.
        #[arg(long)]
        secret_env: Option<String>,
        /// The other secrets stop being accepted this long from now.
        #[arg(long, default_value = "24h")]
        retire_after: String,
    },
    /// Make one secret stop being accepted, now or at a given time.
    Retire {
        /// The source's id.
        id: String,
        /// The secret's fingerprint (see `get`).
        fingerprint: String,
        /// When (RFC 3339) [default: now].
        #[arg(long)]
        at: Option<String>,
    },
    /// Delete a source (its events stay in the log).
    Delete {
        /// The source's id.
        id: String,
    },
    /// Push a signed sample event through the source's stages and show each verdict, and
    /// which routes it matches and why.
    Test {
        /// The source's id.
        id: String,
        /// Which event type's example.
        #[arg(long)]
        event: Option<String>,
        /// Send this JSON body instead of an example (`@FILE` reads it from a file), e.g. to
        /// see which routes' conditions it meets.
        #[arg(long, conflicts_with = "event")]
        body: Option<String>,
        /// Sign with the secret in this environment variable (what the sender has).
        #[arg(long)]
        secret_env: Option<String>,
    },
    /// The event types a source's spec knows.
    Events {
        /// The source's name.
        source: String,
    },
}

/// The admin API `conn` names: `--url`, or the `[admin]` listen address of `--config`, with
/// its token.
pub(crate) fn connect(conn: &Connection) -> anyhow::Result<AdminClient> {
    let config = match &conn.config {
        Some(path) => Some(Config::load(path)?),
        None => None,
    };
    let base = match (
        &conn.url,
        config.as_ref().and_then(|c| c.admin.listen.clone()),
    ) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(listen)) => format!("http://{listen}"),
        (None, None) => bail!("pass --url, or a --config whose [admin] sets listen"),
    };
    let reference = conn
        .token
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.admin.token.clone()))
        .unwrap_or_else(|| "env:HOOKGATE_ADMIN_TOKEN".to_owned());
    AdminClient::new(
        &base,
        &reference,
        "the admin token (--token, admin.token of --config, or HOOKGATE_ADMIN_TOKEN)",
    )
}

fn secret_from_env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("the environment variable {name} is not set"))
}

fn routes(specs: &[String]) -> anyhow::Result<Vec<Value>> {
    specs
        .iter()
        .map(|spec| {
            let (events, to) = spec
                .rsplit_once('=')
                .with_context(|| format!("--route {spec:?}: write EVENTS=DESTINATION"))?;
            Ok(json!({
                "events": events.split(',').map(str::trim).collect::<Vec<_>>(),
                "to": to.trim(),
            }))
        })
        .collect()
}

/// The route stage's verdicts, one route a line, each condition below it:
///
/// ```text
///           matched     ticket.* -> urgent: "ticket.created" matches "ticket.*"
///                         held      "/data/priority" is "high", one of ["high","urgent"]
///           not matched * -> big: "ticket.created" matches "*"
///                         failed    "/data/ticket_id" is 7, not >= 100
/// ```
fn print_routes(routes: &Value) {
    for route in routes.as_array().into_iter().flatten() {
        let text = |key: &str| route[key].as_str().unwrap_or("").to_owned();
        outln!(
            "{:<9} {:<11} {} -> {}: {}",
            "",
            if route["matched"] == true {
                "matched"
            } else {
                "not matched"
            },
            text("pattern"),
            text("to"),
            text("type"),
        );
        for condition in route["when"].as_array().into_iter().flatten() {
            outln!(
                "{:<21} {:<9} {}",
                "",
                if condition["held"] == true {
                    "held"
                } else {
                    "failed"
                },
                condition["why"].as_str().unwrap_or("")
            );
        }
    }
}

fn print(value: &Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

pub async fn run(conn: Connection, action: Action) -> anyhow::Result<ExitCode> {
    let api = connect(&conn)?;
    let answer = match action {
        Action::List => {
            let answer = api.call("GET", "/sources", None).await?;
            for s in answer["sources"].as_array().into_iter().flatten() {
                outln!(
                    "{:<22} {:<16} {:<18} {:<22} {}{}",
                    s["id"].as_str().unwrap_or(""),
                    s["name"].as_str().unwrap_or(""),
                    s["profile"].as_str().unwrap_or(""),
                    s["path"].as_str().unwrap_or(""),
                    if s["enabled"] == true {
                        "enabled"
                    } else {
                        "DISABLED"
                    },
                    if s["read_only"] == true {
                        " (configuration file)"
                    } else {
                        ""
                    },
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Action::Get { id } => api.call("GET", &format!("/sources/{id}"), None).await?,
        Action::Create {
            name,
            profile,
            path,
            tenant,
            routes: route_specs,
            secret_env,
            disabled,
            json: file,
        } => {
            let body = match file {
                Some(file) => serde_json::from_slice(
                    &std::fs::read(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?,
                )
                .with_context(|| format!("{} is not JSON", file.display()))?,
                None => {
                    let mut body = json!({
                        "name": name,
                        "profile": profile,
                        "routes": routes(&route_specs)?,
                        "enabled": !disabled,
                    });
                    if let Some(path) = path {
                        body["path"] = Value::from(path);
                    }
                    if let Some(tenant) = tenant {
                        body["tenant"] = Value::from(tenant);
                    }
                    if let Some(env) = secret_env {
                        body["secret"] = Value::from(secret_from_env(&env)?);
                    }
                    body
                }
            };
            api.call("POST", "/sources", Some(body)).await?
        }
        Action::Enable { id } => {
            api.call(
                "PATCH",
                &format!("/sources/{id}"),
                Some(json!({"enabled": true})),
            )
            .await?
        }
        Action::Disable { id } => {
            api.call(
                "PATCH",
                &format!("/sources/{id}"),
                Some(json!({"enabled": false})),
            )
            .await?
        }
        Action::Rotate {
            id,
            secret_env,
            retire_after,
        } => {
            let mut body = json!({"retire_others_after": retire_after});
            if let Some(env) = secret_env {
                body["secret"] = Value::from(secret_from_env(&env)?);
            }
            api.call("POST", &format!("/sources/{id}/secrets"), Some(body))
                .await?
        }
        Action::Retire {
            id,
            fingerprint,
            at,
        } => match at {
            Some(at) => {
                api.call(
                    "PATCH",
                    &format!("/sources/{id}/secrets/{fingerprint}"),
                    Some(json!({"not_after": at})),
                )
                .await?
            }
            None => {
                api.call(
                    "DELETE",
                    &format!("/sources/{id}/secrets/{fingerprint}"),
                    None,
                )
                .await?
            }
        },
        Action::Delete { id } => {
            api.call("DELETE", &format!("/sources/{id}"), None).await?;
            outln!("deleted {id}");
            return Ok(ExitCode::SUCCESS);
        }
        Action::Test {
            id,
            event,
            body: sample,
            secret_env,
        } => {
            let mut body = json!({});
            if let Some(event) = event {
                body["event"] = Value::from(event);
            }
            if let Some(sample) = sample {
                let text = match sample.strip_prefix('@') {
                    Some(path) => std::fs::read_to_string(path)
                        .with_context(|| format!("--body: cannot read {path}"))?,
                    None => sample,
                };
                body["body"] = serde_json::from_str(&text).context("--body is not JSON")?;
            }
            if let Some(env) = secret_env {
                body["secret"] = Value::from(secret_from_env(&env)?);
            }
            let report = api
                .call("POST", &format!("/sources/{id}/test"), Some(body))
                .await?;
            for stage in report["stages"].as_array().into_iter().flatten() {
                let mut detail = stage["detail"].clone();
                // Every route's verdict gets lines of its own, below the stage's.
                let routes = detail
                    .as_object_mut()
                    .and_then(|d| d.remove("routes"))
                    .unwrap_or(Value::Null);
                outln!(
                    "{:<9} {:<8} {}",
                    stage["stage"].as_str().unwrap_or(""),
                    stage["verdict"].as_str().unwrap_or(""),
                    if detail.is_null() {
                        String::new()
                    } else {
                        detail.to_string()
                    }
                );
                print_routes(&routes);
            }
            return Ok(if report["ok"] == true {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Action::Events { source } => {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            encoded.append_pair("source", &source);
            api.call(
                "GET",
                &format!("/events/available?{}", encoded.finish()),
                None,
            )
            .await?
        }
    };
    print(&answer);
    Ok(ExitCode::SUCCESS)
}
