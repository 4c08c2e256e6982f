//! Typed events: handlers that receive Rust types instead of loose JSON.
//!
//! A [`TypedEvent`] is a Rust type for one or more event types of a sender. The [`Typed`]
//! extractor deserializes the verified event into it before the handler runs; if the body does not
//! fit the type, the event is refused with 422 and the path of the offending field. The sender
//! modules in [`crate::senders`] provide types for every event of every built-in sender, plus an
//! enum per sender whose `Unknown` variant keeps the raw JSON, so a new event type from the sender
//! never breaks deserialization.
//!
//! # Example
//!
//! ```
//! use hookgate::senders::ninjaone::{AlertTriggeredEvent, NinjaOneEvent};
//! use hookgate::{Router, Typed};
//!
//! let router = Router::new()
//!     // Registered for "ALERT_TRIGGERED", taken from the type.
//!     .typed(|alert: Typed<AlertTriggeredEvent>| async move {
//!         // Typed<T> dereferences to T: here the envelope, with eventType, timestamp and data.
//!         println!("alert {} on device {:?}", alert.data.uid, alert.data.device_id);
//!         Ok::<_, std::convert::Infallible>(())
//!     })
//!     // Every event, as the sender's enum.
//!     .typed(|event: Typed<NinjaOneEvent>| async move {
//!         if let NinjaOneEvent::Unknown(json) = &*event {
//!             println!("an event type this version does not know: {json}");
//!         }
//!         Ok::<_, std::convert::Infallible>(())
//!     });
//! assert_eq!(router.len(), 2);
//! ```

use std::ops::Deref;

use crate::event::Event;
use crate::handler::FromEvent;
use crate::rejection::{Problem, Rejection};

/// Why an event's body did not fit a type: the serde error and the path of the field.
pub type FromEventError = serde_path_to_error::Error<serde_json::Error>;

/// A Rust type for some event types of a sender.
pub trait TypedEvent: Sized + Send + Sync + 'static {
    /// The event types (exact names or globs) this type is registered for by
    /// [`Router::typed`](crate::Router::typed).
    const EVENT_TYPES: &'static [&'static str];

    /// Build the value from a verified event.
    fn from_event(event: &Event) -> Result<Self, serde_path_to_error::Error<serde_json::Error>>;
}

/// Deserialize an event's JSON body into `T`, reporting the path of the field that did not fit.
pub fn from_json<T: serde::de::DeserializeOwned>(
    event: &Event,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(event.json())
}

/// Handler argument: the event deserialized into `T`, with the [`Event`] itself beside it.
#[derive(Debug, Clone)]
pub struct Typed<T> {
    /// The typed body. `Typed<T>` also dereferences to it.
    pub value: T,
    /// The verified event it came from (id, source, raw bytes, headers).
    pub event: Event,
}

impl<T> Typed<T> {
    /// The typed body, by value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Typed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: TypedEvent> FromEvent for Typed<T> {
    fn from_event(event: Event) -> Result<Self, Rejection> {
        match T::from_event(&event) {
            Ok(value) => Ok(Self { value, event }),
            Err(error) => {
                let path = error.path().to_string();
                let instance_path = if path == "." {
                    String::new()
                } else {
                    format!("/{}", path.replace('.', "/"))
                };
                Err(Rejection::InvalidEvent(vec![Problem {
                    instance_path,
                    message: error.into_inner().to_string(),
                }]))
            }
        }
    }
}
