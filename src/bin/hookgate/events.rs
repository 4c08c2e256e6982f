//! `hookgate events`: the delivery log from the command line.
//!
//! Against a running gateway it speaks to the admin API (`--url`, or `[admin] listen` of
//! `--config`) with the bearer token; against a stopped one it opens the spool itself. Both run
//! the same operations ([`hookgate::admin::Ops`]) and print the same JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hookgate::admin::{Ops, Query};
use hookgate::app;
use hookgate::config::Config;
use serde_json::Value;

use crate::admin_client::{AdminClient, with_query};

/// Where the delivery log is, and how to print it.
#[derive(Args)]
pub struct Connection {
    /// Configuration file: its admin API if `[admin] listen` is set, else its spool.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Data directory of the embedded default (its spool is `<data-dir>/spool`).
    #[arg(long, default_value = "hookgate-data", global = true)]
    data_dir: PathBuf,
    /// Admin API base URL of a running gateway, e.g. http://127.0.0.1:9091.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Reference to the admin token (env:NAME or file:PATH) for --url.
    #[arg(long, default_value = "env:HOOKGATE_ADMIN_TOKEN", global = true)]
    token: String,
    /// Print the raw JSON answer.
    #[arg(long, global = true)]
    json: bool,
}

/// Which events.
#[derive(Args, Default, Clone)]
pub struct FilterArgs {
    /// Source name.
    #[arg(long)]
    source: Option<String>,
    /// Event type, exact or glob (ALERT_*).
    #[arg(long = "type")]
    kind: Option<String>,
    /// Event id.
    #[arg(long)]
    id: Option<String>,
    /// pending, retrying, delivered, dead or unrouted.
    #[arg(long)]
    status: Option<String>,
    /// Has a delivery to this destination.
    #[arg(long)]
    destination: Option<String>,
    /// Received at or after: RFC 3339, or an age like 2h.
    #[arg(long)]
    since: Option<String>,
    /// Received before: RFC 3339, or an age like 2h.
    #[arg(long)]
    until: Option<String>,
    /// Only events below this sequence number (the `next` of the page before).
    #[arg(long)]
    before: Option<u64>,
    /// Events per page (default 50, at most 1000).
    #[arg(long)]
    limit: Option<usize>,
}

impl FilterArgs {
    fn query(self) -> Query {
        Query {
            source: self.source,
            kind: self.kind,
            id: self.id,
            status: self.status,
            destination: self.destination,
            since: self.since,
            until: self.until,
            before: self.before,
            limit: self.limit,
            ..Query::default()
        }
    }
}

/// What to do.
#[derive(Subcommand)]
pub enum Action {
    /// List events, newest first.
    List(FilterArgs),
    /// Show one event: headers, body, and every delivery with its attempts.
    Show {
        /// The event's sequence number (the `seq` of `list`).
        seq: u64,
    },
    /// Deliver one event again, or every event matching the filter.
    Replay {
        /// The event's sequence number; without it, the filter chooses.
        seq: Option<u64>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Deliver to this destination instead of the event's own ones.
        #[arg(long)]
        to: Option<String>,
        /// With no seq and no filter: replay every event.
        #[arg(long)]
        all: bool,
    },
    /// List the dead letters.
    Dead(FilterArgs),
    /// Retry dead letters: one event's, or every one matching the filter.
    Retry {
        /// The event's sequence number; without it, every matching dead letter.
        seq: Option<u64>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Follow new events as they arrive (a running gateway's admin API), like `tail -f`; the
    /// last few are printed first. Stop it with Ctrl-C.
    Tail {
        #[command(flatten)]
        filter: FilterArgs,
        /// How often to ask for new events.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        every: std::time::Duration,
        /// How many of the latest events to print first.
        #[arg(long, default_value_t = 10)]
        last: usize,
    },
    /// Remove settled events matching the filter (events still pending are kept).
    Purge {
        #[command(flatten)]
        filter: FilterArgs,
        /// With no filter: every settled event.
        #[arg(long)]
        all: bool,
    },
}

/// Where the admin token of `--url` or `--config` comes from, for the error when it does not
/// resolve.
const TOKEN_FROM: &str = "the admin token (--token, or admin.token of --config)";

/// One request, as the API names it.
struct Call {
    post: bool,
    path: String,
    query: Vec<(&'static str, String)>,
}

pub async fn run(conn: Connection, action: Action) -> anyhow::Result<ExitCode> {
    let config = match &conn.config {
        Some(path) => Some(Config::load(path)?),
        None => None,
    };
    let remote = match (&conn.url, &config) {
        (Some(url), _) => Some((url.trim_end_matches('/').to_owned(), conn.token.clone())),
        (None, Some(config)) => match (&config.admin.listen, &config.admin.token) {
            (Some(listen), Some(token)) => Some((format!("http://{listen}"), token.clone())),
            _ => None,
        },
        (None, None) => None,
    };
    let remote = remote
        .map(|(base, token)| AdminClient::new(&base, &token, TOKEN_FROM))
        .transpose()?;
    if let Action::Tail {
        filter,
        every,
        last,
    } = action
    {
        let Some(client) = remote else {
            bail!(
                "`events tail` follows a running gateway: pass --url, or a --config whose \
                 [admin] sets listen and token"
            );
        };
        return tail(&client, &filter, every, last, conn.json).await;
    }
    let table = matches!(action, Action::List(_) | Action::Dead(_));
    let answer = match remote {
        Some(client) => over_http(&client, call(&action)).await?,
        None => locally(&conn, config.as_ref(), action).await?,
    };
    if conn.json || !table {
        print(&answer);
    } else {
        print_table(&answer);
    }
    Ok(ExitCode::SUCCESS)
}

fn call(action: &Action) -> Call {
    let (post, path, query) = match action {
        Action::List(f) => (false, "/events".to_owned(), query_of(f)),
        Action::Dead(f) => (false, "/dead".to_owned(), query_of(f)),
        Action::Show { seq } => (false, format!("/events/{seq}"), Query::default()),
        Action::Replay {
            seq: Some(seq), to, ..
        } => (
            true,
            format!("/events/{seq}/replay"),
            Query {
                to: to.clone(),
                ..Query::default()
            },
        ),
        Action::Replay {
            seq: None,
            filter,
            to,
            all,
        } => (
            true,
            "/events/replay".to_owned(),
            Query {
                to: to.clone(),
                all: all.then_some(true),
                ..query_of(filter)
            },
        ),
        Action::Retry { seq: Some(seq), .. } => {
            (true, format!("/events/{seq}/retry"), Query::default())
        }
        Action::Retry { seq: None, filter } => (true, "/dead/retry".to_owned(), query_of(filter)),
        Action::Tail { filter, .. } => (false, "/events".to_owned(), query_of(filter)),
        Action::Purge { filter, all } => (
            true,
            "/events/purge".to_owned(),
            Query {
                all: all.then_some(true),
                ..query_of(filter)
            },
        ),
    };
    Call {
        post,
        path,
        query: query.pairs(),
    }
}

fn query_of(filter: &FilterArgs) -> Query {
    filter.clone().query()
}

async fn over_http(client: &AdminClient, call: Call) -> anyhow::Result<Value> {
    let method = if call.post { "POST" } else { "GET" };
    client
        .call(method, &with_query(&call.path, &call.query), None)
        .await
}

async fn locally(
    conn: &Connection,
    config: Option<&Config>,
    action: Action,
) -> anyhow::Result<Value> {
    let embedded;
    let config = match config {
        Some(config) => config,
        None => {
            embedded = app::embedded_config(&conn.data_dir, None)
                .with_context(|| format!("cannot read {}", conn.data_dir.display()))?
                .0;
            &embedded
        }
    };
    let path = config.spool_path();
    if !path.exists() {
        bail!("no spool at {} (nothing was received yet?)", path.display());
    }
    let spool = hookgate::spool::Spool::open(&path).with_context(|| {
        format!(
            "cannot open the spool at {}: a running gateway holds it; set [admin] listen and \
             token in its configuration, or pass --url, to manage it while it runs",
            path.display()
        )
    })?;
    let destinations = config.routes.iter().map(|r| r.to.clone()).collect();
    let ops = Ops::new(Arc::new(spool), None, destinations);
    let result = match action {
        Action::List(f) => ops.list(&f.query()),
        Action::Dead(f) => ops.dead(&f.query()),
        Action::Show { seq } => ops.show(seq),
        Action::Replay {
            seq: Some(seq), to, ..
        } => ops.replay(seq, to.as_deref()).await,
        Action::Replay {
            seq: None,
            filter,
            to,
            all,
        } => {
            let query = Query {
                all: all.then_some(true),
                ..filter.query()
            };
            ops.replay_matching(&query, to.as_deref()).await
        }
        Action::Retry { seq: Some(seq), .. } => ops.retry(seq).await,
        Action::Retry { seq: None, filter } => ops.retry_matching(&filter.query()).await,
        Action::Tail { filter, .. } => ops.list(&filter.query()),
        Action::Purge { filter, all } => {
            let query = Query {
                all: all.then_some(true),
                ..filter.query()
            };
            ops.purge(&query).await
        }
    };
    result.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Print the newest `last` events, then every new one, asking every `every`.
async fn tail(
    client: &AdminClient,
    filter: &FilterArgs,
    every: std::time::Duration,
    last: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let page = |limit: usize| Call {
        post: false,
        path: "/events".to_owned(),
        query: Query {
            limit: Some(limit),
            before: None,
            ..query_of(filter)
        }
        .pairs(),
    };
    if !json {
        print_header();
    }
    let mut seen: Option<u64> = None;
    let mut first = true;
    loop {
        let answer = over_http(client, page(if first { last.max(1) } else { 1000 })).await?;
        let events = answer
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // The API answers newest first; print oldest first, and only what is new.
        let mut new: Vec<&Value> = events
            .iter()
            .filter(|e| {
                let seq = e.get("seq").and_then(Value::as_u64).unwrap_or(0);
                seen.is_none_or(|s| seq > s)
            })
            .collect();
        if first {
            new.truncate(last);
        }
        new.reverse();
        for event in new {
            if let Some(seq) = event.get("seq").and_then(Value::as_u64) {
                seen = Some(seen.map_or(seq, |s| s.max(seq)));
            }
            if json {
                crate::outln!("{}", serde_json::to_string(event).unwrap_or_default());
            } else {
                print_row(event);
            }
        }
        first = false;
        tokio::time::sleep(every).await;
    }
}

fn print(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    crate::outln!("{text}");
}

fn print_table(answer: &Value) {
    let events = answer
        .get("events")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    print_header();
    for e in events {
        print_row(e);
    }
    if let Some(next) = answer.get("next").and_then(Value::as_u64) {
        crate::outln!("more: --before {next}");
    }
}

fn print_header() {
    crate::outln!(
        "{:>6}  {:<24}  {:<9}  {:<10}  {:<24}  {:<20}  DELIVERIES",
        "SEQ",
        "RECEIVED",
        "STATUS",
        "SOURCE",
        "TYPE",
        "ID"
    );
}

fn print_row(e: &Value) {
    let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    {
        let deliveries: Vec<String> = e
            .get("deliveries")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|d| {
                let mut s = format!(
                    "{}:{}({})",
                    text(d, "destination"),
                    text(d, "status"),
                    d.get("attempts").and_then(Value::as_u64).unwrap_or(0)
                );
                if let Some(error) = d.get("last_error").and_then(Value::as_str) {
                    if text(d, "status") != "delivered" {
                        s.push_str(&format!(" {error}"));
                    }
                }
                s
            })
            .collect();
        crate::outln!(
            "{:>6}  {:<24}  {:<9}  {:<10}  {:<24}  {:<20}  {}",
            e.get("seq").and_then(Value::as_u64).unwrap_or(0),
            text(e, "received_at"),
            text(e, "status"),
            text(e, "source"),
            text(e, "type"),
            text(e, "id"),
            deliveries.join("; ")
        );
    }
}
