//! Where a signature's parts are in a request, and how they are written to one: the header or
//! query value split into its pieces, each piece's label and encoding, timestamps read and written
//! in a format's style, and the query parameter a signer appends.

use super::*;

/// The values a template's parts stand for.
pub(super) struct Pieces<'a> {
    pub(super) head: &'a Parts,
    pub(super) body: &'a [u8],
    pub(super) id: &'a [u8],
    pub(super) timestamp: &'a [u8],
    pub(super) public_url: &'a str,
    /// A signature sent in the query is not part of the URL it signs.
    pub(super) signature_param: Option<&'a str>,
}

impl Pieces<'_> {
    pub(super) fn feed(&self, parts: &[Part], sink: &mut dyn FnMut(&[u8])) {
        for part in parts {
            match part {
                Part::Literal(bytes) => sink(bytes),
                Part::Body => sink(self.body),
                Part::Id => sink(self.id),
                Part::Timestamp => sink(self.timestamp),
                Part::Method => sink(self.head.method.as_str().as_bytes()),
                Part::Url => {
                    sink(self.public_url.trim_end_matches('/').as_bytes());
                    sink(self.head.uri.path().as_bytes());
                    let mut first = true;
                    let query = self.head.uri.query().unwrap_or_default();
                    for pair in query.split('&').filter(|p| !p.is_empty()) {
                        let key = pair.split('=').next().unwrap_or_default();
                        let is_signature = self.signature_param.is_some_and(|param| {
                            form_urlencoded::parse(key.as_bytes())
                                .next()
                                .is_some_and(|(k, _)| k == param)
                        });
                        if is_signature {
                            continue;
                        }
                        sink(if first { b"?" } else { b"&" });
                        sink(pair.as_bytes());
                        first = false;
                    }
                }
            }
        }
    }
}

/// Read the first present of `places`. `signature` is the signature's value, for
/// `signature:PREFIX` places, split on `separator`.
pub(super) fn find<'a>(
    places: &[Place],
    head: &'a Parts,
    signature: Option<&[u8]>,
    separator: Option<&str>,
) -> Found<'a> {
    for place in places {
        match place {
            Place::Header(name) => {
                let mut values = head.headers.get_all(name).iter();
                if let Some(value) = values.next() {
                    if values.next().is_some() {
                        return Found::Repeated;
                    }
                    return Found::One(Cow::Borrowed(value.as_bytes()));
                }
            }
            Place::Query(param) => {
                let Some(query) = head.uri.query() else {
                    continue;
                };
                let mut values = form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k == param)
                    .map(|(_, v)| v);
                if let Some(value) = values.next() {
                    if values.next().is_some() {
                        return Found::Repeated;
                    }
                    return Found::One(Cow::Owned(value.into_owned().into_bytes()));
                }
            }
            Place::SignatureItem(prefix) => {
                let (Some(value), Some(separator)) = (signature, separator) else {
                    continue;
                };
                let mut values = split(value, separator.as_bytes())
                    .filter_map(|item| item.trim_ascii().strip_prefix(prefix.as_bytes()));
                if let Some(value) = values.next() {
                    if values.next().is_some() {
                        return Found::Repeated;
                    }
                    return Found::One(Cow::Owned(value.to_vec()));
                }
            }
        }
    }
    Found::Absent
}

/// Split `value` on every occurrence of `separator` (not empty).
pub(super) fn split<'a>(
    value: &'a [u8],
    separator: &'a [u8],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memmem::find(current, separator) {
            Some(at) if !separator.is_empty() => {
                rest = Some(&current[at + separator.len()..]);
                Some(&current[..at])
            }
            _ => {
                rest = None;
                Some(current)
            }
        }
    })
}

pub(crate) fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix.is_empty() {
        return Some(text);
    }
    if text.len() < prefix.len() {
        return None;
    }
    let (head, rest) = text.split_at(prefix.len());
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

/// How far `at` is from `now`, and whether it is ahead of it.
pub fn skew(at: SystemTime, now: SystemTime) -> (Duration, bool) {
    match now.duration_since(at) {
        Ok(behind) => (behind, false),
        Err(ahead) => (ahead.duration(), true),
    }
}

/// Parse a timestamp; `None` if it is not in `format` or out of any sensible range.
pub(super) fn parse_time(text: &[u8], format: TimeFormat) -> Option<SystemTime> {
    let digits = |max: usize| -> Option<u64> {
        if text.is_empty() || text.len() > max || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(text).ok()?.parse().ok()
    };
    match format {
        TimeFormat::Unix => UNIX_EPOCH.checked_add(Duration::from_secs(digits(12)?)),
        TimeFormat::UnixMs => UNIX_EPOCH.checked_add(Duration::from_millis(digits(15)?)),
        TimeFormat::Rfc3339 => humantime::parse_rfc3339_weak(std::str::from_utf8(text).ok()?).ok(),
    }
}

pub(super) fn format_time(now: SystemTime, format: TimeFormat) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    match format {
        TimeFormat::Unix => since.as_secs().to_string(),
        TimeFormat::UnixMs => since.as_millis().to_string(),
        TimeFormat::Rfc3339 => humantime::format_rfc3339_seconds(now).to_string(),
    }
}

/// A new message id, `msg_` and 24 hex digits.
pub(super) fn fresh_id() -> String {
    let mut bytes = [0u8; 12];
    // Without the OS's randomness, the clock still makes ids distinct enough for a test send.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    format!("msg_{}", hex::encode(bytes))
}

/// Add `param=value` to the query of a request being signed.
pub(crate) fn append_query(head: &mut Parts, param: &str, value: &str) -> Result<(), SignError> {
    let pair: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(param, value)
        .finish();
    let path = head.uri.path();
    let joined = match head.uri.query() {
        Some(q) => format!("{path}?{q}&{pair}"),
        None => format!("{path}?{pair}"),
    };
    let mut parts = std::mem::take(&mut head.uri).into_parts();
    parts.path_and_query = Some(
        joined
            .parse()
            .map_err(|e: http::uri::InvalidUri| SignError::Request(e.to_string()))?,
    );
    head.uri = Uri::from_parts(parts).map_err(|e| SignError::Request(e.to_string()))?;
    Ok(())
}

/// Put `value` at `place` in a request being signed.
pub(super) fn set(head: &mut Parts, place: &Place, value: &str) -> Result<(), SignError> {
    match place {
        Place::Header(name) => {
            let value =
                HeaderValue::from_str(value).map_err(|e| SignError::Request(e.to_string()))?;
            head.headers.insert(name.clone(), value);
            Ok(())
        }
        Place::Query(param) => append_query(head, param, value),
        Place::SignatureItem(_) => Err(SignError::Request(
            "a signature item cannot hold this value".into(),
        )),
    }
}
