//! End-to-end tests: one binary, every test on SQLite and PostgreSQL.

mod access;
mod api_errors;
mod audit_log;
mod bench;
mod case_kinds;
mod dashboard;
mod demo;
mod departments;
mod edge;
mod exports;
mod failover;
mod figures;
mod identity;
mod member_registry;
mod members;
mod old_log;
mod read_models;
mod readme;
mod reports;
mod scale;
mod store_conformance;
mod suggestion_walk;
mod transparency;
mod units;
