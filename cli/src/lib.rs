//! The `lianxin` command line (`commands`) and the tooling behind some of its commands: the
//! benchmark workloads (`bench`), the bulk generator (`bulk`) and the scale run (`scale`) of
//! `lianxin bench`, and the demo year (`demo`). Everything here goes through the service's
//! public interface: the engine, the store and the read side's queries.

pub mod bench;
pub mod bulk;
pub mod commands;
pub mod demo;
pub mod scale;
