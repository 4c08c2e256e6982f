//! What is stored for a managed source, and what the API takes to create and change one.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{DEFAULT_OVERLAP, SourceError};
use crate::auth::signature::{Algorithm, KeyEncoding};
use crate::auth::{Secret, secret};
use crate::config::{AuthConfig, DecompressConfig, IdPlaceConfig, IngestConfig, SourceConfig};
use crate::profile::Profile;
use crate::route::Filter;
use crate::route::filter::{ConditionError, ConditionSpec};
use crate::spec::UnknownEvents;
use crate::spool::SpoolRoute;

/// One route of a managed source: event types (exact or globs), and conditions on the content,
/// to a destination of the configuration file (by its name, `log` when it has one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Event types: exact names or globs; every type when absent.
    #[serde(default = "every_event")]
    pub events: Vec<String>,
    /// Conditions on the body and headers that must all hold too, as in a `[[route]]` table
    /// (`[{"pointer": "/severity", "one_of": ["CRITICAL"]}]`); none when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<ConditionSpec>,
    /// The destination's name.
    pub to: String,
}

impl RouteSpec {
    /// Its conditions, checked; what is wrong with each that does not parse.
    pub(crate) fn filter(&self) -> Result<Filter, Vec<ConditionError>> {
        Filter::parse(&self.when)
    }
}

fn every_event() -> Vec<String> {
    vec!["*".into()]
}

/// A secret as stored: its value (verification needs it), and its dates.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecret {
    /// The secret's text.
    pub value: String,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// When it stops being accepted (RFC 3339), if ever.
    pub not_after: Option<String>,
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSecret")
            .field("value", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// `POST /sources`: a new source. The keys are those of a `[[source]]` table (but `secrets`
/// and `spec`), plus its tenant, routes and state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// Unique name (letters, digits, `-`, `_`).
    pub name: String,
    /// A profile (`homa`, `stripe`, ..., or `generic` with `auth`).
    pub profile: String,
    /// Mount path; `/hooks/<name>` when absent.
    pub path: Option<String>,
    /// The tenant (a tenant's token can only name its own; it is the default).
    pub tenant: Option<String>,
    /// Whether it accepts events (default true).
    pub enabled: Option<bool>,
    /// Where its events go; none: acknowledged and dropped.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// The secret, when the sender generated it (Stripe, Slack, a Standard Webhooks public
    /// key); otherwise hookgate generates one and returns it once.
    pub secret: Option<String>,
    /// `[source.auth]`.
    pub auth: Option<AuthConfig>,
    /// `event_type`.
    pub event_type: Option<Vec<String>>,
    /// `event_id`.
    pub event_id: Option<Vec<IdPlaceConfig>>,
    /// `keep_headers`.
    pub keep_headers: Option<Vec<String>>,
    /// `max_body_bytes`.
    pub max_body_bytes: Option<usize>,
    /// `decompress` (`{"max_bytes": N}`).
    pub decompress: Option<DecompressConfig>,
    /// `ingest` (`{"rate": 50, "burst": 200}`, optionally `failed_rate`, `failed_burst`).
    pub ingest: Option<IngestConfig>,
    /// `validate` (`enforce`, `report`, `off`).
    pub validate: Option<crate::validate::ValidationMode>,
    /// `unknown_events`.
    pub unknown_events: Option<UnknownEvents>,
    /// `form_field`.
    pub form_field: Option<String>,
    /// `handshake`.
    pub handshake: Option<String>,
    /// `ack_status` (200, 202 or 204).
    pub ack_status: Option<u16>,
    /// `min_secret_bytes`.
    pub min_secret_bytes: Option<usize>,
}

/// `PATCH /sources/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    /// Accept events (true) or answer 403 `source_disabled` (false).
    pub enabled: Option<bool>,
    /// Replace the routes.
    pub routes: Option<Vec<RouteSpec>>,
}

/// `POST /sources/{id}/secrets`: rotation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    /// The new secret; generated (and returned once) when absent.
    pub secret: Option<String>,
    /// The secrets already there stop being accepted at this time (RFC 3339)...
    pub retire_others_at: Option<String>,
    /// ...or this long from now (`24h` when neither is given; `0s` at once).
    pub retire_others_after: Option<String>,
}

/// What is stored for a managed source (JSON in the spool's `sources` keyspace).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceRecord {
    /// `src_` and 16 hex digits; `config:<name>` for the configuration file's.
    pub id: String,
    /// The tenant, if any.
    pub tenant: Option<String>,
    /// The `[[source]]` table it amounts to (without secrets).
    pub config: SourceConfig,
    /// Where its events go.
    pub routes: Vec<RouteSpec>,
    /// Its secrets, oldest first.
    pub secrets: Vec<StoredSecret>,
    /// Whether it accepts events.
    pub enabled: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn fresh_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&nanos.to_le_bytes()[..8]);
    }
    format!("src_{}", hex::encode(bytes))
}

/// A strong secret for `config`'s format: 32 random bytes, `whsec_`+base64 for Standard
/// Webhooks-style keys, hex otherwise. `None` for Ed25519 (the sender holds the private key).
fn generate_for(config: &SourceConfig) -> Result<Option<String>, SourceError> {
    let profile = Profile::from_name(&config.profile);
    let format = profile.and_then(Profile::format);
    let auth = config.auth.as_ref();
    let algorithm = auth
        .and_then(|a| a.algorithm)
        .or(format.as_ref().map(|f| f.algorithm));
    if algorithm == Some(Algorithm::Ed25519) {
        return Ok(None);
    }
    let base64 = auth
        .and_then(|a| a.key)
        .or(format.as_ref().map(|f| f.key_encoding))
        == Some(KeyEncoding::Base64);
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut_slice())
        .map_err(|e| SourceError::Storage(format!("no randomness for a secret: {e}")))?;
    Ok(Some(if base64 {
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(bytes.as_slice())
        )
    } else {
        hex::encode(bytes.as_slice())
    }))
}

fn parse_time(text: &str, what: &str) -> Result<SystemTime, SourceError> {
    humantime::parse_rfc3339_weak(text).map_err(|_| {
        SourceError::Invalid(vec![format!(
            "{what} {text:?} is not an RFC 3339 time (2026-12-01T00:00:00Z)"
        )])
    })
}

impl SourceRecord {
    /// A record from a create request. Returns it and the secret it generated, if it did.
    pub(crate) fn create(
        request: CreateSource,
        tenant: Option<String>,
        now: String,
    ) -> Result<(Self, Option<String>), SourceError> {
        let mut problems = Vec::new();
        if !valid_name(&request.name) {
            problems.push(format!(
                "name {:?}: 1 to 64 letters, digits, - or _",
                request.name
            ));
        }
        if let Some(path) = &request.path {
            if !path.starts_with('/') || path.contains("..") || path.contains("//") {
                problems.push(format!(
                    "path {path:?} must be an absolute path like /hooks/x"
                ));
            }
            // The probes answer there; a source must not shadow them.
            if ["/healthz", "/readyz"].contains(&path.as_str()) {
                problems.push(format!("path {path} is the gateway's own probe"));
            }
        }
        if request.decompress.is_some_and(|d| d.max_bytes == 0) {
            problems.push("decompress.max_bytes must be above 0".into());
        }
        if let Some(Err(error)) = request.ingest.map(|ingest| ingest.limits()) {
            problems.push(format!("ingest: {error}"));
        }
        if tenant.as_deref().is_some_and(|t| !valid_name(t)) {
            problems.push("tenant: 1 to 64 letters, digits, - or _".into());
        }
        let config = SourceConfig {
            name: request.name,
            profile: request.profile,
            path: request.path,
            auth: request.auth,
            event_type: request.event_type,
            event_id: request.event_id,
            keep_headers: request.keep_headers,
            max_body_bytes: request.max_body_bytes,
            decompress: request.decompress,
            ingest: request.ingest,
            validate: request.validate,
            unknown_events: request.unknown_events,
            form_field: request.form_field,
            handshake: request.handshake,
            ack_status: request.ack_status,
            min_secret_bytes: request.min_secret_bytes,
            tenant: tenant.clone(),
            ..SourceConfig::default()
        };
        let (value, generated) = match request.secret {
            Some(value) => (value, None),
            None => match generate_for(&config)? {
                Some(value) => (value.clone(), Some(value)),
                None => {
                    problems.push(
                        "this source verifies Ed25519 signatures: give the sender's public key \
                         as `secret` (whpk_...)"
                            .into(),
                    );
                    (String::new(), None)
                }
            },
        };
        if !problems.is_empty() {
            return Err(SourceError::Invalid(problems));
        }
        let record = Self {
            id: fresh_id(),
            tenant,
            config,
            routes: request.routes,
            secrets: vec![StoredSecret {
                value,
                created_at: now.clone(),
                not_after: None,
            }],
            enabled: request.enabled.unwrap_or(true),
            created_at: now.clone(),
            updated_at: now,
        };
        Ok((record, generated))
    }

    /// The record of a configuration file's source (read-only; secrets by fingerprint only:
    /// their values are not kept).
    pub(crate) fn from_config(sc: &SourceConfig, secrets: &[Secret]) -> Self {
        let mut config = sc.clone();
        config.secrets.clear();
        Self {
            id: format!("config:{}", sc.name),
            tenant: sc.tenant.clone(),
            config,
            routes: Vec::new(),
            secrets: secrets
                .iter()
                .map(|s| StoredSecret {
                    // Never stored: a configuration file's secrets stay where they are.
                    value: format!("fingerprint:{}", s.fingerprint()),
                    created_at: String::new(),
                    not_after: s
                        .expires_at()
                        .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                })
                .collect(),
            enabled: true,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    /// The mount path.
    pub fn path(&self) -> String {
        self.config.mount_path()
    }

    /// The `[[source]]` table this record amounts to (secrets aside).
    pub(crate) fn config_with_names(&self) -> SourceConfig {
        self.config.clone()
    }

    /// Its routes as the spool sink takes them. A route whose conditions do not parse matches
    /// nothing (a record is checked before it is stored or mounted, so none is mounted so).
    pub(crate) fn spool_routes(&self) -> Vec<SpoolRoute> {
        self.routes
            .iter()
            .flat_map(|r| {
                let filter = r.filter();
                r.events.iter().filter_map(move |pattern| {
                    let filter = filter.as_ref().ok()?.clone();
                    Some(SpoolRoute::new(pattern.clone(), r.to.clone()).when(filter))
                })
            })
            .collect()
    }

    /// Its secrets, loaded (each problem pushed).
    pub(crate) fn secrets(&self, problems: &mut Vec<String>) -> Vec<Secret> {
        let min = self
            .config
            .min_secret_bytes
            .unwrap_or(secret::MIN_SECRET_BYTES);
        let mut loaded = Vec::new();
        for (i, stored) in self.secrets.iter().enumerate() {
            let origin = format!("{}#{}", self.id, i + 1);
            match Secret::with_minimum(stored.value.as_bytes().to_vec(), origin, min) {
                Ok(secret) => match stored
                    .not_after
                    .as_deref()
                    .map(|t| parse_time(t, "not_after"))
                {
                    None => loaded.push(secret),
                    Some(Ok(at)) => loaded.push(secret.not_after(at)),
                    Some(Err(e)) => problems.push(e.to_string()),
                },
                Err(e) => problems.push(e.to_string()),
            }
        }
        loaded
    }

    /// Add a secret; the others stop being accepted when the request says (24 h by default).
    pub(crate) fn add_secret(
        &mut self,
        request: SecretRequest,
        now: String,
    ) -> Result<Option<String>, SourceError> {
        let retire_at = match (&request.retire_others_at, &request.retire_others_after) {
            (Some(_), Some(_)) => {
                return Err(SourceError::Invalid(vec![
                    "give retire_others_at or retire_others_after, not both".into(),
                ]));
            }
            (Some(at), None) => parse_time(at, "retire_others_at")?,
            (None, Some(after)) => {
                let after = humantime::parse_duration(after).map_err(|_| {
                    SourceError::Invalid(vec![format!(
                        "retire_others_after {after:?} is not a duration like 24h"
                    )])
                })?;
                SystemTime::now() + after
            }
            (None, None) => SystemTime::now() + DEFAULT_OVERLAP,
        };
        let (value, generated) = match request.secret {
            Some(value) => (value, None),
            None => match generate_for(&self.config)? {
                Some(value) => (value.clone(), Some(value)),
                None => {
                    return Err(SourceError::Invalid(vec![
                        "this source verifies Ed25519 signatures: give the sender's new public \
                         key as `secret`"
                            .into(),
                    ]));
                }
            },
        };
        let at = humantime::format_rfc3339_seconds(retire_at).to_string();
        for old in &mut self.secrets {
            let sooner = old
                .not_after
                .as_deref()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .is_some_and(|t| t <= retire_at);
            if !sooner {
                old.not_after = Some(at.clone());
            }
        }
        self.secrets.push(StoredSecret {
            value,
            created_at: now,
            not_after: None,
        });
        Ok(generated)
    }

    /// The secret with `fingerprint` stops being accepted at `at`; refused if no other secret
    /// would still be valid then.
    pub(crate) fn retire(&mut self, fingerprint: &str, at: SystemTime) -> Result<(), SourceError> {
        let mut problems = Vec::new();
        let loaded = self.secrets(&mut problems);
        let Some(index) = loaded.iter().position(|s| s.fingerprint() == fingerprint) else {
            return Err(SourceError::NotFound(format!(
                "{} secret {fingerprint}",
                self.id
            )));
        };
        let others_valid = loaded
            .iter()
            .enumerate()
            .any(|(i, s)| i != index && s.valid_at(at));
        if !others_valid {
            return Err(SourceError::Invalid(vec![
                "no other secret would be valid then: add one first (POST .../secrets)".into(),
            ]));
        }
        self.secrets[index].not_after = Some(humantime::format_rfc3339_seconds(at).to_string());
        Ok(())
    }

    /// What the API shows: never a secret's value, only its fingerprint and dates.
    pub(crate) fn view(&self, read_only: bool, mounted: bool) -> Value {
        let mut problems = Vec::new();
        let loaded = if read_only {
            Vec::new()
        } else {
            self.secrets(&mut problems)
        };
        let now = SystemTime::now();
        let secrets: Vec<Value> = self
            .secrets
            .iter()
            .enumerate()
            .map(|(i, stored)| {
                let fingerprint = match loaded.get(i) {
                    Some(secret) => secret.fingerprint(),
                    None => stored
                        .value
                        .strip_prefix("fingerprint:")
                        .unwrap_or("?")
                        .to_owned(),
                };
                let valid = loaded.get(i).is_none_or(|s| s.valid_at(now));
                json!({
                    "fingerprint": fingerprint,
                    "created_at": (!stored.created_at.is_empty()).then_some(&stored.created_at),
                    "not_after": stored.not_after,
                    "valid": valid,
                })
            })
            .collect();
        json!({
            "id": self.id,
            "name": self.config.name,
            "tenant": self.tenant,
            "profile": self.config.profile,
            "path": self.path(),
            "enabled": self.enabled,
            "read_only": read_only,
            "mounted": mounted,
            "routes": self.routes,
            "secrets": secrets,
            "created_at": (!self.created_at.is_empty()).then_some(&self.created_at),
            "updated_at": (!self.updated_at.is_empty()).then_some(&self.updated_at),
        })
    }
}
