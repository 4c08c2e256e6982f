//! Build a [`Source`] from its `[[source]]` table: profile, secrets, signature format, event
//! shape and spec, every problem collected.
//!
//! It lives with the configuration it reads, below everything that builds sources: the app
//! (the configuration file's sources) and the catalog (sources managed through the admin API)
//! both call it, and neither has to import the other.

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderName;

use super::{AuthConfig, ConfigError, SourceConfig};
use crate::auth::signature::{Algorithm, Place, SignatureFormat, SignatureScheme, Template};
use crate::auth::{Scheme, Secret, TokenLocation, TokenScheme, secret};
use crate::handshake::Handshake;
use crate::parse::shape::EventShape;
use crate::profile::Profile;
use crate::source::Source;
use crate::spec::Spec;

/// Build the [`Source`] one `[[source]]` table describes (profile, overrides, secrets loaded).
pub fn source_from_config(sc: &SourceConfig) -> Result<Source, ConfigError> {
    let mut problems = Vec::new();
    let label = format!("source {:?}", sc.name);
    match resolve_source(sc, &label, &mut problems) {
        Some((source, _)) if problems.is_empty() => Ok(source),
        _ => Err(ConfigError {
            origin: label,
            problems,
        }),
    }
}

/// Resolve one source's profile, secrets and overrides, pushing every problem found.
pub(crate) fn resolve_source(
    sc: &SourceConfig,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<(Source, Vec<Secret>)> {
    let min = sc.min_secret_bytes.unwrap_or(secret::MIN_SECRET_BYTES);
    if min < secret::ABSOLUTE_MIN_SECRET_BYTES {
        problems.push(format!(
            "{label}: min_secret_bytes = {min} is below the floor of {}",
            secret::ABSOLUTE_MIN_SECRET_BYTES
        ));
    } else if min < secret::MIN_SECRET_BYTES {
        tracing::warn!(
            source = label,
            min,
            "secrets as short as {min} bytes are accepted; ask the sender for a longer one"
        );
    }
    let secrets = match secret::resolve_all(&sc.secrets, min) {
        Ok(secrets) => {
            check_expiry(&secrets, label, problems);
            Some(secrets)
        }
        Err(errors) => {
            problems.extend(errors.into_iter().map(|e| format!("{label}: {e}")));
            None
        }
    };
    let source = build_source(sc, secrets.as_deref(), label, problems)?;
    Some((source, secrets?))
}

/// Build a source from its table and its secrets (`None`: they could not be loaded, and that
/// problem is already reported), pushing every other problem found.
pub(crate) fn build_source(
    sc: &SourceConfig,
    secrets: Option<&[Secret]>,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Source> {
    let profile = Profile::from_name(&sc.profile);
    if profile.is_none() {
        problems.push(if sc.profile.is_empty() {
            format!(
                "{label}: `profile` is required (one of: {})",
                Profile::names().join(", ")
            )
        } else {
            format!(
                "{label}: unknown profile {:?} (known: {})",
                sc.profile,
                Profile::names().join(", ")
            )
        });
    }
    let profile = profile?;
    let scheme = scheme_for(profile, sc, secrets.unwrap_or(&[]), label, problems);
    let shape = shape_for(profile, sc, label, problems);
    let spec = spec_for(profile, sc, label, problems);
    let handshake = match sc.handshake.as_deref() {
        None => Some(profile.handshake()),
        Some("none") => Some(None),
        Some(name) => match Handshake::from_name(name) {
            Some(h) => Some(Some(h)),
            None => {
                let known: Vec<&str> = Handshake::ALL.iter().map(|h| h.name()).collect();
                problems.push(format!(
                    "{label}: handshake {name:?} is not known ({}, none)",
                    known.join(", ")
                ));
                None
            }
        },
    };
    let ack = match sc.ack_status {
        None => Some(profile.ack_status()),
        Some(code) => match crate::ack::AckStatus::from_code(code) {
            Some(ack) => Some(Some(ack)),
            None => {
                problems.push(format!("{label}: ack_status = {code}: use 200, 202 or 204"));
                None
            }
        },
    };
    if let (Some(scheme), Some(shape)) = (&scheme, &shape) {
        for name in &shape.keep_headers {
            if crate::source::is_credential_header(name, scheme) {
                problems.push(format!(
                    "{label}: keep_headers: {name} carries credentials and is never kept"
                ));
            }
        }
    }
    secrets?;
    let mut source = Source::new(sc.name.as_str(), scheme?, shape?)
        .unknown_events(sc.unknown_events.unwrap_or_default())
        .validation(sc.validate)
        .handshake(handshake?)
        .ack_status(ack?);
    if let Some(spec) = spec? {
        source = source.with_spec(spec);
    }
    Some(source)
}

/// A source whose every secret has expired would refuse everything: refuse to start instead.
/// Secrets already expired among valid ones are only worth a warning (rotation leaves them).
fn check_expiry(secrets: &[Secret], label: &str, problems: &mut Vec<String>) {
    let now = SystemTime::now();
    let expired: Vec<&Secret> = secrets.iter().filter(|s| !s.valid_at(now)).collect();
    if expired.is_empty() {
        return;
    }
    if expired.len() == secrets.len() {
        problems.push(format!(
            "{label}: every secret is past its not_after; the source would refuse every request"
        ));
    } else {
        for secret in expired {
            tracing::warn!(
                source = label,
                secret = secret.origin(),
                "secret is past its not_after and is no longer accepted; remove it"
            );
        }
    }
}

/// The authentication scheme: the profile's, with `[source.auth]` applied.
fn scheme_for(
    profile: Profile,
    sc: &SourceConfig,
    secrets: &[Secret],
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Scheme> {
    let report = |problems: &mut Vec<String>, found: Vec<String>| {
        problems.extend(found.into_iter().map(|p| format!("{label}: auth: {p}")));
    };
    let Some(auth) = &sc.auth else {
        return profile
            .try_scheme(secrets)
            .map_err(|found| report(problems, found))
            .ok();
    };
    let base = profile.format_for(secrets);
    let signature = match auth.scheme.as_deref() {
        None => base.is_some(),
        Some("signature" | "hmac") => true,
        Some("token") => false,
        Some(other) => {
            problems.push(format!(
                "{label}: auth.scheme {other:?} is not signature (or hmac) or token"
            ));
            return None;
        }
    };
    if !signature {
        return token_scheme(auth, secrets, label, problems);
    }
    let mut format = base.unwrap_or_else(|| SignatureFormat::hmac(Place::header("x-signature")));
    let before = problems.len();
    apply(&mut format, profile, auth, label, problems);
    if problems.len() > before {
        return None;
    }
    SignatureScheme::new(format, secrets)
        .map(Scheme::Signature)
        .map_err(|found| report(problems, found))
        .ok()
}

/// Apply `[source.auth]`'s keys to a signature format.
fn apply(
    format: &mut SignatureFormat,
    profile: Profile,
    auth: &AuthConfig,
    label: &str,
    problems: &mut Vec<String>,
) {
    let places = |items: Vec<&str>, what: &str, problems: &mut Vec<String>| -> Vec<Place> {
        items
            .into_iter()
            .filter_map(|text| {
                Place::parse(text)
                    .map_err(|e| problems.push(format!("{label}: auth.{what}: {e}")))
                    .ok()
            })
            .collect()
    };
    match (&auth.header, &auth.query) {
        (Some(_), Some(_)) => {
            problems.push(format!("{label}: set auth.header or auth.query, not both"));
        }
        (Some(headers), None) => {
            format.signature = headers
                .items()
                .into_iter()
                .filter_map(|h| header_name(h, "auth.header", label, problems))
                .map(Place::Header)
                .collect();
        }
        (None, Some(param)) => format.signature = vec![Place::Query(param.clone())],
        (None, None) => {}
    }
    if let Some(algorithm) = auth.algorithm {
        // Standard Webhooks' asymmetric signatures are tagged v1a.
        if profile == Profile::StandardWebhooks
            && algorithm == Algorithm::Ed25519
            && auth.prefix.is_none()
        {
            format.prefix = "v1a,".into();
        }
        format.algorithm = algorithm;
    }
    if let Some(prefix) = &auth.prefix {
        format.prefix = prefix.clone();
    }
    if let Some(separator) = &auth.separator {
        format.separator = Some(separator.clone());
    }
    if let Some(encoding) = auth.encoding {
        format.encoding = encoding;
    }
    if let Some(content) = &auth.content {
        match Template::parse(content) {
            Ok(t) => format.content = t,
            Err(e) => problems.push(format!("{label}: auth.content: {e}")),
        }
    }
    if let Some(timestamp) = &auth.timestamp {
        format.timestamp = places(timestamp.items(), "timestamp", problems);
    }
    if let Some(time_format) = auth.timestamp_format {
        format.timestamp_format = time_format;
    }
    if let Some(id) = &auth.id {
        format.id = places(id.items(), "id", problems);
    }
    if let Some(tolerance) = auth.tolerance {
        if !format.is_timestamped() {
            problems.push(format!(
                "{label}: auth.tolerance applies only when requests carry a signed timestamp \
                 (auth.timestamp)"
            ));
        }
        format.tolerance = tolerance;
    }
    if let Some(key) = auth.key {
        format.key_encoding = key;
    }
    if let Some(url) = &auth.public_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            problems.push(format!(
                "{label}: auth.public_url {url:?} must start with https:// or http://"
            ));
        }
        format.public_url = Some(url.clone());
    }
}

/// A token scheme from `[source.auth]`.
fn token_scheme(
    auth: &AuthConfig,
    secrets: &[Secret],
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Scheme> {
    let signature_only = [
        ("encoding", auth.encoding.is_some()),
        ("algorithm", auth.algorithm.is_some()),
        ("separator", auth.separator.is_some()),
        ("content", auth.content.is_some()),
        ("timestamp", auth.timestamp.is_some()),
        ("timestamp_format", auth.timestamp_format.is_some()),
        ("id", auth.id.is_some()),
        ("tolerance", auth.tolerance.is_some()),
        ("key", auth.key.is_some()),
        ("public_url", auth.public_url.is_some()),
    ];
    for (key, set) in signature_only {
        if set {
            problems.push(format!(
                "{label}: auth.{key} only applies to the signature scheme"
            ));
        }
    }
    let header = match auth.header.as_ref().map(|h| h.items()) {
        None => None,
        Some(items) if items.len() == 1 => Some(items[0]),
        Some(_) => {
            problems.push(format!("{label}: a token is read from one auth.header"));
            return None;
        }
    };
    let location = match (&auth.query, header) {
        (Some(_), Some(_)) => {
            problems.push(format!("{label}: set auth.header or auth.query, not both"));
            return None;
        }
        (Some(param), None) => TokenLocation::Query {
            param: param.clone(),
        },
        (None, header) => TokenLocation::Header {
            name: match header {
                Some(h) => header_name(h, "auth.header", label, problems)?,
                None => http::header::AUTHORIZATION,
            },
            prefix: auth.prefix.clone().unwrap_or_else(|| {
                if header.is_none() {
                    "Bearer ".into()
                } else {
                    String::new()
                }
            }),
        },
    };
    Some(Scheme::Token(TokenScheme::new(location, secrets)))
}

/// The spec a source validates against: its own file, the profile's built-in one, or none.
fn spec_for(
    profile: Profile,
    sc: &SourceConfig,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Option<Arc<Spec>>> {
    if sc.validate == Some(crate::validate::ValidationMode::Off) {
        if sc.spec.is_some() {
            problems.push(format!("{label}: `spec` is set but `validate = \"off\"`"));
            return None;
        }
        return Some(None);
    }
    let loaded = match &sc.spec {
        Some(path) => Some(Spec::load(path).map(Arc::new)),
        None => profile.spec(),
    };
    match loaded {
        Some(Ok(spec)) => Some(Some(spec)),
        Some(Err(error)) => {
            problems.push(format!("{label}: spec: {error}"));
            None
        }
        None => {
            if sc.unknown_events == Some(crate::spec::UnknownEvents::Reject) {
                problems.push(format!(
                    "{label}: unknown_events = \"reject\" needs a spec (set `spec`)"
                ));
                return None;
            }
            Some(None)
        }
    }
}

fn header_name(
    text: &str,
    what: &str,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<HeaderName> {
    HeaderName::try_from(text)
        .map_err(|_| {
            problems.push(format!(
                "{label}: {what} {text:?} is not a valid header name"
            ))
        })
        .ok()
}

fn shape_for(
    profile: Profile,
    sc: &SourceConfig,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<EventShape> {
    let mut shape = profile.shape();
    let mut ok = true;
    if let Some(kind) = &sc.event_type {
        let place_ok = |p: &String| {
            p.starts_with('/')
                || p.strip_prefix("key:").is_some_and(|k| k.starts_with('/'))
                || p.strip_prefix("header:")
                    .is_some_and(|h| HeaderName::try_from(h.trim()).is_ok())
        };
        if kind.is_empty() || !kind.iter().all(place_ok) {
            problems.push(format!(
                "{label}: event_type must list JSON pointers starting with / or header:NAME \
                 (e.g. [\"/event\"], [\"header:X-GitHub-Event\", \"/action\"])"
            ));
            ok = false;
        }
        shape.kind = kind.clone();
    }
    if let Some(places) = &sc.event_id {
        let mut parsed = Vec::new();
        for place in places {
            match place.place() {
                Ok(p) => parsed.push(p),
                Err(e) => {
                    problems.push(format!("{label}: event_id: {e}"));
                    ok = false;
                }
            }
        }
        shape.id = parsed;
    }
    if let Some(headers) = &sc.keep_headers {
        let mut names = Vec::new();
        for h in headers {
            match header_name(h, "keep_headers entry", label, problems) {
                Some(n) => names.push(n),
                None => ok = false,
            }
        }
        shape.keep_headers = names;
    }
    if let Some(field) = &sc.form_field {
        shape.form_field = (!field.is_empty()).then(|| field.clone());
    }
    ok.then_some(shape)
}
