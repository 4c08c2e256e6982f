//! Body types shared by the stages.
//!
//! * [`ResponseBody`] is what every hookgate layer answers with: either the inner service's body,
//!   or the small JSON body of a [`Rejection`]. Keeping the inner body type (rather than boxing)
//!   costs nothing per request and keeps the inner service's error type.
//! * [`buffer`] reads a request body to its end under a byte cap, which is how the raw bytes that
//!   the signature covers are obtained exactly once.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use pin_project_lite::pin_project;

use crate::rejection::Rejection;

/// The cap applied when no [`BodyLimit`](crate::limit::BodyLimit) stage set one: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Set on a request by [`BodyLimit`](crate::limit::BodyLimit): the cap later stages buffer under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxBodyBytes(pub usize);

pin_project! {
    /// A response body that is either the inner service's or a rejection's JSON.
    #[project = ResponseBodyProj]
    #[allow(missing_docs)]
    #[derive(Debug)]
    pub enum ResponseBody<B> {
        /// The inner service answered.
        Inner {
            #[pin]
            body: B,
        },
        /// A stage answered early.
        Full {
            #[pin]
            body: Full<Bytes>,
        },
    }
}

impl<B> ResponseBody<B> {
    /// Wrap the inner service's body.
    pub fn inner(body: B) -> Self {
        Self::Inner { body }
    }
}

impl<B> From<Full<Bytes>> for ResponseBody<B> {
    fn from(body: Full<Bytes>) -> Self {
        Self::Full { body }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project() {
            ResponseBodyProj::Inner { body } => body.poll_frame(cx),
            ResponseBodyProj::Full { body } => match body.poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Inner { body } => body.is_end_stream(),
            Self::Full { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Inner { body } => body.size_hint(),
            Self::Full { body } => body.size_hint(),
        }
    }
}

/// Read `body` to its end, refusing it with 413 as soon as it passes `max` bytes.
///
/// The cap is enforced while streaming, so an oversized body is refused without being read whole.
pub async fn buffer<B>(body: B, max: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(Rejection::PayloadTooLarge),
        Err(err) => {
            // A limit error from a BodyLimit stage in front of us arrives wrapped in the
            // inner body's error type; look through the chain for it.
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
            while let Some(e) = source {
                if e.is::<LengthLimitError>() {
                    return Err(Rejection::PayloadTooLarge);
                }
                source = e.source();
            }
            tracing::debug!(error = %err, "request body could not be read");
            Err(Rejection::BodyRead)
        }
    }
}

/// Read a request body to its end under the cap a [`BodyLimit`](crate::limit::BodyLimit) stage
/// recorded in `extensions` ([`MaxBodyBytes`]), or [`DEFAULT_MAX_BODY_BYTES`] without one.
pub async fn buffer_request<B>(extensions: &http::Extensions, body: B) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let max = extensions
        .get::<MaxBodyBytes>()
        .map_or(DEFAULT_MAX_BODY_BYTES, |m| m.0);
    buffer(body, max).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buffer_returns_the_exact_bytes() {
        let bytes = buffer(Full::new(Bytes::from_static(b"{\"a\": 1}")), 64)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"{\"a\": 1}");
    }

    #[tokio::test]
    async fn buffer_past_the_cap_is_payload_too_large() {
        let err = buffer(Full::new(Bytes::from(vec![b'x'; 65])), 64)
            .await
            .unwrap_err();
        assert_eq!(err, Rejection::PayloadTooLarge);
    }

    #[tokio::test]
    async fn nested_limits_still_report_payload_too_large() {
        let inner = Limited::new(Full::new(Bytes::from(vec![b'x'; 65])), 10);
        let err = buffer(inner, 64).await.unwrap_err();
        assert_eq!(err, Rejection::PayloadTooLarge);
    }
}
