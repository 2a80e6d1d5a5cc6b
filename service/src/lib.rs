//! lianxin's service: event store wiring, the HTTP API and telemetry, around the pure `domain`
//! and `projections` crates. Each folder is one room: `write` (commands to events), `store`
//! (the events table), `read` (projections and the queries over them), `access` (who may do
//! what), `audit` (proving the log), `http` (the API). The `lianxin` command line and the
//! tooling live in the `cli` crate, over this crate's public interface.

pub mod access;
pub mod app;
pub mod audit;
pub mod config;
pub mod http;
pub mod read;
pub mod store;
pub mod telemetry;
pub mod write;
