//! `hookgate destinations ...`: a running gateway's destination controls (pause, resume,
//! `max_in_flight`, `rate`), circuit breakers and blocked ordering keys, through its admin API.

use std::process::ExitCode;

use crate::admin_client::with_query;
use serde_json::{Value, json};

use crate::outln;
use crate::sources::{Connection, connect};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Every destination: paused or not, circuit, in flight, pending, waiting, blocked keys.
    List,
    /// One destination, with its blocked keys and why.
    Show {
        /// The destination's name.
        name: String,
    },
    /// Send nothing to it: events are still accepted and kept (survives a restart).
    Pause {
        /// The destination's name.
        name: String,
    },
    /// Send to it again.
    Resume {
        /// The destination's name.
        name: String,
    },
    /// Change its limits at runtime (kept until `reset`).
    #[command(
        after_help = "Examples:\n  hookgate destinations set billing --max-in-flight 4\n  \
                      hookgate destinations set billing --rate 20 --burst 40"
    )]
    Set {
        /// The destination's name.
        name: String,
        /// Deliveries in flight at most.
        #[arg(long)]
        max_in_flight: Option<usize>,
        /// Deliveries started per second.
        #[arg(long)]
        rate: Option<f64>,
        /// Deliveries started at once (with --rate).
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
    },
    /// Drop the runtime changes: back to the configuration.
    Reset {
        /// The destination's name.
        name: String,
    },
    /// Ordering keys held back by a dead letter, and why.
    Blocked,
    /// Let a blocked key go on without its dead letter (which stays a dead letter; retry it
    /// with `hookgate events retry` to deliver it first instead).
    Release {
        /// The destination's name.
        destination: String,
        /// The blocked key.
        key: String,
    },
}

fn print_row(d: &Value) {
    let limits = [
        d["max_in_flight"]
            .as_u64()
            .map(|n| format!("max_in_flight={n}")),
        d["rate"].as_f64().map(|r| format!("rate={r}/s")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    outln!(
        "{:<24} {:<8} circuit={:<9} in_flight={:<4} pending={:<6} waiting={:<6} blocked={:<4} {}",
        d["destination"].as_str().unwrap_or(""),
        if d["paused"] == true {
            "PAUSED"
        } else {
            "running"
        },
        d["circuit"].as_str().unwrap_or(""),
        d["in_flight"],
        d["pending"],
        d["waiting"],
        d["blocked_keys"].as_array().map_or(0, Vec::len),
        limits,
    );
}

fn print_blocked(keys: &[Value]) {
    for k in keys {
        outln!(
            "{:<24} key {:?} blocked by event {} ({} waiting): {}",
            k["destination"].as_str().unwrap_or(""),
            k["key"].as_str().unwrap_or(""),
            k["blocked_by"],
            k["waiting"],
            k["last_error"].as_str().unwrap_or("a dead letter"),
        );
    }
}

pub async fn run(conn: Connection, action: Action) -> anyhow::Result<ExitCode> {
    let api = connect(&conn)?;
    let path = |name: &str, rest: &str| {
        let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        format!("/destinations/{name}{rest}")
    };
    let answer = match action {
        Action::List => {
            let answer = api.call("GET", "/destinations", None).await?;
            for d in answer["destinations"].as_array().into_iter().flatten() {
                print_row(d);
            }
            return Ok(ExitCode::SUCCESS);
        }
        Action::Show { name } => api.call("GET", &path(&name, ""), None).await?,
        Action::Pause { name } => api.call("POST", &path(&name, "/pause"), None).await?,
        Action::Resume { name } => api.call("POST", &path(&name, "/resume"), None).await?,
        Action::Set {
            name,
            max_in_flight,
            rate,
            burst,
        } => {
            let mut change = serde_json::Map::new();
            if let Some(n) = max_in_flight {
                change.insert("max_in_flight".into(), json!(n));
            }
            if let Some(r) = rate {
                change.insert("rate".into(), json!(r));
            }
            if let Some(b) = burst {
                change.insert("burst".into(), json!(b));
            }
            if change.is_empty() {
                anyhow::bail!("nothing to set: pass --max-in-flight or --rate");
            }
            api.call("PATCH", &path(&name, ""), Some(Value::Object(change)))
                .await?
        }
        Action::Reset { name } => api.call("POST", &path(&name, "/reset"), None).await?,
        Action::Blocked => {
            let answer = api.call("GET", "/blocked", None).await?;
            let keys = answer["blocked"].as_array().cloned().unwrap_or_default();
            if keys.is_empty() {
                outln!("no key is blocked");
            }
            print_blocked(&keys);
            return Ok(ExitCode::SUCCESS);
        }
        Action::Release { destination, key } => {
            let query = with_query(
                "/blocked/release",
                &[("destination", destination.as_str()), ("key", key.as_str())],
            );
            api.call("POST", &query, None).await?
        }
    };
    if answer.get("destination").is_some() && answer.get("circuit").is_some() {
        print_row(&answer);
        print_blocked(answer["blocked_keys"].as_array().map_or(&[], Vec::as_slice));
    } else {
        outln!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}
