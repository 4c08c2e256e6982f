//! The event inbox: server-rendered HTML pages over the same operations as the JSON API.
//!
//! `GET /ui` lists recent events (source, type, id, verification, delivery status, attempts) and
//! the requests refused lately; `GET /ui/events/{seq}` shows one event with its kept headers
//! (anything credential-like masked), its pretty-printed body and every delivery attempt, with
//! buttons to replay it or retry its dead letters. The pages are [minijinja] templates compiled
//! into the binary: no front-end build step, no JavaScript.
//!
//! A browser cannot send a bearer header, so `/ui/login` takes the admin token once and sets an
//! `HttpOnly`, `SameSite=Strict` session cookie holding a digest of the token (never the token
//! itself). Form posts made with the cookie must come from the admin listener's own origin.

use axum::Form;
use axum::extract::{Path, Query as QueryParams, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::Value;

use super::{Auth, Ops, Query};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "hookgate_session";

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("templates/base.html")),
        ("inbox.html", include_str!("templates/inbox.html")),
        ("event.html", include_str!("templates/event.html")),
        ("login.html", include_str!("templates/login.html")),
        (
            "destinations.html",
            include_str!("templates/destinations.html"),
        ),
    ] {
        if let Err(error) = env.add_template(name, text) {
            tracing::error!(%error, name, "an inbox template does not compile");
        }
    }
    env
}

fn render(name: &str, ctx: minijinja::Value) -> Response {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    let env = ENV.get_or_init(templates);
    match env.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, name, "cannot render an inbox page");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the page").into_response()
        }
    }
}

/// `GET /ui`: recent events and recent refusals.
pub(crate) async fn inbox(State(ops): State<Ops>, query: QueryParams<Query>) -> Response {
    let QueryParams(query) = query;
    let page = if query.status.as_deref() == Some("dead") {
        "dead"
    } else {
        "inbox"
    };
    let (events, older, error) = match ops.list(&query) {
        Ok(answer) => {
            let mut events = answer["events"].as_array().cloned().unwrap_or_default();
            for event in &mut events {
                let attempts: u64 = event["deliveries"]
                    .as_array()
                    .map(|ds| ds.iter().filter_map(|d| d["attempts"].as_u64()).sum())
                    .unwrap_or(0);
                event["attempts"] = attempts.into();
            }
            let older = answer["next"].as_u64().map(|next| {
                let mut pairs = form_urlencoded::Serializer::new(String::new());
                pairs.append_pair("before", &next.to_string());
                for (key, value) in [
                    ("source", &query.source),
                    ("type", &query.kind),
                    ("status", &query.status),
                ] {
                    if let Some(value) = value {
                        pairs.append_pair(key, value);
                    }
                }
                format!("/ui?{}", pairs.finish())
            });
            (events, older, None)
        }
        Err(error) => (Vec::new(), None, Some(error.to_string())),
    };
    let refused: Vec<Value> = crate::observe::recent_refusals()
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "at": humantime::format_rfc3339_seconds(r.at).to_string(),
                "source": &*r.source,
                "outcome": r.outcome,
                "status": r.status,
            })
        })
        .collect();
    render(
        "inbox.html",
        context! {
            page,
            signed_in => true,
            held => held(&ops),
            events => minijinja::Value::from(minijinja::value::Serde(&events)),
            older,
            error,
            refused => minijinja::Value::from(minijinja::value::Serde(&refused)),
            refused_cap => crate::observe::REFUSALS_KEPT,
            query => minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
                "source": query.source,
                "type": query.kind,
                "status": query.status,
            }))),
        },
    )
}

/// What is held back, for the inbox's banner: paused destinations, open circuits, blocked
/// keys (`None` when nothing is, or the deliverer does not run here).
fn held(ops: &Ops) -> Option<minijinja::Value> {
    let view = ops.destinations_view().ok()?;
    let all = view["destinations"].as_array()?;
    let names = |pick: &dyn Fn(&Value) -> bool| -> Vec<String> {
        all.iter()
            .filter(|d| pick(d))
            .filter_map(|d| d["destination"].as_str().map(str::to_owned))
            .collect()
    };
    let paused = names(&|d| d["paused"] == true);
    let open = names(&|d| d["circuit"] == "open");
    let blocked: usize = all
        .iter()
        .map(|d| d["blocked_keys"].as_array().map_or(0, Vec::len))
        .sum();
    if paused.is_empty() && open.is_empty() && blocked == 0 {
        return None;
    }
    Some(minijinja::Value::from(minijinja::value::Serde(
        serde_json::json!({ "paused": paused, "open": open, "blocked": blocked }),
    )))
}

/// `GET /ui/destinations`: every destination's state, with pause and resume buttons, and the
/// blocked ordering keys with a release button.
pub(crate) async fn destinations(
    State(ops): State<Ops>,
    QueryParams(notice): QueryParams<Notice>,
) -> Response {
    let (mut destinations, error) = match ops.destinations_view() {
        Ok(view) => (
            view["destinations"].as_array().cloned().unwrap_or_default(),
            None,
        ),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    // Names are often URLs: the buttons' paths carry them percent-encoded.
    for d in &mut destinations {
        let name = d["destination"].as_str().unwrap_or_default();
        let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        d["path"] = encoded.into();
    }
    let blocked = ops.blocked()["blocked"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let notice = notice.notice.and_then(|n| match n.as_str() {
        "paused" => Some("Paused: nothing is sent until it is resumed."),
        "resumed" => Some("Resumed."),
        "released" => Some("Released: the key's later events go on."),
        _ => None,
    });
    render(
        "destinations.html",
        context! {
            page => "destinations",
            signed_in => true,
            destinations => minijinja::Value::from(minijinja::value::Serde(&destinations)),
            blocked => minijinja::Value::from(minijinja::value::Serde(&blocked)),
            notice,
            error,
        },
    )
}

/// `POST /ui/destinations/{name}/pause` and `/resume`.
pub(crate) async fn set_paused(
    State(ops): State<Ops>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let paused = match action.as_str() {
        "pause" => true,
        "resume" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let change = crate::delivery::controls::Overrides {
        paused: Some(paused),
        ..Default::default()
    };
    match ops.change_destination(&name, change).await {
        Ok(_) => Redirect::to(&format!(
            "/ui/destinations?notice={}",
            if paused { "paused" } else { "resumed" }
        ))
        .into_response(),
        Err(error) => (error.status(), error.to_string()).into_response(),
    }
}

/// The release form: a blocked key.
#[derive(Debug, Deserialize)]
pub(crate) struct ReleaseForm {
    destination: String,
    key: String,
}

/// `POST /ui/blocked/release`.
pub(crate) async fn release(State(ops): State<Ops>, Form(form): Form<ReleaseForm>) -> Response {
    match ops.release_key(&form.destination, &form.key).await {
        Ok(_) => Redirect::to("/ui/destinations?notice=released").into_response(),
        Err(error) => (error.status(), error.to_string()).into_response(),
    }
}

/// `?notice=` after a replay or retry.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Notice {
    notice: Option<String>,
}

/// Header names whose values are never shown, even though stored events hold no credentials.
fn masked(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "auth",
        "cookie",
        "token",
        "secret",
        "signature",
        "key",
        "password",
        "hmac",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `GET /ui/events/{seq}`: one event, its deliveries, and the replay buttons.
pub(crate) async fn event(
    State(ops): State<Ops>,
    Path(seq): Path<u64>,
    QueryParams(notice): QueryParams<Notice>,
) -> Response {
    let shown = match ops.show(seq) {
        Ok(shown) => shown,
        Err(error) => {
            return (error.status(), format!("{error}")).into_response();
        }
    };
    let headers: Vec<(String, String)> = shown["headers"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(name, value)| {
                    let value = if masked(name) {
                        "•••••• (masked)".to_owned()
                    } else {
                        value.as_str().unwrap_or_default().to_owned()
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let body = match (shown.get("body"), shown.get("body_base64")) {
        (Some(json), _) => serde_json::to_string_pretty(json).unwrap_or_default(),
        (None, Some(b64)) => format!("(not JSON; base64)\n{}", b64.as_str().unwrap_or_default()),
        (None, None) => String::new(),
    };
    let notice = notice.notice.and_then(|n| match n.as_str() {
        "replayed" => Some("Replay scheduled: the delivery attempt appears below once made."),
        "retried" => Some("Retry scheduled for the dead letters."),
        "nothing" => Some("Nothing to schedule."),
        _ => None,
    });
    render(
        "event.html",
        context! {
            page => "event",
            signed_in => true,
            e => minijinja::Value::from(minijinja::value::Serde(&shown)),
            headers,
            body,
            notice,
            destinations => ops.destinations().to_vec(),
        },
    )
}

/// The replay form: an optional destination.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReplayForm {
    #[serde(default)]
    to: String,
}

fn after(seq: u64, scheduled: &Result<Value, super::OpError>) -> Response {
    match scheduled {
        Ok(answer) if answer["scheduled"].as_u64().unwrap_or(0) > 0 => {
            Redirect::to(&format!("/ui/events/{seq}?notice=replayed")).into_response()
        }
        Ok(_) => Redirect::to(&format!("/ui/events/{seq}?notice=nothing")).into_response(),
        Err(error) => (error.status(), error.to_string()).into_response(),
    }
}

/// `POST /ui/events/{seq}/replay`.
pub(crate) async fn replay(
    State(ops): State<Ops>,
    Path(seq): Path<u64>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let to = Some(form.to.as_str()).filter(|t| !t.is_empty());
    after(seq, &ops.replay(seq, to).await)
}

/// `POST /ui/events/{seq}/retry`.
pub(crate) async fn retry(State(ops): State<Ops>, Path(seq): Path<u64>) -> Response {
    match ops.retry(seq).await {
        Ok(answer) if answer["scheduled"].as_u64().unwrap_or(0) > 0 => {
            Redirect::to(&format!("/ui/events/{seq}?notice=retried")).into_response()
        }
        other => after(seq, &other),
    }
}

/// `GET /ui/login`.
pub(crate) async fn login_page() -> Response {
    render(
        "login.html",
        context! { page => "login", signed_in => false },
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

/// `POST /ui/login`: a right token sets the session cookie.
pub(crate) async fn login(State(auth): State<Auth>, Form(form): Form<LoginForm>) -> Response {
    if !auth.token_matches(form.token.trim()) {
        let mut page = render(
            "login.html",
            context! { page => "login", signed_in => false, error => "That is not the admin token." },
        );
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        auth.session()
    );
    let mut response = Redirect::to("/ui").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /ui/logout`: the cookie is dropped.
pub(crate) async fn logout() -> Response {
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("hookgate_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

/// The session cookie's value in `headers`, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// A form post made with the cookie must come from this listener's own origin: `Origin` (when
/// the browser sends it) names the same host as `Host`.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = templates();
        for name in [
            "base.html",
            "inbox.html",
            "event.html",
            "login.html",
            "destinations.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn credential_like_headers_are_masked() {
        for name in [
            "Authorization",
            "x-webhook-signature",
            "X-Api-Key",
            "cookie",
        ] {
            assert!(masked(name), "{name}");
        }
        assert!(!masked("content-type"));
        assert!(!masked("x-request-id"));
    }

    #[test]
    fn cross_origin_posts_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9091"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:9091"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
    }
}
