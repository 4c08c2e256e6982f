//! The response future shared by stages that either answer early or call the inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::rejection::Rejection;

/// Take the inner service that `poll_ready` readied, leaving a clone in its place.
///
/// tower's rule: the service that was polled ready is the one that must be called. Services that
/// call their inner service from an async block move it there; the clone stays for the next
/// `poll_ready`.
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

pin_project! {
    /// Response future of the stages that decide before calling the inner service
    /// ([`BodyLimit`](crate::limit::BodyLimit), [`Validate`](crate::validate::Validate)).
    #[project = ResponseFutureProj]
    #[allow(missing_docs)]
    pub enum ResponseFuture<F> {
        /// Waiting on the inner service.
        Inner {
            #[pin]
            future: F,
        },
        /// Refused before the inner service was called.
        Rejected {
            rejection: Option<Rejection>,
        },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseFutureProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            ResponseFutureProj::Rejected { rejection } => {
                let rejection = rejection.take().unwrap_or(Rejection::Misconfigured);
                Poll::Ready(Ok(rejection.into_response()))
            }
        }
    }
}
