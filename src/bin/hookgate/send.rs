//! `hookgate send`: sign a sender's example (or a body) and post it to a gateway, one event or
//! every example of a spec.

use super::*;

pub(super) struct Target {
    pub(super) profile: Option<String>,
    pub(super) config: Option<PathBuf>,
    pub(super) source: Option<String>,
    pub(super) url: Option<String>,
    pub(super) secret: Option<String>,
    pub(super) data_dir: PathBuf,
}

/// Work out which source to sign as, and where to send.
pub(super) fn resolve_target(t: &Target) -> anyhow::Result<(Source, Profile, String)> {
    if let (Some(path), Some(name)) = (&t.config, &t.source) {
        let config = Config::load(path)?;
        let origin = path.display().to_string();
        let app = app::build::<http_body_util::Full<Bytes>>(&config, &origin, None)?;
        let Some(sc) = config.sources.iter().find(|s| &s.name == name) else {
            bail!("{origin} has no source named {name:?}");
        };
        let profile = Profile::from_name(&sc.profile)
            .with_context(|| format!("unknown profile {:?}", sc.profile))?;
        let source = hookgate::config::source_from_config(sc)?;
        let url = t
            .url
            .clone()
            .unwrap_or_else(|| format!("http://{}{}", app.listen, sc.mount_path()));
        return Ok((source, profile, url));
    }
    let Some(name) = &t.profile else {
        bail!("name a profile (e.g. `hookgate send ninjaone`) or use --config with --source");
    };
    let profile = profile_arg(name)?;
    let secret: Secret = match &t.secret {
        Some(reference) => SecretRef::parse(reference, 1)?.resolve()?,
        None => {
            let path = app::default_secret_path(&t.data_dir);
            SecretRef::File(path.clone()).resolve().with_context(|| {
                format!(
                    "no --secret given and the embedded default's secret ({}) is not readable; \
                     start `hookgate serve` once or pass --secret env:NAME",
                    path.display()
                )
            })?
        }
    };
    let url = t
        .url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:8080/hooks/{}", profile.name()));
    Ok((
        Source::from_profile(profile.name(), profile, &[secret]),
        profile,
        url,
    ))
}

pub(super) async fn send_event(
    target: Target,
    event: Option<String>,
    body: Option<PathBuf>,
    now: bool,
) -> anyhow::Result<ExitCode> {
    let (source, profile, url) = resolve_target(&target)?;
    let example = body.is_none() && !now;
    let body = match body {
        Some(path) => Bytes::from(
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => {
            let sample = if now {
                profile.sample(event.as_deref(), std::time::SystemTime::now())
            } else {
                profile.example(event.as_deref())
            };
            let sample = sample.with_context(|| {
                let known = profile.sample_events();
                if known.is_empty() {
                    format!(
                        "profile {} ships no spec, so no sample events: pass --body FILE",
                        profile.name()
                    )
                } else {
                    format!(
                        "profile {} has no sample {}; known: {}",
                        profile.name(),
                        event.as_deref().unwrap_or("(default)"),
                        known.join(", ")
                    )
                }
            })?;
            Bytes::from(serde_json::to_vec(&sample)?)
        }
    };
    let request = hookgate::send::signed_request(&source, &url, body)?;
    eprintln!(
        "-> POST {url} ({} bytes, signed as {})",
        request.body().size_hint_len(),
        profile.name()
    );
    let reply = client::post(request).await?;
    outln!(
        "<- {} {}",
        reply.status.as_u16(),
        String::from_utf8_lossy(&reply.body)
    );
    let duplicate = reply.status == http::StatusCode::OK
        && serde_json::from_slice::<serde_json::Value>(&reply.body)
            .is_ok_and(|answer| answer["status"] == "duplicate");
    if example && duplicate {
        eprintln!(
            "   (this example was sent before, so it is the same event; --now sends a new one)"
        );
    }
    Ok(if reply.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `send --all`: every example of the source's spec, with a progress counter on a terminal.
pub(super) async fn send_all(target: &Target) -> anyhow::Result<ExitCode> {
    let (source, _, url) = resolve_target(target)?;
    let examples = source.examples(std::time::SystemTime::now());
    if examples.is_empty() {
        bail!("source {} has no spec with examples to send", source.name());
    }
    let total = examples.len();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut failed = 0;
    for (i, (kind, name, body)) in examples.into_iter().enumerate() {
        if terminal {
            eprint!("\r[{}/{total}] {kind:<40}", i + 1);
        }
        let request =
            hookgate::send::signed_request(&source, &url, Bytes::from(serde_json::to_vec(&body)?))?;
        let reply = client::post(request).await?;
        if !reply.status.is_success() {
            failed += 1;
        }
        let mark = if reply.status.is_success() {
            paint(reply.status.as_str(), 32)
        } else {
            paint(reply.status.as_str(), 31)
        };
        if terminal {
            eprint!("\r{:60}\r", "");
        }
        outln!("{mark} {kind} ({name})");
    }
    outln!("{} of {total} accepted; POSTed to {url}", total - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

trait SizeHintLen {
    fn size_hint_len(&self) -> u64;
}

impl SizeHintLen for http_body_util::Full<Bytes> {
    fn size_hint_len(&self) -> u64 {
        http_body::Body::size_hint(self).exact().unwrap_or(0)
    }
}
