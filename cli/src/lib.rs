//! The `lianxin` command line (`commands`) and the tooling behind some of its commands: the
//! benchmark workloads (`bench`), the bulk generator (`bulk`) and the scale run (`scale`) of
//! `lianxin bench`, the demo year (`demo`) and the member registry's import (`members`). Everything here goes through the service's
//! public interface: the engine, the store and the read side's queries.

pub mod bench;
pub mod bulk;
pub mod commands;
pub mod demo;
pub mod load;
pub mod members;
pub mod scale;
