//! Rust types for the events of every built-in sender, one module per sender.
//!
//! Each module mirrors the sender's spec in `spec/`; a test deserializes every example of every
//! spec into these types, so they cannot drift apart silently.

pub mod homa;
pub mod ninjaone;
pub mod ninjarmm;
pub mod opscenter;
pub mod webnet;
