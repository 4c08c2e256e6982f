//! NinjaOne's enveloped webhook events (`{eventType, timestamp, data}`), signed with
//! `X-Ninja-Signature: sha256=<hex>`. Kept in sync with `spec/ninjaone.yaml` by a test that
//! deserializes every example of the spec into these types.

use serde::{Deserialize, Serialize};

use crate::typed::typed_events;

/// The envelope every NinjaOne event shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<D> {
    /// Event type, e.g. `ALERT_TRIGGERED`.
    pub event_type: String,
    /// When the event happened (ISO 8601).
    pub timestamp: String,
    /// Event-specific data.
    pub data: D,
}

/// Alert severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// No severity.
    None,
    /// Minor.
    Minor,
    /// Moderate.
    Moderate,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

/// Data of the alert events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertData {
    /// Alert id.
    pub uid: String,
    /// Device the alert is about.
    #[serde(default)]
    pub device_id: Option<i64>,
    /// Severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// What raised the alert (`CONDITION`, ...).
    #[serde(default)]
    pub source_type: Option<String>,
}

/// Data of the device events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceData {
    /// Device id.
    pub device_id: i64,
    /// Device name.
    #[serde(default)]
    pub system_name: Option<String>,
    /// Organization the device belongs to.
    #[serde(default)]
    pub organization_id: Option<i64>,
    /// Location of the device within its organization.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// Kind of device (`WINDOWS_WORKSTATION`, `LINUX_SERVER`, ...).
    #[serde(default)]
    pub node_class: Option<String>,
    /// Whether the device has been approved (`PENDING`, `APPROVED`).
    #[serde(default)]
    pub approval_status: Option<String>,
    /// Last contact with the device (ISO 8601).
    #[serde(default)]
    pub last_contact: Option<String>,
}

/// Data of the ticket events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketData {
    /// Ticket id.
    pub ticket_id: i64,
    /// Subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// Priority as shown in NinjaOne (`High`, ...).
    #[serde(default)]
    pub priority: Option<String>,
    /// Status as shown in NinjaOne (`Open`, `Closed`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Organization of the ticket.
    #[serde(default)]
    pub organization_id: Option<i64>,
    /// Who created the ticket.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Text of the comment added, for `TICKET_COMMENT_ADDED`.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Data of the job events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    /// Job id.
    pub job_id: String,
    /// Device the job ran on.
    #[serde(default)]
    pub device_id: Option<i64>,
    /// Job name.
    #[serde(default)]
    pub name: Option<String>,
    /// Result message.
    #[serde(default)]
    pub message: Option<String>,
}

/// Data of the patch events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchData {
    /// Device patched.
    pub device_id: i64,
    /// Patch identifier (e.g. a KB number).
    #[serde(default)]
    pub patch_id: Option<String>,
    /// Patch title.
    #[serde(default)]
    pub title: Option<String>,
    /// Failure reason, for `PATCH_FAILED`.
    #[serde(default)]
    pub error: Option<String>,
}

typed_events! {
    /// Every NinjaOne event.
    pub enum NinjaOneEvent {
        /// New alert created.
        AlertTriggered = "ALERT_TRIGGERED" => Envelope<AlertData>,
        /// Alert acknowledged.
        AlertReset = "ALERT_RESET" => Envelope<AlertData>,
        /// Alert auto-cleared.
        AlertCleared = "ALERT_CLEARED" => Envelope<AlertData>,
        /// New device registered.
        DeviceAdded = "DEVICE_ADDED" => Envelope<DeviceData>,
        /// Device went offline.
        DeviceOffline = "DEVICE_OFFLINE" => Envelope<DeviceData>,
        /// Device came online.
        DeviceOnline = "DEVICE_ONLINE" => Envelope<DeviceData>,
        /// Device removed.
        DeviceDeleted = "DEVICE_DELETED" => Envelope<DeviceData>,
        /// Device approved.
        DeviceApproved = "DEVICE_APPROVED" => Envelope<DeviceData>,
        /// Device rejected.
        DeviceRejected = "DEVICE_REJECTED" => Envelope<DeviceData>,
        /// New ticket created.
        TicketCreated = "TICKET_CREATED" => Envelope<TicketData>,
        /// Ticket modified.
        TicketUpdated = "TICKET_UPDATED" => Envelope<TicketData>,
        /// Ticket closed.
        TicketClosed = "TICKET_CLOSED" => Envelope<TicketData>,
        /// Comment added to a ticket.
        TicketCommentAdded = "TICKET_COMMENT_ADDED" => Envelope<TicketData>,
        /// Remote job started.
        JobStarted = "JOB_STARTED" => Envelope<JobData>,
        /// Job completed.
        JobCompleted = "JOB_COMPLETED" => Envelope<JobData>,
        /// Job failed.
        JobFailed = "JOB_FAILED" => Envelope<JobData>,
        /// Patch installed.
        PatchInstalled = "PATCH_INSTALLED" => Envelope<PatchData>,
        /// Patch installation failed.
        PatchFailed = "PATCH_FAILED" => Envelope<PatchData>,
    }
}
