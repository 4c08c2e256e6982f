//! The Redis Streams destination: append each event to a stream with `XADD`, and count it
//! delivered once Redis has answered the `XADD`.
//!
//! A stream keeps what it is given until it is trimmed, and any number of consumer groups can
//! read it at their own pace, which makes it a simple durable queue behind the gateway. Each
//! event becomes one entry with the fields `source`, `id`, `type` (the event type),
//! `verified_at` (RFC 3339, milliseconds: the signature is verified as the request arrives),
//! `content_type` when the sender gave one, and `body`: the exact received bytes (Redis strings
//! are binary-safe, so nothing is re-encoded).
//!
//! `XADD` has no duplicate detection of its own, and delivery is at least once: an answer lost
//! to a timeout or a dropped connection means the same event is sent again. So the append is
//! made idempotent per event by one Lua script, run atomically by Redis: it sets a marker key
//! `hookgate:xadd:{<stream>}:<source>:<id>` with `SET NX PX <window>`, and only when that
//! succeeded appends the entry and stores its id in the marker; when the marker already exists,
//! the event is already in the stream and the script answers with the entry id it got then. The
//! marker lives for the dedup window ([`RedisStreamDestination::dedup_window`], a day by
//! default). The stream key is the marker's Redis Cluster hash tag, so both keys live in the
//! same slot. A `:` or `%` in the source name is percent-encoded in the marker key, so two
//! different (source, id) pairs never share a marker.
//!
//! The stream key comes from a template with two placeholders, `{source}` and `{event}` (the
//! event type), [`DEFAULT_STREAM`] unless configured; a `{` or `}` in a value becomes `_`, so the
//! stream key has no hash tag a sender could choose (and a key that comes out empty is `_`).
//! With `maxlen`, every `XADD` trims the stream to about that many entries (`MAXLEN ~ n`: Redis
//! trims whole macro nodes only, so the stream can hold somewhat more); without it the stream is
//! never trimmed.
//!
//! The connection is made on the first delivery, not at start-up, so hookgate starts while Redis
//! is down; a failed connection is a retried delivery, and the next delivery connects again. Once
//! connected, the connection manager reconnects by itself. Only `redis://` URLs (and Unix
//! sockets, `redis+unix:///path`) are supported: this build has no TLS for Redis, so `rediss://`
//! is refused when the destination is built. Credentials can be given in the URL
//! (`redis://user:password@host:6379/0`); they never appear in `Debug` output or errors.
//!
//! Outcomes: an answer from Redis (a new entry or a duplicate) is delivered; a timeout, a
//! connection failure or most Redis errors are retried; `WRONGTYPE` (the key holds something
//! other than a stream) and `NOPERM` (the ACL user may not write the key) are permanent, since
//! sending the same command again cannot succeed until someone changes Redis.
//!
//! ```toml
//! [[route]]
//! to = "redis://127.0.0.1:6379"
//! stream = "webhooks"
//! maxlen = 100000
//! ```

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

use super::template::{NameTemplate, TemplateError};
use super::{Destination, Outcome};
use crate::spool::StoredEvent;

/// The stream key template used when none is configured.
pub const DEFAULT_STREAM: &str = "webhooks";

/// How long a marker remembers an appended event unless configured.
const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The longest dedup window Redis is given (a hundred years; `PX` must not overflow).
const MAX_WINDOW_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Connection attempts after the first one, each time a connection is made.
const CONNECT_RETRIES: usize = 2;

/// The append, atomic in Redis.
///
/// KEYS[1] is the stream, KEYS[2] the marker; ARGV[1] the marker's lifetime in milliseconds,
/// ARGV[2] the approximate maximum length (empty: no trimming), and the rest the entry's field
/// and value pairs. Answers `{1, entry id}` for a new entry and `{0, entry id}` for an event
/// already appended. Scripts are not rolled back on errors, so a failed `XADD` removes the
/// marker again: otherwise the retry would be taken for a duplicate and the event lost.
const APPEND_SCRIPT: &str = r"
if not redis.call('SET', KEYS[2], 'pending', 'NX', 'PX', ARGV[1]) then
  return {0, redis.call('GET', KEYS[2])}
end
local xadd = {'XADD', KEYS[1]}
if ARGV[2] ~= '' then
  xadd[#xadd + 1] = 'MAXLEN'
  xadd[#xadd + 1] = '~'
  xadd[#xadd + 1] = ARGV[2]
end
xadd[#xadd + 1] = '*'
for i = 3, #ARGV do
  xadd[#xadd + 1] = ARGV[i]
end
local entry = redis.pcall(unpack(xadd))
if type(entry) == 'table' and entry.err then
  redis.call('DEL', KEYS[2])
  return entry
end
redis.call('SET', KEYS[2], entry, 'PX', ARGV[1])
return {1, entry}
";

/// A Redis URL or stream template that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedisStreamError {
    /// The URL does not parse (the URL shown has its password hidden).
    #[error("the Redis URL {url} is invalid: {reason}")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `rediss://` URL: this build has no TLS for Redis.
    #[error("TLS to Redis (rediss://) is not supported; use redis://")]
    Tls,
    /// The stream template is empty.
    #[error("the Redis stream template is empty")]
    EmptyStream,
    /// The stream template has a placeholder other than `{source}` and `{event}`.
    #[error(
        "unknown placeholder {{{0}}} in the Redis stream template (known: {{source}}, {{event}})"
    )]
    UnknownPlaceholder(String),
    /// A `{` without its `}`, or the other way round.
    #[error("unbalanced brace in the Redis stream template {0:?}")]
    Brace(String),
}

/// `text` as a stream template: the shared parsing, and not empty.
fn stream_template(text: &str) -> Result<NameTemplate, RedisStreamError> {
    if text.is_empty() {
        return Err(RedisStreamError::EmptyStream);
    }
    NameTemplate::parse(text).map_err(|e| match e {
        TemplateError::Brace => RedisStreamError::Brace(text.to_owned()),
        TemplateError::UnknownPlaceholder(name) => RedisStreamError::UnknownPlaceholder(name),
    })
}

/// The stream key for `event`; braces in the values become `_`, and an empty key is `_`.
fn render_key(template: &NameTemplate, event: &StoredEvent) -> String {
    let mut key = template.render(&event.source, &event.kind, |key, _, value| {
        push_without_braces(key, value);
    });
    if key.is_empty() {
        key.push('_');
    }
    key
}

fn push_without_braces(key: &mut String, value: &str) {
    key.extend(
        value
            .chars()
            .map(|c| if c == '{' || c == '}' { '_' } else { c }),
    );
}

/// The marker key of `event` appended to `stream`: the stream key is the hash tag (it has no
/// braces: the template allows none and [`render_key`] replaces those in values), and the
/// source is percent-encoded where it could run into the id.
fn marker_key(stream: &str, event: &StoredEvent) -> String {
    let source = event.source.replace('%', "%25").replace(':', "%3A");
    format!("hookgate:xadd:{{{stream}}}:{source}:{}", event.id)
}

/// `url` with any password replaced by `***`: the one in the user information, and a `pass` or
/// `password` query parameter (Unix socket URLs carry it there).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    let rest = match rest.split_once('?') {
        Some((before, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((query, fragment)) => (query, Some(fragment)),
                None => (query, None),
            };
            let query = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _))
                        if name.eq_ignore_ascii_case("pass")
                            || name.eq_ignore_ascii_case("password") =>
                    {
                        format!("{name}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&");
            match fragment {
                Some(fragment) => format!("{before}?{query}#{fragment}"),
                None => format!("{before}?{query}"),
            }
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// The connection once made, numbered so that a failed delivery forgets only the connection it
/// used, not one a concurrent delivery has made since.
#[derive(Default)]
struct Connection {
    made: u64,
    current: Option<(u64, ConnectionManager)>,
}

/// Appends events to a Redis stream; see the [module docs](self).
pub struct RedisStreamDestination {
    client: redis::Client,
    url: String,
    stream: NameTemplate,
    maxlen: Option<u64>,
    dedup_window: Duration,
    timeout: Duration,
    script: redis::Script,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for RedisStreamDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamDestination")
            .field("url", &self.url)
            .field("stream", &self.stream.text())
            .field("maxlen", &self.maxlen)
            .field("dedup_window", &self.dedup_window)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How an append went wrong.
enum AppendError {
    /// No connection could be made.
    Connect(redis::RedisError),
    /// The script failed, on the connection of this number.
    Script(u64, redis::RedisError),
}

impl RedisStreamDestination {
    /// Append to the stream named by the template `stream` (placeholders `{source}` and
    /// `{event}`) on the Redis at `url` (`redis://`), giving each attempt `timeout`. Nothing is
    /// connected yet: that happens on the first delivery.
    pub fn new(url: &str, stream: &str, timeout: Duration) -> Result<Self, RedisStreamError> {
        let redacted = redact(url);
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|s| s.eq_ignore_ascii_case("rediss")) {
            return Err(RedisStreamError::Tls);
        }
        let client = redis::Client::open(url).map_err(|e| RedisStreamError::Url {
            url: redacted.clone(),
            reason: describe(&e),
        })?;
        Ok(Self {
            client,
            url: redacted,
            stream: stream_template(stream)?,
            maxlen: None,
            dedup_window: DEFAULT_DEDUP_WINDOW,
            timeout,
            script: redis::Script::new(APPEND_SCRIPT),
            connection: Mutex::new(Connection::default()),
        })
    }

    /// Trim the stream to about `n` entries on every append (`MAXLEN ~ n`); `None`, the
    /// default, never trims.
    pub fn maxlen(mut self, n: Option<u64>) -> Self {
        self.maxlen = n;
        self
    }

    /// How long an appended event is remembered, so that a repeat is not appended again (a day
    /// by default; at least a millisecond).
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// The stream key `event` goes to.
    pub fn stream_key(&self, event: &StoredEvent) -> String {
        render_key(&self.stream, event)
    }

    fn window_ms(&self) -> u64 {
        u64::try_from(self.dedup_window.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_WINDOW_MS)
    }

    fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(CONNECT_RETRIES)
    }

    /// The connection and its number, made now if there is none.
    async fn manager(&self) -> Result<(u64, ConnectionManager), redis::RedisError> {
        let mut connection = self.connection.lock().await;
        if let Some((made, manager)) = &connection.current {
            return Ok((*made, manager.clone()));
        }
        let manager = self
            .client
            .get_connection_manager_with_config(self.manager_config())
            .await?;
        connection.made += 1;
        let made = connection.made;
        connection.current = Some((made, manager.clone()));
        Ok((made, manager))
    }

    /// Drop connection number `made`, so that the next delivery makes a new one.
    async fn forget(&self, made: u64) {
        let mut connection = self.connection.lock().await;
        if connection
            .current
            .as_ref()
            .is_some_and(|(current, _)| *current == made)
        {
            connection.current = None;
        }
    }

    /// Run the script; `used` learns the number of the connection it ran on.
    async fn append(
        &self,
        event: &StoredEvent,
        used: &mut Option<u64>,
    ) -> Result<(bool, String), AppendError> {
        let (made, mut manager) = self.manager().await.map_err(AppendError::Connect)?;
        *used = Some(made);
        let stream = self.stream_key(event);
        let received = std::time::UNIX_EPOCH + Duration::from_millis(event.received_at_ms);
        let verified_at = humantime::format_rfc3339_millis(received).to_string();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(&stream)
            .key(marker_key(&stream, event))
            .arg(self.window_ms())
            .arg(self.maxlen.map(|n| n.to_string()).unwrap_or_default())
            .arg("source")
            .arg(&event.source)
            .arg("id")
            .arg(&event.id)
            .arg("type")
            .arg(&event.kind)
            .arg("verified_at")
            .arg(verified_at);
        if let Some(content_type) = &event.content_type {
            invocation.arg("content_type").arg(content_type);
        }
        invocation.arg("body").arg(event.body.as_slice());
        let (new, entry): (i64, String) = invocation
            .invoke_async(&mut manager)
            .await
            .map_err(|e| AppendError::Script(made, e))?;
        Ok((new == 1, entry))
    }
}

/// `error` and its causes. A `RedisError` already shows its cause's text, so a cause whose text
/// is already there is not repeated (as [`crate::client::error_chain`] would).
fn describe(error: &redis::RedisError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

/// Is `error` an answer from Redis (so the connection is sound)?
fn is_reply(error: &redis::RedisError) -> bool {
    matches!(
        error.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    )
}

/// Would sending the same command again fail the same way until someone changes Redis?
fn is_permanent(error: &redis::RedisError) -> bool {
    matches!(error.code(), Some("WRONGTYPE" | "NOPERM"))
}

impl Destination for RedisStreamDestination {
    fn ready(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let ping = async {
                let (_, mut manager) = self.manager().await?;
                redis::cmd("PING").query_async::<String>(&mut manager).await
            };
            match tokio::time::timeout(self.timeout, ping).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("redis: {e}")),
                Err(_) => Err("redis: no answer to PING".to_owned()),
            }
        })
    }

    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let mut used = None;
            let result = tokio::time::timeout(self.timeout, self.append(event, &mut used)).await;
            match result {
                Ok(Ok((new, entry))) => {
                    if new {
                        tracing::debug!(id = %event.id, %entry, "appended to the Redis stream");
                    } else {
                        tracing::debug!(id = %event.id, %entry, "already in the Redis stream");
                    }
                    Outcome::Delivered { status: None }
                }
                Ok(Err(AppendError::Connect(e))) => Outcome::Retry {
                    after: None,
                    status: None,
                    error: format!("cannot connect to Redis at {}: {}", self.url, describe(&e)),
                },
                Ok(Err(AppendError::Script(made, e))) => {
                    if !is_reply(&e) {
                        self.forget(made).await;
                    }
                    let error = format!("Redis XADD failed: {}", describe(&e));
                    if is_permanent(&e) {
                        Outcome::Permanent {
                            status: None,
                            error,
                        }
                    } else {
                        Outcome::Retry {
                            after: None,
                            status: None,
                            error,
                        }
                    }
                }
                Err(_) => {
                    let error = match used {
                        None => format!(
                            "cannot connect to Redis at {} within {:?}",
                            self.url, self.timeout
                        ),
                        Some(made) => {
                            // The connection may be stuck; the next delivery makes a new one. A
                            // script that ran after all is found by its marker.
                            self.forget(made).await;
                            format!("no answer from Redis within {:?}", self.timeout)
                        }
                    };
                    Outcome::Retry {
                        after: None,
                        status: None,
                        error,
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
