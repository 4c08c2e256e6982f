//! Sample bodies for each seed sender, taken from the senders' documentation, with timestamps (and
//! NinjaRMM's activity id) refreshed so that every `hookgate send` is a new event.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Profile;

const NINJAONE: &[&str] = &["ALERT_TRIGGERED", "DEVICE_OFFLINE", "TICKET_CREATED"];
const NINJARMM: &[&str] = &["CONDITION.TRIGGERED", "ACTIONSET.START_REQUESTED"];
const WEBNET: &[&str] = &["job.completed", "device.status_changed"];
const HOMA: &[&str] = &["ticket.created", "ticket.status_changed", "ticket.closed"];
const OPSCENTER: &[&str] = &["user.created", "alert.triggered"];

pub(super) fn events(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::NinjaOne => NINJAONE,
        Profile::NinjaRmm => NINJARMM,
        Profile::Webnet => WEBNET,
        Profile::Homa => HOMA,
        Profile::OpsCenter => OPSCENTER,
        Profile::Generic => &[],
    }
}

pub(super) fn sample(profile: Profile, event: Option<&str>, now: SystemTime) -> Option<Value> {
    let event = match event {
        Some(e) => *events(profile).iter().find(|known| **known == e)?,
        None => *events(profile).first()?,
    };
    let ts = humantime::format_rfc3339_millis(now).to_string();
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let body = match (profile, event) {
        (Profile::NinjaOne, "ALERT_TRIGGERED") => json!({
            "eventType": event, "timestamp": ts,
            "data": {"uid": "abc123", "deviceId": 12345, "severity": "CRITICAL",
                     "message": "CPU usage above 95%", "sourceType": "CONDITION"}
        }),
        (Profile::NinjaOne, "DEVICE_OFFLINE") => json!({
            "eventType": event, "timestamp": ts,
            "data": {"deviceId": 12345, "systemName": "WORKSTATION-01", "organizationId": 123,
                     "lastContact": ts}
        }),
        (Profile::NinjaOne, _) => json!({
            "eventType": event, "timestamp": ts,
            "data": {"ticketId": 456, "subject": "Network Issue", "priority": "High",
                     "organizationId": 123, "createdBy": "user@example.com"}
        }),
        (Profile::NinjaRmm, _) => {
            let (activity_type, status_code) = event.split_once('.')?;
            let millis = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
            json!({
                "id": millis, "activityTime": since_epoch.as_secs_f64(), "deviceId": 7,
                "seriesUid": "e6b0b0bd-5753-445d-9e4a-71c08983cbd5",
                "activityType": activity_type, "statusCode": status_code,
                "status": "Triggered", "sourceConfigUid": "205b85b2-8a12-4123-834f-164be08b3314",
                "sourceName": "_average_", "subject": "",
                "message": "Memory Utilization is greater than or equal to 80% for 5 minutes",
                "type": "Condition",
                "data": {"message": {"code": "vmm_cond_memory_usage_ge",
                                     "params": {"duration": 5, "threshold": 80, "unit": "%"}}},
                "device": {"id": 7, "organizationId": 2, "locationId": 2,
                           "nodeClass": "VMWARE_VM_HOST", "approvalStatus": "APPROVED",
                           "offline": false, "systemName": "esx03.example.local",
                           "references": {"organization": {"id": 2, "name": "Example Org"},
                                          "location": {"id": 2, "name": "Main Office"}}}
            })
        }
        (Profile::Webnet, "job.completed") => json!({
            "event_timestamp": ts, "event_type": event,
            "actor": {"id": 1, "username": "admin"},
            "job": {"id": 123, "type": "config_backup", "status": "success",
                    "requested_at": ts, "started_at": ts, "finished_at": ts,
                    "target_summary": {"device_count": 5}, "result_summary": {"backed_up": 5}}
        }),
        (Profile::Webnet, _) => json!({
            "event_timestamp": ts, "event_type": event,
            "actor": {"id": 1, "username": "admin"},
            "device": {"id": 42, "hostname": "core-sw-01", "status": "unreachable",
                       "previous_status": "reachable"}
        }),
        (Profile::Homa, "ticket.created") => json!({
            "event": event, "timestamp": ts,
            "data": {"ticket_id": 123, "title": "Login Issue",
                     "client_id": "c4ae2903-1127-4229-9e20-3225990af447", "department_id": 5,
                     "channel_id": "web", "status": "new", "priority": "medium"}
        }),
        (Profile::Homa, "ticket.status_changed") => json!({
            "event": event, "timestamp": ts,
            "data": {"ticket_id": 123, "old_status": "new", "new_status": "in_progress"}
        }),
        (Profile::Homa, _) => json!({
            "event": event, "timestamp": ts,
            "data": {"ticket_id": 123, "closed_at": ts}
        }),
        (Profile::OpsCenter, "user.created") => json!({
            "event": event, "timestamp": ts,
            "data": {"user_id": 123, "email": "user@example.com", "created_at": ts},
            "webhook_id": "6f1c2a9e-3b4d-4c5e-8f70-1a2b3c4d5e6f"
        }),
        (Profile::OpsCenter, _) => json!({
            "event": event, "timestamp": ts,
            "data": {"alert_id": "a-981", "device_id": "edge-17", "severity": "warning",
                     "message": "CPU temperature above threshold"},
            "webhook_id": "6f1c2a9e-3b4d-4c5e-8f70-1a2b3c4d5e6f"
        }),
        (Profile::Generic, _) => return None,
    };
    Some(body)
}
