//! The NATS JetStream destination: publish each event to a subject, and count it delivered only
//! once JetStream has acknowledged storing it.
//!
//! Plain NATS publishing is fire-and-forget: a message to a subject nobody listens on is simply
//! lost. JetStream answers each publish with an acknowledgement once a stream has stored the
//! message, so an event leaves the spool only after that answer; no answer (the server is down,
//! no stream covers the subject, a timeout) means the delivery is retried.
//!
//! The subject comes from a template with two placeholders, `{source}` and `{event}` (the event
//! type), [`DEFAULT_SUBJECT`] unless configured. Values are made safe for subjects: whitespace,
//! `*`, `>` and non-printable characters become `_`, as does an empty value. Dots in the event
//! type are kept, so `ticket.created` from `homa` goes to `webhooks.homa.ticket.created` and
//! consumers can filter on `webhooks.homa.ticket.>`; the source is one subject token, so a dot in
//! it becomes `_` too, and so does an empty token in the event type (`a..b` gives `a._.b`).
//!
//! The payload is the exact received body. Headers: `Nats-Msg-Id: {source}:{id}` (JetStream drops
//! a repeat within the stream's duplicate window, so a retry after a lost acknowledgement does
//! not store the event twice), `X-Hookgate-Source`, `X-Hookgate-Event-Id`,
//! `X-Hookgate-Event-Type`, `X-Hookgate-Verified-At` (RFC 3339, milliseconds: the signature is
//! verified as the request arrives) and `Content-Type` when the sender gave one.
//!
//! The connection is made on the first delivery, not at start-up, so hookgate starts while NATS
//! is down; a failed connection is a retried delivery, and the next delivery connects again. Once
//! connected, the client reconnects by itself. A stream to hold the events can be created on
//! first connection ([`NatsDestination::stream`]); an existing stream of that name is used as it
//! is (its subjects and duplicate window are not changed). Credentials can be given in the URL
//! (`nats://user:password@host`, or `nats://token@host`).
//!
//! ```toml
//! [[route]]
//! to = "nats://127.0.0.1:4222"
//! subject = "webhooks.{source}.{event}"
//! stream = "WEBHOOKS"
//! create_stream = true
//! ```

use std::time::Duration;

use async_nats::jetstream::{self, publish::PublishAck};
use async_nats::{HeaderMap, HeaderName, HeaderValue, ServerAddr};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use super::template::{NameTemplate, Part, Placeholder, TemplateError};
use super::{Destination, Outcome};
use crate::spool::StoredEvent;

/// The subject template used when none is configured.
pub const DEFAULT_SUBJECT: &str = "webhooks.{source}.{event}";

const SOURCE: HeaderName = HeaderName::from_static("X-Hookgate-Source");
const EVENT_ID: HeaderName = HeaderName::from_static("X-Hookgate-Event-Id");
const EVENT_TYPE: HeaderName = HeaderName::from_static("X-Hookgate-Event-Type");
const VERIFIED_AT: HeaderName = HeaderName::from_static("X-Hookgate-Verified-At");
const CONTENT_TYPE: HeaderName = HeaderName::from_static("Content-Type");

/// A NATS URL or subject template that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NatsError {
    /// The URL does not parse.
    #[error("the NATS URL is invalid: {0}")]
    Url(String),
    /// The URL's scheme is not `nats`.
    #[error("the NATS URL must start with nats://, not {0}://")]
    Scheme(String),
    /// The URL names no host.
    #[error("the NATS URL has no host")]
    NoHost,
    /// The URL has a path, query or fragment, which NATS has no use for.
    #[error("the NATS URL has a path, query or fragment; only nats://host:port is expected")]
    Extra,
    /// The subject template is empty.
    #[error("the NATS subject template is empty")]
    EmptySubject,
    /// The subject template has whitespace or a control character.
    #[error("the NATS subject template {0:?} contains whitespace or a control character")]
    Whitespace(String),
    /// The subject template has a placeholder other than `{source}` and `{event}`.
    #[error(
        "unknown placeholder {{{0}}} in the NATS subject template (known: {{source}}, {{event}})"
    )]
    UnknownPlaceholder(String),
    /// A `{` without its `}`, or the other way round.
    #[error("unbalanced brace in the NATS subject template {0:?}")]
    Brace(String),
    /// The subject template has `*` or `>`: events are published to one subject, not a pattern.
    #[error("the NATS subject template {0:?} contains a wildcard (* or >)")]
    Wildcard(String),
    /// The subject template starts or ends with a dot, or has two dots in a row.
    #[error(
        "the NATS subject template {0:?} has an empty token (a leading, trailing or double dot)"
    )]
    EmptyToken(String),
}

/// `text` as a subject template: the shared parsing, then NATS's own checks (no whitespace, no
/// wildcard, no empty token).
fn subject_template(text: &str) -> Result<NameTemplate, NatsError> {
    if text.is_empty() {
        return Err(NatsError::EmptySubject);
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NatsError::Whitespace(text.to_owned()));
    }
    let template = NameTemplate::parse(text).map_err(|e| match e {
        TemplateError::Brace => NatsError::Brace(text.to_owned()),
        TemplateError::UnknownPlaceholder(name) => NatsError::UnknownPlaceholder(name),
    })?;
    if template.literals().any(|s| s.contains(['*', '>'])) {
        return Err(NatsError::Wildcard(text.to_owned()));
    }
    let sample: String = template
        .parts()
        .iter()
        .map(|part| match part {
            Part::Literal(s) => s.as_str(),
            Part::Placeholder(_) => "x",
        })
        .collect();
    if sample.split('.').any(str::is_empty) {
        return Err(NatsError::EmptyToken(text.to_owned()));
    }
    Ok(template)
}

/// The subject for `event`: the source is one token, the event type one per dot-separated part.
fn render_subject(template: &NameTemplate, event: &StoredEvent) -> String {
    template.render(
        &event.source,
        &event.kind,
        |subject, placeholder, value| match placeholder {
            Placeholder::Source => subject.push_str(&token(value)),
            Placeholder::Event => {
                let tokens: Vec<String> = value.split('.').map(token).collect();
                subject.push_str(&tokens.join("."));
            }
        },
    )
}

/// The subjects a stream needs to hold everything `template` renders to: the literal tokens
/// before the first placeholder, then `>` (an event type may add any number of tokens); the
/// template itself when it has no placeholder.
fn covering_subject(template: &NameTemplate) -> String {
    let mut prefix = String::new();
    for part in template.parts() {
        match part {
            Part::Literal(s) => prefix.push_str(s),
            Part::Placeholder(_) => {
                let whole_tokens = prefix.rfind('.').map_or(0, |dot| dot + 1);
                prefix.truncate(whole_tokens);
                prefix.push('>');
                return prefix;
            }
        }
    }
    prefix
}

/// `value` as one subject token: whitespace, `*`, `>`, `.` and non-printable characters become
/// `_`, and an empty value is `_`.
fn token(value: &str) -> String {
    if value.is_empty() {
        return "_".to_owned();
    }
    value
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || matches!(c, '*' | '>' | '.') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Credentials taken from the URL, passed to the client as options (async-nats does not read
/// them from the URL itself).
#[derive(Clone)]
enum Credentials {
    UserPassword(String, String),
    Token(String),
}

/// A stream to create on first connection.
#[derive(Debug, Clone)]
struct StreamSpec {
    name: String,
    duplicate_window: Duration,
}

/// Publishes events to NATS JetStream; see the [module docs](self).
pub struct NatsDestination {
    /// The server, without credentials.
    server: ServerAddr,
    credentials: Option<Credentials>,
    template: NameTemplate,
    timeout: Duration,
    stream: Option<StreamSpec>,
    jetstream: OnceCell<jetstream::Context>,
}

impl std::fmt::Debug for NatsDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsDestination")
            .field("server", &self.server.as_url_str())
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("subject", &self.template.text())
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .field("connected", &self.jetstream.initialized())
            .finish()
    }
}

/// Why a publish did not end in an acknowledgement.
#[derive(Debug, thiserror::Error)]
enum Failure {
    // async-nats errors print their own sources, so they are shown with `Display` only.
    #[error("cannot connect to NATS at {server}: {error}")]
    Connect {
        server: String,
        error: async_nats::ConnectError,
    },
    #[error("cannot find or create the JetStream stream {name:?}: {error}")]
    Stream {
        name: String,
        error: jetstream::context::CreateStreamError,
    },
    #[error(
        "will not create the JetStream stream {name:?} for every subject (the subject template \
         {template:?} starts with a placeholder): create the stream yourself, without create_stream"
    )]
    CatchAll { name: String, template: String },
    #[error("cannot publish to {subject}: {error}")]
    Publish {
        subject: String,
        error: jetstream::context::PublishError,
    },
    #[error("JetStream did not acknowledge the message on {subject}: {error}{hint}")]
    Ack {
        subject: String,
        error: jetstream::context::PublishError,
        hint: &'static str,
    },
}

impl NatsDestination {
    /// Publish to the server at `url` (`nats://host:port`) on subjects from the `subject`
    /// template, giving each delivery `timeout` (connecting included). Nothing is connected yet.
    pub fn new(url: &str, subject: &str, timeout: Duration) -> Result<Self, NatsError> {
        let (server, credentials) = parse_url(url)?;
        Ok(Self {
            server,
            credentials,
            template: subject_template(subject)?,
            timeout,
            stream: None,
            jetstream: OnceCell::new(),
        })
    }

    /// On first connection, make sure the stream `name` exists when `create` is set, covering
    /// this destination's subjects and dropping repeats within `duplicate_window`. Without it
    /// (or with `create` off), a stream covering the subjects must already exist.
    pub fn stream(mut self, name: &str, create: bool, duplicate_window: Duration) -> Self {
        self.stream = create.then(|| StreamSpec {
            name: name.to_owned(),
            duplicate_window,
        });
        self
    }

    /// The subject `event` is published to.
    pub fn subject_for(&self, event: &StoredEvent) -> String {
        render_subject(&self.template, event)
    }

    /// The subjects a stream created by [`stream`](Self::stream) covers, such as `webhooks.>`.
    /// When it is `>` (the template starts with a placeholder), no stream is created: that
    /// stream would take every message on the server; deliveries are retried with that error.
    pub fn stream_subject(&self) -> String {
        covering_subject(&self.template)
    }

    async fn connect(&self) -> Result<jetstream::Context, Failure> {
        let stream_subject = covering_subject(&self.template);
        if let Some(spec) = self.stream.as_ref().filter(|_| stream_subject == ">") {
            return Err(Failure::CatchAll {
                name: spec.name.clone(),
                template: self.template.text().to_owned(),
            });
        }
        let mut options = async_nats::ConnectOptions::new()
            .name("hookgate")
            .connection_timeout(self.timeout)
            .max_reconnects(None);
        match &self.credentials {
            Some(Credentials::UserPassword(user, password)) => {
                options = options.user_and_password(user.clone(), password.clone());
            }
            Some(Credentials::Token(token)) => options = options.token(token.clone()),
            None => {}
        }
        let client = options
            .connect(self.server.clone())
            .await
            .map_err(|error| Failure::Connect {
                server: self.server.as_url_str().to_owned(),
                error,
            })?;
        let mut context = jetstream::new(client);
        context.set_timeout(self.timeout);
        if let Some(spec) = &self.stream {
            let config = jetstream::stream::Config {
                name: spec.name.clone(),
                subjects: vec![stream_subject],
                duplicate_window: spec.duplicate_window,
                ..Default::default()
            };
            context
                .get_or_create_stream(config)
                .await
                .map_err(|error| Failure::Stream {
                    name: spec.name.clone(),
                    error,
                })?;
        }
        Ok(context)
    }

    async fn publish(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<PublishAck, Failure> {
        let context = self.jetstream.get_or_try_init(|| self.connect()).await?;
        let ack = context
            .publish_with_headers(subject.to_owned(), headers, payload)
            .await
            .map_err(|error| Failure::Publish {
                subject: subject.to_owned(),
                error,
            })?;
        ack.await.map_err(|error| {
            let hint = match error.kind() {
                jetstream::context::PublishErrorKind::StreamNotFound => {
                    "; create a stream for it, or configure `stream` with `create_stream = true`"
                }
                _ => "",
            };
            Failure::Ack {
                subject: subject.to_owned(),
                error,
                hint,
            }
        })
    }
}

/// The message headers for `event`; fails only on a value with a line break.
fn headers(event: &StoredEvent) -> Result<HeaderMap, String> {
    let value = |name: &HeaderName, text: &str| {
        text.parse::<HeaderValue>()
            .map_err(|_| format!("cannot put {text:?} in the {name} header"))
    };
    let received = std::time::UNIX_EPOCH + Duration::from_millis(event.received_at_ms);
    let at = humantime::format_rfc3339_millis(received).to_string();
    let message_id = format!("{}:{}", event.source, event.id);
    let mut headers = HeaderMap::new();
    for (name, text) in [
        (async_nats::header::NATS_MESSAGE_ID, message_id.as_str()),
        (SOURCE, event.source.as_str()),
        (EVENT_ID, event.id.as_str()),
        (EVENT_TYPE, event.kind.as_str()),
        (VERIFIED_AT, at.as_str()),
    ] {
        let v = value(&name, text)?;
        headers.insert(name, v);
    }
    if let Some(content_type) = &event.content_type {
        let v = value(&CONTENT_TYPE, content_type)?;
        headers.insert(CONTENT_TYPE, v);
    }
    Ok(headers)
}

/// Check `url` and split its credentials off.
fn parse_url(url: &str) -> Result<(ServerAddr, Option<Credentials>), NatsError> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(NatsError::Url("it must start with nats://".to_owned()));
    };
    if !scheme.eq_ignore_ascii_case("nats") {
        return Err(NatsError::Scheme(scheme.to_owned()));
    }
    let addr: ServerAddr = url.parse().map_err(|e: std::io::Error| {
        // The message says what is wrong without repeating the URL (and any password in it).
        NatsError::Url(e.to_string())
    })?;
    if addr.host().is_empty() {
        return Err(NatsError::NoHost);
    }
    let credentials = match (addr.username(), addr.password()) {
        (Some(user), Some(password)) => Some(Credentials::UserPassword(
            percent_decode(user),
            percent_decode(password),
        )),
        (Some(token), None) => Some(Credentials::Token(percent_decode(token))),
        (None, Some(password)) => Some(Credentials::UserPassword(
            String::new(),
            percent_decode(password),
        )),
        (None, None) => None,
    };
    let mut bare = addr.into_inner();
    if !matches!(bare.path(), "" | "/") || bare.query().is_some() || bare.fragment().is_some() {
        return Err(NatsError::Extra);
    }
    if bare.set_username("").is_err() || bare.set_password(None).is_err() {
        return Err(NatsError::Url("cannot remove the credentials".to_owned()));
    }
    let server = ServerAddr::from_url(bare).map_err(|e| NatsError::Url(e.to_string()))?;
    Ok((server, credentials))
}

/// Undo the URL's `%XX` escapes (in user names and passwords).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Destination for NatsDestination {
    fn ready(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let connect = self.jetstream.get_or_try_init(|| self.connect());
            let context = match tokio::time::timeout(self.timeout, connect).await {
                Ok(Ok(context)) => context,
                Ok(Err(failure)) => return Err(failure.to_string()),
                Err(_) => {
                    return Err(format!(
                        "nats: no connection to {} in time",
                        self.server.as_url_str()
                    ));
                }
            };
            match context.client().connection_state() {
                async_nats::connection::State::Connected => Ok(()),
                state => Err(format!("nats: {} is {state}", self.server.as_url_str())),
            }
        })
    }

    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let headers = match headers(event) {
                Ok(headers) => headers,
                Err(error) => {
                    return Outcome::Permanent {
                        status: None,
                        error,
                    };
                }
            };
            let subject = render_subject(&self.template, event);
            let payload = Bytes::from(event.body.clone());
            let published =
                tokio::time::timeout(self.timeout, self.publish(&subject, headers, payload)).await;
            match published {
                Ok(Ok(ack)) => {
                    tracing::debug!(
                        id = %event.id,
                        %subject,
                        stream = %ack.stream,
                        sequence = ack.sequence,
                        duplicate = ack.duplicate,
                        "stored by JetStream"
                    );
                    Outcome::Delivered { status: None }
                }
                Ok(Err(failure)) => Outcome::Retry {
                    after: None,
                    status: None,
                    error: failure.to_string(),
                },
                Err(_) => Outcome::Retry {
                    after: None,
                    status: None,
                    error: if self.jetstream.initialized() {
                        format!(
                            "no JetStream acknowledgement for {subject} within {:?}",
                            self.timeout
                        )
                    } else {
                        format!(
                            "cannot connect to NATS at {} within {:?}",
                            self.server.as_url_str(),
                            self.timeout
                        )
                    },
                },
            }
        })
    }
}

#[cfg(test)]
mod tests;
