//! Recording the mismatches of events accepted in spite of them: a counter per place, and a log
//! line the first time a place mismatches.
//!
//! The counter is `hookgate_schema_mismatches_total{source, type, path}`. Its `path` comes from
//! the sender's body, so it is kept low-cardinality: array indices become `*`
//! (`/items/3/id` -> `/items/*/id`), and past [`MAX_SERIES`] distinct (source, type, path) the
//! path is counted as `(other)`. Log lines name the place only: a problem's message quotes the
//! body's values, and bodies never reach logs.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::event::Event;
use crate::rejection::Problem;

/// Distinct (source, type, path) series counted at most; past it the path is `(other)`.
pub const MAX_SERIES: usize = 1024;

/// The `path` label of series past [`MAX_SERIES`].
pub const OTHER_PATH: &str = "(other)";

/// The (source, type, path) seen so far, for the log line per new place and the series cap.
fn seen() -> &'static Mutex<HashSet<(String, String, String)>> {
    static SEEN: OnceLock<Mutex<HashSet<(String, String, String)>>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
}

/// `instance_path` with every array index replaced by `*`.
pub fn normalize_path(instance_path: &str) -> String {
    instance_path
        .split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Count each of `event`'s mismatches, and log the places not seen before.
pub(crate) fn record(event: &Event, problems: &[Problem]) {
    let source = event.source();
    let kind = event.kind().as_str();
    let mut paths: Vec<String> = problems
        .iter()
        .map(|p| normalize_path(&p.instance_path))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let key = (source.to_owned(), kind.to_owned(), path);
        let label = {
            let mut seen = match seen().lock() {
                Ok(seen) => seen,
                Err(poisoned) => poisoned.into_inner(),
            };
            if seen.contains(&key) {
                key.2
            } else if seen.len() < MAX_SERIES {
                tracing::warn!(
                    source,
                    event_type = kind,
                    path = key.2.as_str(),
                    "event does not match its spec here; accepted and recorded (validation reports)"
                );
                let path = key.2.clone();
                seen.insert(key);
                path
            } else {
                OTHER_PATH.to_owned()
            }
        };
        metrics::counter!(
            crate::observe::SCHEMA_MISMATCHES,
            "source" => source.to_owned(),
            "type" => kind.to_owned(),
            "path" => label,
        )
        .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_indices_become_stars() {
        assert_eq!(normalize_path("/items/3/id"), "/items/*/id");
        assert_eq!(normalize_path("/a/10/b/0"), "/a/*/b/*");
        assert_eq!(normalize_path(""), "");
        assert_eq!(normalize_path("/data/payment_id"), "/data/payment_id");
        assert_eq!(normalize_path("/v2x/1a"), "/v2x/1a");
    }

    #[test]
    fn the_places_remembered_are_bounded() {
        let event = Event::new(
            "cap-test",
            crate::EventId::new("1"),
            crate::EventKind::new("t"),
            bytes::Bytes::new(),
            serde_json::Value::Null,
        );
        // A sender naming a new key in every event cannot grow the set (nor the series) forever.
        let problems: Vec<Problem> = (0..MAX_SERIES + 10)
            .map(|i| Problem {
                instance_path: format!("/map/k{i}"),
                message: String::new(),
            })
            .collect();
        record(&event, &problems);
        let seen = seen().lock().unwrap();
        assert_eq!(seen.len(), MAX_SERIES);
    }
}
