//! How an event is stored: postcard (compact, serde) with the body as raw bytes.

use serde::{Deserialize, Serialize};

use super::SpoolError;
use crate::event::{Event, EventId, EventKind};

/// An accepted event as the spool keeps it: enough to deliver it again exactly as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Source name.
    pub source: String,
    /// Event id (the dedup key's id).
    pub id: String,
    /// Event type.
    pub kind: String,
    /// When hookgate received it, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// The request's `Content-Type`, passed on when forwarding.
    pub content_type: Option<String>,
    /// The request headers the source keeps (never credentials), for forwarding allow-lists.
    pub headers: Vec<(String, String)>,
    /// The exact bytes the sender signed.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

impl StoredEvent {
    /// The record of a verified event.
    pub fn from_event(event: &Event) -> Self {
        let received_at_ms = crate::clock::epoch_ms(event.received_at());
        Self {
            source: event.source().to_owned(),
            id: event.id().as_str().to_owned(),
            kind: event.kind().as_str().to_owned(),
            received_at_ms,
            content_type: event
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: event
                .headers()
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            body: event.raw().to_vec(),
        }
    }

    /// The event again, as handlers take it: same source, id, type, body, kept headers and
    /// receive time (without a [`Verified`](crate::event::Verified) proof).
    pub fn to_event(&self) -> Result<Event, serde_json::Error> {
        let json = serde_json::from_slice(&self.body)?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::try_from(name.as_str()),
                http::HeaderValue::try_from(value.as_str()),
            ) {
                headers.append(name, value);
            }
        }
        let received =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.received_at_ms);
        Ok(Event::new(
            self.source.as_str(),
            EventId::new(self.id.clone()),
            EventKind::new(self.kind.clone()),
            bytes::Bytes::from(self.body.clone()),
            json,
        )
        .with_headers(headers)
        .with_received_at(received))
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, SpoolError> {
        postcard::to_stdvec(self).map_err(|e| SpoolError::Storage(e.to_string()))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// One place where an accepted event does not match its spec, kept with the event (in a
/// keyspace of its own: [`StoredEvent`]'s postcard layout stays what earlier versions wrote).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMismatch {
    /// JSON pointer to the value (`""` for the whole body).
    pub instance_path: String,
    /// What the spec expected there.
    pub message: String,
}

impl From<&crate::rejection::Problem> for StoredMismatch {
    fn from(problem: &crate::rejection::Problem) -> Self {
        Self {
            instance_path: problem.instance_path.clone(),
            message: problem.message.clone(),
        }
    }
}

pub(crate) fn encode_mismatches(mismatches: &[StoredMismatch]) -> Result<Vec<u8>, SpoolError> {
    postcard::to_stdvec(mismatches).map_err(|e| SpoolError::Storage(e.to_string()))
}

pub(crate) fn decode_mismatches(bytes: &[u8]) -> Result<Vec<StoredMismatch>, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_binary_bodies() {
        let record = StoredEvent {
            source: "s".into(),
            id: "1".into(),
            kind: "k".into(),
            received_at_ms: 42,
            content_type: None,
            headers: vec![("x-request-id".into(), "r1".into())],
            body: vec![0, 255, 10, 13],
        };
        let bytes = record.encode().unwrap();
        assert!(bytes.len() < 40, "compact: {} bytes", bytes.len());
        assert_eq!(StoredEvent::decode(&bytes).unwrap(), record);
    }
}
