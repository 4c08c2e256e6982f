//! `hookgate verify`: check a captured request's signature offline and say which part differs.

use super::*;

/// Where a captured request is.
pub(super) enum Captured {
    /// One file: request line, headers, blank line, body.
    Request(PathBuf),
    /// Headers and body in two files.
    Parts(PathBuf, PathBuf),
}

/// `Name: value` lines into a header map; other lines (a request or status line) are skipped.
pub(super) fn parse_headers(text: &[u8]) -> anyhow::Result<http::HeaderMap> {
    let mut headers = http::HeaderMap::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let Ok(name) = http::HeaderName::from_bytes(&line[..colon]) else {
            continue; // a request line such as `POST http://host/path HTTP/1.1`
        };
        let value = http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii())
            .with_context(|| format!("the value of header {name} is not a valid header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

pub(super) fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Colour `text` when standard output is a terminal (and `NO_COLOR` is unset).
pub(super) fn paint(text: &str, colour: u8) -> String {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    if terminal {
        format!("\x1b[1;{colour}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub(super) fn verify_captured(
    target: &Target,
    captured: &Captured,
    tolerance: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let (source, _, _) = resolve_target(target)?;
    let (headers, body) = match captured {
        Captured::Request(path) => {
            let bytes = read(path)?;
            let split = [&b"\r\n\r\n"[..], b"\n\n"]
                .iter()
                .filter_map(|sep| {
                    bytes
                        .windows(sep.len())
                        .position(|w| w == *sep)
                        .map(|at| (at, sep.len()))
                })
                .min();
            let Some((at, len)) = split else {
                bail!(
                    "{}: no blank line between the headers and the body",
                    path.display()
                );
            };
            (parse_headers(&bytes[..at])?, bytes[at + len..].to_vec())
        }
        Captured::Parts(headers, body) => (parse_headers(&read(headers)?)?, read(body)?),
    };
    let verdict = hookgate::diagnose::diagnose(
        &source,
        &headers,
        &body,
        std::time::SystemTime::now(),
        tolerance,
    );
    let (mark, colour, code) = match &verdict {
        hookgate::diagnose::Diagnosis::Verified { .. } => ("ok", 32, 0),
        hookgate::diagnose::Diagnosis::Stale { .. } => ("stale", 33, 3),
        _ => ("FAILED", 31, 1),
    };
    outln!(
        "{} {} ({} bytes of body, {} header(s))",
        paint(mark, colour),
        source.name(),
        body.len(),
        headers.len()
    );
    outln!("{}", verdict.explain());
    Ok(ExitCode::from(code))
}
