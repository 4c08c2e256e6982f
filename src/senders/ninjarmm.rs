//! NinjaRMM's v2 Activity webhooks: one flat [`Activity`] object per POST, no envelope, and no
//! signature (NinjaRMM sends a static token in a header registered with the webhook).
//!
//! These types mirror `spec/ninjarmm/webhook.yaml`; a test below deserializes every example of
//! that spec into them and checks the closed enums against its lists.
//!
//! The event type of an activity is `activityType.statusCode` (for example
//! `CONDITION.TRIGGERED`, see [`Activity::event_type`]). NinjaRMM adds activity types, status
//! codes and device classes between releases, so those open enums are plain strings here: a value
//! this version does not know never breaks deserialization. The closed enums ([`Severity`],
//! [`Priority`], [`ActivityResult`], ...) are Rust enums, and an unknown value in them is refused.
//!
//! No field is required: NinjaRMM omits absent fields, and `null` is read as absent too.
//!
//! ```
//! use hookgate::senders::ninjarmm::{Activity, Severity};
//! use hookgate::{Router, Typed};
//!
//! let router = Router::new().typed(|activity: Typed<Activity>| async move {
//!     if activity.event_type().as_deref() == Some("CONDITION.TRIGGERED")
//!         && activity.severity >= Some(Severity::Major)
//!     {
//!         println!("alert on device {:?}", activity.device_id);
//!     }
//!     Ok::<_, std::convert::Infallible>(())
//! });
//! assert_eq!(router.len(), 1);
//! ```

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::typed::{TypedEvent, from_json};

/// One activity (alert, job step, system change, ...), the whole body of a NinjaRMM webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Activity id; grows over time and identifies the event (hookgate's dedup key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// When the activity happened, in epoch seconds (a float in real traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_time: Option<f64>,
    /// Device the activity is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<i32>,
    /// Severity of the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Priority of the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Series the activity belongs to (UUID): ties one alert's `TRIGGERED` and `RESET`, or one
    /// job's steps, together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_uid: Option<String>,
    /// Kind of activity (`CONDITION`, `ACTIONSET`, `SYSTEM`, ...); an open enum, so a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<String>,
    /// What happened (`TRIGGERED`, `RESET`, `NODE_CREATED`, ...); an open enum, so a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// Human-readable, localized status (`Triggered`); route on
    /// [`status_code`](Self::status_code) instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Outcome of the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_result: Option<ActivityResult>,
    /// Configuration or policy element that produced the activity (UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_config_uid: Option<String>,
    /// Name of the configuration or policy element that produced the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Activity subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Activity message, in the account's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Human-readable label of the activity type (`Condition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// User who caused the activity, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i32>,
    /// Activity-specific data, free-form; seen as `{"message": {"code", "params"}}`, where
    /// `params.*_date` values are epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The device, when the webhook was registered with `expand` containing `device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// The organization, when the webhook was registered with `expand` containing
    /// `organization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    /// The location, when the webhook was registered with `expand` containing `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Activity {
    /// The event type: `activityType.statusCode` (`CONDITION.TRIGGERED`), or the activity type
    /// alone when there is no status code; `None` without an activity type. The same rule
    /// hookgate's `ninjarmm` profile uses to route the event.
    pub fn event_type(&self) -> Option<String> {
        let activity_type = self.activity_type.as_deref()?;
        Some(match self.status_code.as_deref() {
            Some(status_code) => format!("{activity_type}.{status_code}"),
            None => activity_type.to_owned(),
        })
    }
}

impl TypedEvent for Activity {
    // One type for every activity: the open enums are strings, so no event type is unknown.
    const EVENT_TYPES: &'static [&'static str] = &["*"];

    fn from_event(event: &Event) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
        from_json(event)
    }
}

/// Severity of an activity, ordered from [`None`](Self::None) to [`Critical`](Self::Critical).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// Priority of an activity, ordered from [`None`](Self::None) to [`High`](Self::High).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    /// No priority.
    None,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// Outcome of an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityResult {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
    /// The device does not support it.
    Unsupported,
    /// It did not complete.
    Uncompleted,
}

/// An expanded device (node).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// Device UID (UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Parent device (for example the host of a virtual machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_device_id: Option<i32>,
    /// Organization the device belongs to (the activity itself carries none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<i32>,
    /// Location of the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<i32>,
    /// Class of the device (`WINDOWS_SERVER`, `VMWARE_VM_HOST`, ...); an open enum, so a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class: Option<String>,
    /// Device role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_role_id: Option<i32>,
    /// Policy of the device role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_policy_id: Option<i32>,
    /// Policy assigned to the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<i32>,
    /// Approval status of the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_status: Option<ApprovalStatus>,
    /// Whether the device is offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// System (host) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    /// DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// NetBIOS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netbios_name: Option<String>,
    /// When the device was registered, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<f64>,
    /// Last contact with the device, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contact: Option<f64>,
    /// Last update of the device's data, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update: Option<f64>,
    /// Custom data attached to the device, free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<serde_json::Value>,
    /// Tags of the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Maintenance window of the device, if one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<Maintenance>,
    /// Expanded objects the device refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<DeviceReferences>,
}

/// Approval status of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalStatus {
    /// Waiting for approval.
    Pending,
    /// Approved.
    Approved,
    /// Staged.
    Staged,
    /// Decommissioned.
    Decommissioned,
}

/// Objects an expanded device refers to. NinjaRMM may send others (policy, role, ...); they are
/// ignored here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceReferences {
    /// The device's organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    /// The device's location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// An organization (client).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Organization id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// Organization name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Organization description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How new devices of the organization are approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_approval_mode: Option<NodeApprovalMode>,
}

/// How new devices of an organization are approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodeApprovalMode {
    /// Approved automatically.
    Automatic,
    /// Approved by a technician.
    Manual,
    /// Rejected.
    Reject,
}

/// A location of an organization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Location id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// Location name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Location description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A device's maintenance window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Maintenance {
    /// State of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MaintenanceStatus>,
    /// Start of the window, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// End of the window, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
}

/// State of a device's maintenance window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MaintenanceStatus {
    /// Scheduled, not started.
    Pending,
    /// The device is in maintenance.
    InMaintenance,
    /// The window could not be applied.
    Failed,
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;
    use crate::event::{EventId, EventKind};

    /// The reference's real capture (values changed), byte for byte.
    const CAPTURE: &str = r#"{"id":177210,"activityTime":1742391675.556,"deviceId":7,
 "seriesUid":"e6b0b0bd-5753-445d-9e4a-71c08983cbd5","activityType":"CONDITION",
 "statusCode":"TRIGGERED","status":"Triggered","sourceConfigUid":"205b85b2-8a12-4123-834f-164be08b3314",
 "sourceName":"_average_","subject":"","message":"Memory Utilization is greater than or equal to 80% for 5 minutes",
 "type":"Condition","data":{"message":{"code":"vmm_cond_memory_usage_ge","params":{"duration":5,"threshold":80,"unit":"%"}}},
 "device":{"id":7,"organizationId":2,"locationId":2,"nodeClass":"VMWARE_VM_HOST","approvalStatus":"APPROVED",
   "offline":false,"systemName":"esx03.example.local","references":{"organization":{"id":2,"name":"Example Org"},
   "location":{"id":2,"name":"Main Office"}}}}"#;

    const SPEC: &str = include_str!("../../spec/ninjarmm/webhook.yaml");

    fn spec() -> Value {
        yaml_serde::from_str(SPEC).expect("spec/ninjarmm/webhook.yaml is YAML")
    }

    fn event(json: Value) -> Event {
        let raw = Bytes::from(json.to_string());
        Event::new("rmm", EventId::new("1"), EventKind::new("t"), raw, json)
    }

    #[test]
    fn real_capture_deserializes() {
        let activity: Activity = serde_json::from_str(CAPTURE).unwrap();
        assert_eq!(activity.id, Some(177_210));
        assert_eq!(activity.activity_time, Some(1_742_391_675.556));
        assert_eq!(
            activity.event_type().as_deref(),
            Some("CONDITION.TRIGGERED")
        );
        assert_eq!(activity.r#type.as_deref(), Some("Condition"));
        assert_eq!(activity.subject.as_deref(), Some(""));
        assert_eq!((activity.severity, activity.user_id), (None, None));
        let data = activity.data.as_ref().unwrap();
        assert_eq!(data["message"]["params"]["threshold"], 80);

        let device = activity.device.unwrap();
        assert_eq!(device.node_class.as_deref(), Some("VMWARE_VM_HOST"));
        assert_eq!(device.approval_status, Some(ApprovalStatus::Approved));
        assert_eq!(device.offline, Some(false));
        let references = device.references.unwrap();
        assert_eq!(
            references.organization.unwrap().name.as_deref(),
            Some("Example Org")
        );
        assert_eq!(
            references.location.unwrap().name.as_deref(),
            Some("Main Office")
        );
    }

    #[test]
    fn null_fields_read_as_absent() {
        let mut json: Value = serde_json::from_str(CAPTURE).unwrap();
        for field in [
            "userId",
            "severity",
            "priority",
            "activityResult",
            "data",
            "organization",
        ] {
            json[field] = Value::Null;
        }
        json["device"]["maintenance"] = Value::Null;
        json["device"]["references"]["location"] = json!({"id": null, "name": null});
        let activity: Activity = serde_json::from_value(json).unwrap();
        assert_eq!(
            (activity.user_id, activity.severity, activity.data),
            (None, None, None)
        );
        let device = activity.device.unwrap();
        assert_eq!(device.maintenance, None);
        assert_eq!(
            device.references.unwrap().location,
            Some(Location::default())
        );
    }

    #[test]
    fn unknown_open_enum_values_are_kept() {
        let json = json!({
            "activityType": "QUANTUM", "statusCode": "ENTANGLED",
            "device": {"nodeClass": "TOASTER"}
        });
        let activity: Activity = serde_json::from_value(json).unwrap();
        assert_eq!(activity.event_type().as_deref(), Some("QUANTUM.ENTANGLED"));
        assert_eq!(
            activity.device.unwrap().node_class.as_deref(),
            Some("TOASTER")
        );
    }

    #[test]
    fn event_type_falls_back_to_the_activity_type() {
        let activity = Activity {
            activity_type: Some("SYSTEM".into()),
            ..Activity::default()
        };
        assert_eq!(activity.event_type().as_deref(), Some("SYSTEM"));
        let activity = Activity {
            status_code: Some("RESET".into()),
            ..Activity::default()
        };
        assert_eq!(activity.event_type(), None);
    }

    #[test]
    fn typed_extraction_reports_the_path_of_an_unknown_closed_enum_value() {
        let mut json: Value = serde_json::from_str(CAPTURE).unwrap();
        assert_eq!(
            Activity::from_event(&event(json.clone())).unwrap().id,
            Some(177_210)
        );

        json["device"]["approvalStatus"] = json!("LOST");
        let error = Activity::from_event(&event(json)).unwrap_err();
        assert_eq!(error.path().to_string(), "device.approvalStatus");
        assert_eq!(Activity::EVENT_TYPES, &["*"]);
    }

    #[test]
    fn severity_and_priority_are_ordered() {
        assert!(Severity::None < Severity::Minor && Severity::Major < Severity::Critical);
        assert!(Priority::Low < Priority::High);
        assert!(Some(Severity::Critical) >= Some(Severity::Major) && None < Some(Severity::None));
    }

    #[test]
    fn every_spec_example_deserializes_under_its_event_type() {
        let spec = spec();
        let examples = spec["paths"]["/webhooks/ninjarmm/activity"]["post"]["requestBody"]
            ["content"]["application/json"]["examples"]
            .as_object()
            .expect("the spec has examples");
        assert!(examples.len() >= 6);
        for (name, example) in examples {
            let activity: Activity = serde_json::from_value(example["value"].clone())
                .unwrap_or_else(|e| panic!("example {name}: {e}"));
            assert_eq!(activity.event_type().as_deref(), Some(name.as_str()));
            let again: Activity =
                serde_json::from_value(serde_json::to_value(&activity).unwrap()).unwrap();
            assert_eq!(again, activity, "example {name} round-trips");
        }
    }

    fn spec_values(schema: &str, property: &str) -> Vec<Value> {
        let spec = spec();
        let property = &spec["components"]["schemas"][schema]["properties"][property];
        property["enum"].as_array().expect("a closed enum").clone()
    }

    fn same_values<T: Serialize>(variants: &[T], schema: &str, property: &str) {
        let ours: Vec<Value> = variants
            .iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect();
        assert_eq!(ours, spec_values(schema, property), "{schema}.{property}");
    }

    #[test]
    fn closed_enums_match_the_spec() {
        use Severity as S;
        same_values(
            &[S::None, S::Minor, S::Moderate, S::Major, S::Critical],
            "Activity",
            "severity",
        );
        use Priority as P;
        same_values(
            &[P::None, P::Low, P::Medium, P::High],
            "Activity",
            "priority",
        );
        use ActivityResult as R;
        same_values(
            &[R::Success, R::Failure, R::Unsupported, R::Uncompleted],
            "Activity",
            "activityResult",
        );
        use ApprovalStatus as A;
        same_values(
            &[A::Pending, A::Approved, A::Staged, A::Decommissioned],
            "Device",
            "approvalStatus",
        );
        use MaintenanceStatus as M;
        same_values(
            &[M::Pending, M::InMaintenance, M::Failed],
            "Maintenance",
            "status",
        );
        use NodeApprovalMode as N;
        same_values(
            &[N::Automatic, N::Manual, N::Reject],
            "Organization",
            "nodeApprovalMode",
        );
    }
}
