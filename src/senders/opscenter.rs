//! Ops-Center's webhook events (`{event, timestamp, data, webhook_id}`), signed with
//! `X-Webhook-Signature: <hex>`. Kept in sync with `spec/opscenter.yaml` by a test that
//! deserializes every example of the spec into these types.
//!
//! Ops-Center documents its 30 event types but only part of one payload (`user.created`'s
//! `user_id` and `email`). Every other field here is assumed, so every field but the subject's id
//! is optional, and subscriptions have no required field at all.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::typed::typed_events;

/// The envelope every Ops-Center event shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<D> {
    /// Event type, e.g. `user.created`.
    pub event: String,
    /// When Ops-Center sent the event (ISO 8601).
    pub timestamp: String,
    /// Event-specific data.
    pub data: D,
    /// The webhook subscription that delivered the event (not part of the event id).
    #[serde(default)]
    pub webhook_id: Option<String>,
}

/// A user id: the seed's example has an integer, Ops-Center's own notes a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UserId {
    /// A numeric id (`123`).
    Number(i64),
    /// A string id (`"usr_abc123"`).
    Text(String),
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// Alert severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Warning.
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
}

/// Data of the user account events (all user events but login and logout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserData {
    /// User id.
    pub user_id: UserId,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Login name.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Role (`admin`, `user`, ...).
    #[serde(default)]
    pub role: Option<String>,
    /// Subscription tier (`trial`, ...).
    #[serde(default)]
    pub subscription_tier: Option<String>,
    /// Whether the email address is verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Names of the fields that changed.
    #[serde(default)]
    pub changed_fields: Option<Vec<String>>,
    /// When the account was created (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the account last changed (ISO 8601).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// When the account was deleted (ISO 8601).
    #[serde(default)]
    pub deleted_at: Option<String>,
}

/// Data of `user.login` and `user.logout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSessionData {
    /// User id.
    pub user_id: UserId,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Login name.
    #[serde(default)]
    pub username: Option<String>,
    /// Session id.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Client IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Client user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// When the user logged in (ISO 8601).
    #[serde(default)]
    pub login_at: Option<String>,
    /// When the user logged out (ISO 8601).
    #[serde(default)]
    pub logout_at: Option<String>,
}

/// Data of the subscription events. Nothing is required: the `subscription.updated` Ops-Center's
/// notes show is keyed by `email` and has no subscription id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionData {
    /// Subscription id.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Subscribing user.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Subscribing organization (a UUID).
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Email address of the subscriber.
    #[serde(default)]
    pub email: Option<String>,
    /// Plan name (`professional`, ...).
    #[serde(default)]
    pub plan: Option<String>,
    /// Tier name, as Ops-Center's admin changes send it.
    #[serde(default)]
    pub tier: Option<String>,
    /// Status (`active`, `trialing`, `past_due`, `cancelled`, `expired`, `suspended`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Price per billing period.
    #[serde(default)]
    pub amount: Option<f64>,
    /// Currency code (`usd`, ...).
    #[serde(default)]
    pub currency: Option<String>,
    /// Billing period (`monthly`, `yearly`, ...).
    #[serde(default)]
    pub billing_cycle: Option<String>,
    /// Start of the current billing period (ISO 8601).
    #[serde(default)]
    pub current_period_start: Option<String>,
    /// End of the current billing period (ISO 8601).
    #[serde(default)]
    pub current_period_end: Option<String>,
    /// When the subscription was cancelled (ISO 8601).
    #[serde(default)]
    pub cancelled_at: Option<String>,
    /// Why it was cancelled.
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// Why the payment failed, for `subscription.payment_failed`.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// When the subscription last changed (ISO 8601).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Who changed it (an admin's email).
    #[serde(default)]
    pub updated_by: Option<String>,
    /// Free-text note on the change.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Data of the `payment.*` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentData {
    /// Payment id.
    pub payment_id: String,
    /// Invoice the payment is for.
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// Subscription the payment is for.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Paying user.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Paying organization (a UUID).
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Amount, in currency units (not cents).
    #[serde(default)]
    pub amount: Option<f64>,
    /// Amount refunded, for `payment.refunded`.
    #[serde(default)]
    pub refunded_amount: Option<f64>,
    /// Currency code (`usd`, ...).
    #[serde(default)]
    pub currency: Option<String>,
    /// Status (`succeeded`, `failed`, `refunded`, `pending`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Payment method (`card`, ...).
    #[serde(default)]
    pub payment_method: Option<String>,
    /// Why the payment failed.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// When the payment was made (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Data of the `invoice.*` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceData {
    /// Invoice id.
    pub invoice_id: String,
    /// Subscription invoiced.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Invoiced user.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Invoiced organization (a UUID).
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Amount due, in currency units.
    #[serde(default)]
    pub amount_due: Option<f64>,
    /// Amount paid so far, in currency units.
    #[serde(default)]
    pub amount_paid: Option<f64>,
    /// Currency code (`usd`, ...).
    #[serde(default)]
    pub currency: Option<String>,
    /// Status (`draft`, `open`, `paid`, `overdue`, `void`, `uncollectible`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Due date (ISO 8601 date or date-time).
    #[serde(default)]
    pub due_date: Option<String>,
    /// When the invoice was paid (ISO 8601).
    #[serde(default)]
    pub paid_at: Option<String>,
    /// Where the invoice can be viewed.
    #[serde(default)]
    pub invoice_url: Option<String>,
    /// When the invoice was issued (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Data of the organization events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationData {
    /// Organization id (a UUID).
    pub organization_id: String,
    /// Organization name.
    #[serde(default)]
    pub name: Option<String>,
    /// Plan tier (`professional`, ...).
    #[serde(default)]
    pub plan_tier: Option<String>,
    /// Owner (an email address or user id).
    #[serde(default)]
    pub owner: Option<String>,
    /// Number of members.
    #[serde(default)]
    pub member_count: Option<i64>,
    /// Names of the fields that changed.
    #[serde(default)]
    pub changed_fields: Option<Vec<String>>,
    /// When the organization was created (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the organization last changed (ISO 8601).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// When the organization was deleted (ISO 8601).
    #[serde(default)]
    pub deleted_at: Option<String>,
}

/// Data of the edge device events (all but `device.alert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceData {
    /// Device id.
    pub device_id: String,
    /// Device name.
    #[serde(default)]
    pub device_name: Option<String>,
    /// Device type (`uc1-pro`, `gateway`, `custom`, ...).
    #[serde(default)]
    pub device_type: Option<String>,
    /// Organization owning the device (a UUID).
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Hardware identifier reported by the device.
    #[serde(default)]
    pub hardware_id: Option<String>,
    /// Firmware version.
    #[serde(default)]
    pub firmware_version: Option<String>,
    /// Last known IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Status (`online`, `offline`, `maintenance`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Status before this event.
    #[serde(default)]
    pub previous_status: Option<String>,
    /// Last heartbeat from the device (ISO 8601).
    #[serde(default)]
    pub last_seen: Option<String>,
    /// Names of the fields that changed.
    #[serde(default)]
    pub changed_fields: Option<Vec<String>>,
    /// When the device registered (ISO 8601).
    #[serde(default)]
    pub registered_at: Option<String>,
    /// When the device last changed (ISO 8601).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// When the device was deleted (ISO 8601).
    #[serde(default)]
    pub deleted_at: Option<String>,
    /// When the status change was observed (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// Data of `device.alert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceAlertData {
    /// Device id.
    pub device_id: String,
    /// Device name.
    #[serde(default)]
    pub device_name: Option<String>,
    /// Alert id.
    #[serde(default)]
    pub alert_id: Option<String>,
    /// What the alert is about (`high_temperature`, `low_disk`, ...).
    #[serde(default)]
    pub alert_type: Option<String>,
    /// Severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// Metric that crossed its threshold.
    #[serde(default)]
    pub metric: Option<String>,
    /// Value of the metric.
    #[serde(default)]
    pub value: Option<f64>,
    /// Threshold that was crossed.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// When the device raised the alert (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// Data of `alert.triggered` and `alert.resolved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertData {
    /// Alert id.
    pub alert_id: String,
    /// What the alert is about (`high_cpu`, `service_down`, ...).
    #[serde(default)]
    pub alert_type: Option<String>,
    /// Severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// Device concerned, if any.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Alert-specific details, free-form.
    #[serde(default)]
    pub details: Option<serde_json::Value>,
    /// When the alert fired (ISO 8601).
    #[serde(default)]
    pub triggered_at: Option<String>,
    /// When the alert was resolved (ISO 8601); `None` while it is active.
    #[serde(default)]
    pub resolved_at: Option<String>,
}

typed_events! {
    /// Every Ops-Center event.
    pub enum OpsCenterEvent {
        /// A user account was created.
        UserCreated = "user.created" => Envelope<UserData>,
        /// A user account was updated.
        UserUpdated = "user.updated" => Envelope<UserData>,
        /// A user account was deleted.
        UserDeleted = "user.deleted" => Envelope<UserData>,
        /// A user logged in.
        UserLogin = "user.login" => Envelope<UserSessionData>,
        /// A user logged out.
        UserLogout = "user.logout" => Envelope<UserSessionData>,
        /// A user changed their password.
        UserPasswordChanged = "user.password_changed" => Envelope<UserData>,
        /// A user verified their email address.
        UserEmailVerified = "user.email_verified" => Envelope<UserData>,
        /// A user updated their profile.
        UserProfileUpdated = "user.profile_updated" => Envelope<UserData>,
        /// A subscription was created.
        SubscriptionCreated = "subscription.created" => Envelope<SubscriptionData>,
        /// A subscription was changed.
        SubscriptionUpdated = "subscription.updated" => Envelope<SubscriptionData>,
        /// A subscription was cancelled.
        SubscriptionCancelled = "subscription.cancelled" => Envelope<SubscriptionData>,
        /// A subscription was renewed.
        SubscriptionRenewed = "subscription.renewed" => Envelope<SubscriptionData>,
        /// A subscription's payment failed.
        SubscriptionPaymentFailed = "subscription.payment_failed" => Envelope<SubscriptionData>,
        /// A payment succeeded.
        PaymentSucceeded = "payment.succeeded" => Envelope<PaymentData>,
        /// A payment failed.
        PaymentFailed = "payment.failed" => Envelope<PaymentData>,
        /// A payment was refunded.
        PaymentRefunded = "payment.refunded" => Envelope<PaymentData>,
        /// An invoice was created.
        InvoiceCreated = "invoice.created" => Envelope<InvoiceData>,
        /// An invoice was paid.
        InvoicePaid = "invoice.paid" => Envelope<InvoiceData>,
        /// An invoice is overdue.
        InvoiceOverdue = "invoice.overdue" => Envelope<InvoiceData>,
        /// An organization was created.
        OrganizationCreated = "organization.created" => Envelope<OrganizationData>,
        /// An organization was updated.
        OrganizationUpdated = "organization.updated" => Envelope<OrganizationData>,
        /// An organization was deleted.
        OrganizationDeleted = "organization.deleted" => Envelope<OrganizationData>,
        /// An edge device was registered.
        DeviceRegistered = "device.registered" => Envelope<DeviceData>,
        /// An edge device was updated.
        DeviceUpdated = "device.updated" => Envelope<DeviceData>,
        /// An edge device was deleted.
        DeviceDeleted = "device.deleted" => Envelope<DeviceData>,
        /// An edge device came online.
        DeviceOnline = "device.online" => Envelope<DeviceData>,
        /// An edge device went offline.
        DeviceOffline = "device.offline" => Envelope<DeviceData>,
        /// An edge device raised an alert.
        DeviceAlert = "device.alert" => Envelope<DeviceAlertData>,
        /// A monitoring alert fired.
        AlertTriggered = "alert.triggered" => Envelope<AlertData>,
        /// A monitoring alert was resolved.
        AlertResolved = "alert.resolved" => Envelope<AlertData>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_user_created() {
        // The seed's example, without its `...` placeholder.
        let json = r#"{
          "event": "user.created",
          "timestamp": "2025-01-26T12:00:00Z",
          "data": {"user_id": 123, "email": "user@example.com"},
          "webhook_id": "webhook-uuid"
        }"#;
        let event: UserCreated = serde_json::from_str(json).unwrap();
        assert_eq!(event.event, "user.created");
        assert_eq!(event.data.user_id, UserId::Number(123));
        assert_eq!(event.data.email.as_deref(), Some("user@example.com"));
        assert_eq!(event.webhook_id.as_deref(), Some("webhook-uuid"));
        assert_eq!(OpsCenterEvent::KNOWN.len(), 30);
    }

    #[test]
    fn string_user_id_and_no_webhook_id() {
        let json = r#"{"event": "user.login", "timestamp": "2026-01-26T17:30:00.123456",
            "data": {"user_id": "usr_abc123", "email": "user@example.com"}}"#;
        let event: UserLogin = serde_json::from_str(json).unwrap();
        assert_eq!(event.data.user_id, UserId::Text("usr_abc123".into()));
        assert_eq!(event.data.user_id.to_string(), "usr_abc123");
        assert_eq!(event.webhook_id, None);
    }

    #[test]
    fn closed_severity_and_keyless_subscription() {
        let json = r#"{"event": "alert.triggered", "timestamp": "2025-01-26T12:32:00Z",
            "data": {"alert_id": "a1", "severity": "fatal"}}"#;
        assert!(serde_json::from_str::<AlertTriggered>(json).is_err());

        let json = r#"{"event": "subscription.updated", "timestamp": "2026-01-26T17:32:00Z",
            "data": {"email": "user@example.com", "tier": "professional", "status": "active"}}"#;
        let event: SubscriptionUpdated = serde_json::from_str(json).unwrap();
        assert_eq!(event.data.subscription_id, None);
        assert_eq!(event.data.tier.as_deref(), Some("professional"));
    }
}
