//! [`AnswerUnsignedCheck`]: the endpoint checks that come unsigned (Microsoft Graph, Okta,
//! Dropbox), answered before the body is read.
//!
//! An unsigned check proves nothing about who sent it, so answering it must give nothing away
//! and do nothing: the stage never reads the body, never calls the inner stages (nothing is
//! verified, parsed, stored or routed), and echoes only the challenge, bounded to
//! [`MAX_CHALLENGE_BYTES`] of printable ASCII without markup characters. Text answers carry
//! `X-Content-Type-Options: nosniff` (what Dropbox asks for, against reflected XSS). A request
//! that is not the source's own check goes on to full verification, untouched and without an
//! allocation.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk, Ready, ready};
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::Full;
use tower::{Layer, Service};

use super::{Handshake, Wrap, handshake_response, wrap};
use crate::auth::Scheme;
use crate::body::ResponseBody;
use crate::rejection::Rejection;

/// The longest challenge echoed back. Okta's, Dropbox's and Microsoft Graph's are well under it
/// (Graph's, the longest, is a sentence of about 150 characters).
pub const MAX_CHALLENGE_BYTES: usize = 512;

const OKTA_CHALLENGE: HeaderName = HeaderName::from_static("x-okta-verification-challenge");

/// Answers a source's unsigned endpoint check; passes every other request on. See the
/// [module docs](crate::handshake).
#[derive(Debug, Clone)]
pub struct AnswerUnsignedCheck<S> {
    inner: S,
    handshake: Option<Handshake>,
    // Okta's check carries the hook's token: checked like an event's.
    scheme: Option<Arc<Scheme>>,
}

impl<S> AnswerUnsignedCheck<S> {
    /// Wrap `inner`, answering `handshake` if it is an unsigned one (otherwise a pass-through).
    /// Okta's check is refused (401) unless `scheme` accepts the request's token.
    pub fn new(inner: S, handshake: Option<Handshake>, scheme: Option<Arc<Scheme>>) -> Self {
        Self {
            inner,
            handshake: handshake.filter(|h| h.is_unsigned()),
            scheme,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwrap the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for AnswerUnsignedCheck<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, S::Error>>, MapOk<S::Future, Wrap<ResBody>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(handshake) = self.handshake {
            if let Some(answer) = check(handshake, self.scheme.as_deref(), &req) {
                let response = match answer {
                    Ok(response) => response,
                    Err(rejection) => {
                        tracing::debug!(
                            check = handshake.name(),
                            code = rejection.code(),
                            "endpoint check refused"
                        );
                        rejection.into_response()
                    }
                };
                return Either::Left(ready(Ok(response.map(ResponseBody::from))));
            }
        }
        Either::Right(self.inner.call(req).map_ok(wrap as Wrap<ResBody>))
    }
}

/// The answer to `req` if it is `handshake`'s check, else `None` (verify it as an event).
fn check<B>(
    handshake: Handshake,
    scheme: Option<&Scheme>,
    req: &Request<B>,
) -> Option<Result<Response<Full<Bytes>>, Rejection>> {
    match handshake {
        Handshake::MicrosoftGraphValidation if req.method() == Method::POST => {
            // A notification never carries the parameter; its presence makes this the check.
            let token = query_value(req.uri(), "validationToken")?;
            Some(token.and_then(|t| text_answer(&t)))
        }
        Handshake::DropboxChallenge if req.method() == Method::GET => Some(
            query_value(req.uri(), "challenge")
                .unwrap_or(Err(Rejection::MissingChallenge))
                .and_then(|c| text_answer(&c)),
        ),
        Handshake::OktaVerification if req.method() == Method::GET => Some(okta(scheme, req)),
        _ => None,
    }
}

/// Okta's check: the hook's token first (fail closed without a scheme), then the challenge.
fn okta<B>(scheme: Option<&Scheme>, req: &Request<B>) -> Result<Response<Full<Bytes>>, Rejection> {
    let scheme = scheme.ok_or(Rejection::NoSecret)?;
    let (mut head, ()) = Request::new(()).into_parts();
    head.method = req.method().clone();
    head.uri = req.uri().clone();
    head.headers = req.headers().clone();
    scheme.verify(&head, b"", SystemTime::now())?;
    let mut values = req.headers().get_all(OKTA_CHALLENGE).iter();
    let value = values.next().ok_or(Rejection::MissingChallenge)?;
    if values.next().is_some() {
        return Err(Rejection::InvalidChallenge);
    }
    let challenge = bounded(value.to_str().map_err(|_| Rejection::InvalidChallenge)?)?;
    let body = serde_json::to_vec(&serde_json::json!({ "verification": challenge }))
        .map_err(|_| Rejection::InvalidChallenge)?;
    let mut response = handshake_response(Full::new(Bytes::from(body)), "application/json");
    nosniff(&mut response);
    Ok(response)
}

/// The value of the query parameter `name`: `None` if absent, an error if repeated.
fn query_value(uri: &Uri, name: &str) -> Option<Result<String, Rejection>> {
    let query = uri.query()?;
    let mut found = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v);
    let first = found.next()?;
    if found.next().is_some() {
        return Some(Err(Rejection::InvalidChallenge));
    }
    Some(Ok(first.into_owned()))
}

/// A `200 text/plain` answer echoing `challenge`, once it is [`bounded`].
fn text_answer(challenge: &str) -> Result<Response<Full<Bytes>>, Rejection> {
    let challenge = bounded(challenge)?;
    let mut response = handshake_response(
        Full::new(Bytes::copy_from_slice(challenge.as_bytes())),
        "text/plain; charset=utf-8",
    );
    nosniff(&mut response);
    Ok(response)
}

fn nosniff<B>(response: &mut Response<B>) {
    response.headers_mut().insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// `challenge` if it is 1 to [`MAX_CHALLENGE_BYTES`] bytes of printable ASCII (spaces
/// included: Graph's token is a sentence) without `<`, `>`, `&`, `"`, `'` or `\`; echoing
/// anything else would only serve someone else's purpose.
pub(crate) fn bounded(challenge: &str) -> Result<&str, Rejection> {
    let allowed = |b: &u8| (0x20..=0x7e).contains(b) && !b"<>&\"'\\".contains(b);
    if challenge.is_empty() {
        return Err(Rejection::MissingChallenge);
    }
    if challenge.len() > MAX_CHALLENGE_BYTES || !challenge.as_bytes().iter().all(allowed) {
        return Err(Rejection::InvalidChallenge);
    }
    Ok(challenge)
}

/// Applies [`AnswerUnsignedCheck`]; see the [module docs](crate::handshake).
#[derive(Debug, Clone, Default)]
pub struct AnswerUnsignedCheckLayer {
    handshake: Option<Handshake>,
    scheme: Option<Arc<Scheme>>,
}

impl AnswerUnsignedCheckLayer {
    /// Answer `handshake` if it is an unsigned check (otherwise a pass-through); Okta's needs
    /// the source's `scheme`.
    pub fn new(handshake: Option<Handshake>, scheme: Option<Arc<Scheme>>) -> Self {
        Self {
            handshake: handshake.filter(|h| h.is_unsigned()),
            scheme,
        }
    }
}

impl<S> Layer<S> for AnswerUnsignedCheckLayer {
    type Service = AnswerUnsignedCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnswerUnsignedCheck::new(inner, self.handshake, self.scheme.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_printable_challenges_are_echoed() {
        assert_eq!(
            bounded("Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"),
            Ok("Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg")
        );
        let graph = "Validation: Testing client application reachability for subscription Request-Id: 9a5e4f2d-0a6e-4d0a-9d8b-6a0f3c1b2e4d";
        assert_eq!(bounded(graph), Ok(graph));
        assert_eq!(bounded(""), Err(Rejection::MissingChallenge));
        for bad in ["<script>", "a\"b", "tab\there", "caf\u{e9}", "back\\slash"] {
            assert_eq!(bounded(bad), Err(Rejection::InvalidChallenge), "{bad:?}");
        }
        let long = "a".repeat(MAX_CHALLENGE_BYTES + 1);
        assert_eq!(bounded(&long), Err(Rejection::InvalidChallenge));
        assert!(bounded(&long[1..]).is_ok());
    }
}
