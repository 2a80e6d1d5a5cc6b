//! The write side: a command becomes events. The engine loads a case, lets the domain decide
//! and appends what it decided, hash-chained, through the store.

pub mod calendar;
pub mod context;
pub mod engine;
pub mod error;
pub mod idempotency;
pub mod metadata;
pub mod recent;
