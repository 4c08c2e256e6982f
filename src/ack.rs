//! Acknowledge: answer success with the one status a sender counts as success.
//!
//! hookgate answers a new event `202 accepted` and a duplicate `200 duplicate`, which most
//! senders take as success (any 2xx). Some count only one status: Dropbox retries anything but
//! 200, Okta expects 200, Zoom 200 or 204. For such a source, [`Acknowledge`] gives every
//! success answer, new event and duplicate alike, the source's [`AckStatus`]: a duplicate
//! answered with another status would look like a failure to that sender, which would retry it
//! until it gave up on the endpoint. A `204` answer has no body. Errors are left as they are.
//!
//! Without a status set the stage passes answers through untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::body::ResponseBody;
use crate::observe::AnswerCode;

/// The success status a sender counts (`ack_status` in a `[[source]]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckStatus {
    /// 200 OK, with the usual JSON body.
    Ok,
    /// 202 Accepted, with the usual JSON body.
    Accepted,
    /// 204 No Content, without a body.
    NoContent,
}

impl AckStatus {
    /// The status for a code: 200, 202 or 204.
    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            200 => Some(Self::Ok),
            202 => Some(Self::Accepted),
            204 => Some(Self::NoContent),
            _ => None,
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Ok => StatusCode::OK,
            Self::Accepted => StatusCode::ACCEPTED,
            Self::NoContent => StatusCode::NO_CONTENT,
        }
    }
}

/// Gives success answers the source's status; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Acknowledge<S> {
    inner: S,
    ack: Option<AckStatus>,
}

impl<S> Acknowledge<S> {
    /// Wrap `inner`, answering successes with `ack` (none: untouched).
    pub fn new(inner: S, ack: Option<AckStatus>) -> Self {
        Self { inner, ack }
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

impl<S, B, ResBody> Service<Request<B>> for Acknowledge<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = AcknowledgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        AcknowledgeFuture {
            inner: self.inner.call(req),
            ack: self.ack,
        }
    }
}

pin_project! {
    /// Response future of [`Acknowledge`].
    pub struct AcknowledgeFuture<F> {
        #[pin]
        inner: F,
        ack: Option<AckStatus>,
    }
}

impl<F, ResBody, E> Future for AcknowledgeFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(acknowledge(response, *this.ack)))
    }
}

/// `response`, with `ack` as its status if it is a success (`accepted` or `duplicate`).
fn acknowledge<B>(response: Response<B>, ack: Option<AckStatus>) -> Response<ResponseBody<B>> {
    let success = |r: &Response<B>| {
        r.extensions()
            .get::<AnswerCode>()
            .is_some_and(|o| matches!(o.code(), "accepted" | "duplicate"))
    };
    match ack {
        Some(ack) if success(&response) => {
            let (mut parts, body) = response.into_parts();
            parts.status = ack.status();
            if ack == AckStatus::NoContent {
                parts.headers.remove(header::CONTENT_TYPE);
                parts.headers.remove(header::CONTENT_LENGTH);
                return Response::from_parts(parts, ResponseBody::from(Full::new(Bytes::new())));
            }
            Response::from_parts(parts, ResponseBody::inner(body))
        }
        _ => response.map(ResponseBody::inner),
    }
}

/// Applies [`Acknowledge`]; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct AcknowledgeLayer {
    ack: Option<AckStatus>,
}

impl AcknowledgeLayer {
    /// Answer successes with `ack` (none: a pass-through).
    pub fn new(ack: Option<AckStatus>) -> Self {
        Self { ack }
    }
}

impl<S> Layer<S> for AcknowledgeLayer {
    type Service = Acknowledge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Acknowledge::new(inner, self.ack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventId, EventKind};
    use http_body_util::BodyExt;

    async fn answered(
        ack: Option<AckStatus>,
        response: Response<Full<Bytes>>,
    ) -> (StatusCode, Bytes) {
        let response = acknowledge(response, ack);
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    #[tokio::test]
    async fn successes_take_the_status_and_errors_keep_theirs() {
        let id = EventId::new("e1");
        let kind = EventKind::new("t");
        let accepted = || crate::answer::accepted::<Full<Bytes>>(&id, &kind);
        let duplicate = || crate::answer::duplicate::<Full<Bytes>>(&id);
        let refused = || crate::Rejection::InvalidSignature.into_response::<Full<Bytes>>();

        let (status, body) = answered(None, accepted()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert!(!body.is_empty());
        assert_eq!(answered(None, duplicate()).await.0, StatusCode::OK);

        for ack in [AckStatus::Ok, AckStatus::Accepted] {
            assert_eq!(answered(Some(ack), accepted()).await.0, ack.status());
            assert_eq!(answered(Some(ack), duplicate()).await.0, ack.status());
        }
        let (status, body) = answered(Some(AckStatus::NoContent), duplicate()).await;
        assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
        let (status, _) = answered(Some(AckStatus::NoContent), refused()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(AckStatus::from_code(201), None);
    }
}
