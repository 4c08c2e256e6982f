//! Homa's webhook events (`{event, timestamp, data}`), signed with `X-Webhook-Signature: <hex>`.
//! Kept in sync with `spec/homa.yaml` by a test that deserializes every example of the spec into
//! these types.
//!
//! Homa documents the payloads of `ticket.created`, `ticket.status_changed` and `ticket.closed`.
//! `ticket.updated` is assumed to carry the fields of `ticket.created`, and the test event
//! `webhook.test` follows Homa's source, not its documentation.

use serde::{Deserialize, Serialize};

use crate::typed::typed_events;

/// The envelope every Homa event shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<D> {
    /// Event type, e.g. `ticket.created`.
    pub event: String,
    /// When Homa sent the event (RFC 3339, UTC).
    pub timestamp: String,
    /// Event-specific data.
    pub data: D,
}

/// Ticket priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

/// Data of `ticket.created` (documented) and `ticket.updated` (assumed to be the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketData {
    /// Ticket id.
    pub ticket_id: i64,
    /// Ticket title.
    #[serde(default)]
    pub title: Option<String>,
    /// Client who opened the ticket (a UUID).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Department the ticket is assigned to; `None` when absent or null.
    #[serde(default)]
    pub department_id: Option<i64>,
    /// Channel the ticket came through (`web`, ...).
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Ticket status (`new`, `open`, `in_progress`, `pending`, `resolved`, `closed`, or a value
    /// Homa added since).
    #[serde(default)]
    pub status: Option<String>,
    /// Ticket priority.
    #[serde(default)]
    pub priority: Option<Priority>,
}

/// Data of `ticket.status_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketStatusChangedData {
    /// Ticket id.
    pub ticket_id: i64,
    /// Status before the change (open set, like [`TicketData::status`]).
    #[serde(default)]
    pub old_status: Option<String>,
    /// Status after the change (open set, like [`TicketData::status`]).
    #[serde(default)]
    pub new_status: Option<String>,
}

/// Data of `ticket.closed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketClosedData {
    /// Ticket id.
    pub ticket_id: i64,
    /// When the ticket was closed (RFC 3339).
    #[serde(default)]
    pub closed_at: Option<String>,
}

/// Data of the test event `webhook.test` (assumed: taken from Homa's source, not documented).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookTestData {
    /// Id of the webhook being tested.
    pub webhook_id: i64,
    /// Human-readable test message.
    #[serde(default)]
    pub message: Option<String>,
    /// Always `true`; sent by the command line only.
    #[serde(default)]
    pub test: Option<bool>,
    /// When the test was sent: RFC 3339 from the command line, the literal `now` from the admin
    /// API.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Random ticket-like fields the command line adds; not a real ticket.
    #[serde(default)]
    pub random_data: Option<serde_json::Value>,
}

typed_events! {
    /// Every Homa event.
    pub enum HomaEvent {
        /// A ticket was created.
        TicketCreated = "ticket.created" => Envelope<TicketData>,
        /// A ticket was modified.
        TicketUpdated = "ticket.updated" => Envelope<TicketData>,
        /// A ticket's status changed.
        TicketStatusChanged = "ticket.status_changed" => Envelope<TicketStatusChangedData>,
        /// A ticket was closed.
        TicketClosed = "ticket.closed" => Envelope<TicketClosedData>,
        /// A test delivery (`--generate-webhook --send`, `POST /api/admin/webhooks/{id}/test`).
        WebhookTest = "webhook.test" => Envelope<WebhookTestData>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_ticket_created() {
        let json = r#"{
          "event": "ticket.created",
          "timestamp": "2024-01-15T10:30:00Z",
          "data": {
            "ticket_id": 123,
            "title": "Login Issue",
            "client_id": "c4ae2903-1127-4229-9e20-3225990af447",
            "department_id": 5,
            "channel_id": "web",
            "status": "new",
            "priority": "medium"
          }
        }"#;
        let event: TicketCreated = serde_json::from_str(json).unwrap();
        assert_eq!(event.event, "ticket.created");
        assert_eq!(event.data.ticket_id, 123);
        assert_eq!(event.data.department_id, Some(5));
        assert_eq!(event.data.status.as_deref(), Some("new"));
        assert_eq!(event.data.priority, Some(Priority::Medium));
    }

    #[test]
    fn documented_status_changed_and_closed() {
        let json = r#"{"event": "ticket.status_changed", "timestamp": "2024-01-15T10:35:00Z",
            "data": {"ticket_id": 123, "old_status": "new", "new_status": "in_progress"}}"#;
        let event: TicketStatusChanged = serde_json::from_str(json).unwrap();
        assert_eq!(event.data.new_status.as_deref(), Some("in_progress"));

        let json = r#"{"event": "ticket.closed", "timestamp": "2024-01-15T11:00:00Z",
            "data": {"ticket_id": 123, "closed_at": "2024-01-15T11:00:00Z"}}"#;
        let event: TicketClosed = serde_json::from_str(json).unwrap();
        assert_eq!(
            event.data.closed_at.as_deref(),
            Some("2024-01-15T11:00:00Z")
        );
    }

    #[test]
    fn open_status_and_closed_priority() {
        let json = r#"{"event": "ticket.updated", "timestamp": "2024-01-15T10:40:00Z",
            "data": {"ticket_id": 1, "status": "escalated", "department_id": null}}"#;
        let event: TicketUpdated = serde_json::from_str(json).unwrap();
        assert_eq!(event.data.status.as_deref(), Some("escalated"));
        assert_eq!(event.data.department_id, None);

        let json = r#"{"event": "ticket.updated", "timestamp": "2024-01-15T10:40:00Z",
            "data": {"ticket_id": 1, "priority": "critical"}}"#;
        assert!(serde_json::from_str::<TicketUpdated>(json).is_err());
        assert_eq!(HomaEvent::KNOWN.len(), 5);
    }
}
