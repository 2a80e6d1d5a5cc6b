//! lianxin's service: event store wiring, the HTTP API, the `lianxin` command line and
//! telemetry, around the pure `domain` crate.

pub mod access;
pub mod app;
pub mod audit;
pub mod bench;
pub mod bulk;
pub mod chain;
pub mod cli;
pub mod config;
pub mod copy_text;
pub mod demo;
pub mod engine;
pub mod http;
pub mod outcome_cells;
pub mod projector;
pub mod public;
pub mod rebuild;
pub mod scale;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod view_rows;
pub mod views;
