//! Rust types for the events of every built-in sender, one module per sender.
//!
//! Each module is generated from the sender's spec in `spec/` by `hookgate gen --module` (the
//! command is in the module's header). A test regenerates them and fails when they drift from
//! the specs; another deserializes every example of every spec into them.

pub mod homa;
pub mod ninjaone;
pub mod ninjarmm;
pub mod opscenter;
pub mod webnet;
