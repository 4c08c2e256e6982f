//! The handler seam: what a handler takes, what it returns, and how it fails.
//!
//! A handler is any `async fn(T) -> Result<(), E>` where `T` implements [`FromEvent`] (an
//! [`Event`], or [`Typed<T>`](crate::Typed) for a Rust type) and `E` converts into
//! [`HandlerError`] (any `std::error::Error`, a [`Rejection`], or a stub's
//! [`HandlerError::NotImplemented`]).
//!
//! It lives apart from the [`Router`](crate::Router) that calls handlers so that the argument
//! types ([`crate::typed`]) and the dispatcher ([`crate::route`]) both build on it without
//! depending on each other.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::event::Event;
use crate::rejection::Rejection;

/// How long handlers may run before the event counts as not accepted, by default.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// Any error a handler fails with, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a handler did not accept an event.
pub enum HandlerError {
    /// The handler is a stub: answer 501 so the sender sees it is not implemented.
    NotImplemented,
    /// The handler failed: answer 503 so the sender retries.
    Failed(BoxError),
    /// Refuse the event with this answer (for example a 422 from typed extraction).
    Rejected(Rejection),
}

impl HandlerError {
    /// A failure from any error, including ones that are not `std::error::Error` (anyhow).
    pub fn failed(error: impl Into<BoxError>) -> Self {
        Self::Failed(error.into())
    }
}

impl<E> From<E> for HandlerError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Self::Failed(Box::new(error))
    }
}

impl From<Rejection> for HandlerError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotImplemented => f.write_str("NotImplemented"),
            Self::Failed(e) => f.debug_tuple("Failed").field(&e.to_string()).finish(),
            Self::Rejected(r) => f.debug_tuple("Rejected").field(r).finish(),
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotImplemented => f.write_str("handler not implemented"),
            Self::Failed(e) => write!(f, "handler failed: {e}"),
            Self::Rejected(r) => write!(f, "handler rejected the event: {r}"),
        }
    }
}

/// What a handler can take as its argument. Implemented for [`Event`].
pub trait FromEvent: Sized + Send + 'static {
    /// Build the argument from the event, or refuse the event.
    fn from_event(event: Event) -> Result<Self, Rejection>;
}

impl FromEvent for Event {
    fn from_event(event: Event) -> Result<Self, Rejection> {
        Ok(event)
    }
}

/// An async function that processes events. `T` is the argument type; see [`FromEvent`].
pub trait Handler<T>: Send + Sync + 'static {
    /// Process one event.
    fn call(&self, event: Event) -> BoxFuture<'static, Result<(), HandlerError>>;
}

impl<F, Fut, T, E> Handler<T> for F
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    T: FromEvent,
    E: Into<HandlerError>,
{
    fn call(&self, event: Event) -> BoxFuture<'static, Result<(), HandlerError>> {
        match T::from_event(event) {
            Ok(arg) => {
                let fut = self(arg);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
            Err(rejection) => Box::pin(async move { Err(HandlerError::Rejected(rejection)) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::event::{EventId, EventKind};

    fn event() -> Event {
        Event::new(
            "s",
            EventId::new("1"),
            EventKind::new("x"),
            Bytes::new(),
            serde_json::json!({}),
        )
    }

    #[tokio::test]
    async fn a_std_error_fails_the_event_and_a_rejection_refuses_it() {
        let failing = |_e: Event| async { Err::<(), _>(std::io::Error::other("down")) };
        assert!(matches!(
            Handler::<Event>::call(&failing, event()).await,
            Err(HandlerError::Failed(_))
        ));
        let refusing = |_e: Event| async { Err::<(), _>(Rejection::NotImplemented) };
        assert!(matches!(
            Handler::<Event>::call(&refusing, event()).await,
            Err(HandlerError::Rejected(Rejection::NotImplemented))
        ));
    }
}
