//! webnet's webhook events (`{event_timestamp, event_type, actor, <subject>}`), signed with
//! `X-Webhook-Signature: sha256=<hex>`. Kept in sync with `spec/webnet.yaml` by a test that
//! deserializes every example of the spec into these types.
//!
//! The subject of an event sits under a key named after its category (`job`, `device`, `config`,
//! `compliance`), so each category has its own body type. webnet documents only the job payload;
//! the others follow webnet's public source, where only job events carry `actor`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::typed::typed_events;

/// The webnet user who caused an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// User id.
    pub id: i64,
    /// User name.
    pub username: String,
}

/// The job a job event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    pub id: i64,
    /// Kind of job (`config_backup`, `run_commands`, ...).
    #[serde(default, rename = "type")]
    pub job_type: Option<String>,
    /// Status when the event was emitted (`queued`, `running`, `success`, `failed`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// When the job was requested (ISO 8601).
    #[serde(default)]
    pub requested_at: Option<String>,
    /// When the job started (ISO 8601); `None` before it starts.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When the job finished (ISO 8601); `None` before it finishes.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// What the job targets, free-form (e.g. `{"device_count": 5}`).
    #[serde(default)]
    pub target_summary: Option<Map<String, Value>>,
    /// The job's outcome, free-form (e.g. `{"backed_up": 5}`); a failed job's details are here.
    #[serde(default)]
    pub result_summary: Option<Map<String, Value>>,
}

/// The device a device event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Device id.
    pub id: i64,
    /// Host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Management IP address.
    #[serde(default)]
    pub mgmt_ip: Option<String>,
    /// Vendor (`cisco`, ...).
    #[serde(default)]
    pub vendor: Option<String>,
    /// Platform (`ios`, ...).
    #[serde(default)]
    pub platform: Option<String>,
    /// Role (`core`, ...).
    #[serde(default)]
    pub role: Option<String>,
    /// Site.
    #[serde(default)]
    pub site: Option<String>,
    /// Whether webnet manages the device.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Result of the last reachability check (`reachable`, `unreachable`); `None` before the first.
    #[serde(default)]
    pub reachability_status: Option<String>,
}

/// The configuration snapshot a config event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSnapshot {
    /// Snapshot id.
    pub id: i64,
    /// Device the configuration was taken from.
    pub device_id: i64,
    /// Host name of that device.
    #[serde(default)]
    pub device_hostname: Option<String>,
    /// When the snapshot was taken (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// How the snapshot was taken (`manual`, `deploy`, `template_deploy`, ...).
    #[serde(default)]
    pub source: Option<String>,
    /// Whether the configuration differs from the previous snapshot.
    #[serde(default)]
    pub has_changed: Option<bool>,
    /// SHA-256 of the configuration text, in hex.
    #[serde(default)]
    pub config_hash: Option<String>,
}

/// The result of checking one compliance policy on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceResult {
    /// Compliance result id.
    pub id: i64,
    /// Device checked.
    pub device_id: i64,
    /// Host name of that device.
    #[serde(default)]
    pub device_hostname: Option<String>,
    /// Policy checked.
    #[serde(default)]
    pub policy_id: Option<i64>,
    /// Name of that policy.
    #[serde(default)]
    pub policy_name: Option<String>,
    /// Outcome of the check (`pass`, `fail`).
    #[serde(default)]
    pub status: Option<String>,
    /// When the check ran (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Number of violations found.
    #[serde(default)]
    pub violations_count: Option<i64>,
    /// The violations found, free-form.
    #[serde(default)]
    pub violations: Option<Vec<Value>>,
}

/// Body of the job events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// When webnet emitted the event (ISO 8601).
    pub event_timestamp: String,
    /// Event type, e.g. `job.completed`.
    pub event_type: String,
    /// The user who requested the job.
    pub actor: Actor,
    /// The job.
    pub job: Job,
}

/// Body of the device events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceEvent {
    /// When webnet emitted the event (ISO 8601).
    pub event_timestamp: String,
    /// Event type, e.g. `device.status_changed`.
    pub event_type: String,
    /// The user who caused the event, when webnet sends one.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// What happened to the device (`created`, `updated`, `deleted`, `status_changed`).
    #[serde(default)]
    pub action: Option<String>,
    /// The device.
    pub device: Device,
}

/// Body of the configuration events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigEvent {
    /// When webnet emitted the event (ISO 8601).
    pub event_timestamp: String,
    /// Event type, e.g. `config.changed`.
    pub event_type: String,
    /// The user who caused the event, when webnet sends one.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// The configuration snapshot.
    pub config: ConfigSnapshot,
}

/// Body of the compliance events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceEvent {
    /// When webnet emitted the event (ISO 8601).
    pub event_timestamp: String,
    /// Event type, e.g. `compliance.violation_detected`.
    pub event_type: String,
    /// The user who caused the event, when webnet sends one.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// The compliance result.
    pub compliance: ComplianceResult,
}

typed_events! {
    /// Every webnet event.
    pub enum WebnetEvent {
        /// Job is created.
        JobCreated = "job.created" => JobEvent,
        /// Job execution begins.
        JobStarted = "job.started" => JobEvent,
        /// Job finishes successfully.
        JobCompleted = "job.completed" => JobEvent,
        /// Job fails.
        JobFailed = "job.failed" => JobEvent,
        /// Device added to inventory.
        DeviceCreated = "device.created" => DeviceEvent,
        /// Device attributes changed.
        DeviceUpdated = "device.updated" => DeviceEvent,
        /// Device removed from inventory.
        DeviceDeleted = "device.deleted" => DeviceEvent,
        /// Reachability status changed.
        DeviceStatusChanged = "device.status_changed" => DeviceEvent,
        /// Configuration backup taken.
        ConfigBackupCreated = "config.backup_created" => ConfigEvent,
        /// Configuration drift detected.
        ConfigChanged = "config.changed" => ConfigEvent,
        /// Configuration deployed to device.
        ConfigDeployed = "config.deployed" => ConfigEvent,
        /// Compliance check finishes.
        ComplianceCheckCompleted = "compliance.check_completed" => ComplianceEvent,
        /// Compliance violation found.
        ComplianceViolationDetected = "compliance.violation_detected" => ComplianceEvent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload documented in webnet's webhook guide.
    const DOCUMENTED: &str = r#"{
      "event_timestamp": "2025-12-02T01:00:00Z",
      "event_type": "job.completed",
      "actor": {"id": 1, "username": "admin"},
      "job": {
        "id": 123,
        "type": "config_backup",
        "status": "success",
        "requested_at": "2025-12-02T00:59:00Z",
        "started_at": "2025-12-02T00:59:05Z",
        "finished_at": "2025-12-02T01:00:00Z",
        "target_summary": {"device_count": 5},
        "result_summary": {"backed_up": 5}
      }
    }"#;

    #[test]
    fn documented_job_completed() {
        let event: JobCompleted = serde_json::from_str(DOCUMENTED).unwrap();
        assert_eq!(event.event_type, "job.completed");
        assert_eq!(event.actor.username, "admin");
        assert_eq!(event.job.id, 123);
        assert_eq!(event.job.job_type.as_deref(), Some("config_backup"));
        assert_eq!(
            event.job.target_summary.as_ref().unwrap()["device_count"],
            5
        );
        assert_eq!(WebnetEvent::KNOWN.len(), 13);
    }

    #[test]
    fn device_event_without_actor() {
        let json = r#"{"event_timestamp": "2025-12-02T12:00:07.040771+00:00",
            "event_type": "device.status_changed", "action": "status_changed",
            "device": {"id": 42, "hostname": "core-sw-01", "role": null,
                       "reachability_status": "unreachable"}}"#;
        let event: DeviceStatusChanged = serde_json::from_str(json).unwrap();
        assert_eq!(event.actor, None);
        assert_eq!(event.device.role, None);
        assert_eq!(
            event.device.reachability_status.as_deref(),
            Some("unreachable")
        );
    }
}
