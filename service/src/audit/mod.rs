//! Proving the log, to the service's own auditors and to outsiders.
//!
//! Two layers. Each case's events are hash-chained as they are written ([`chains`] checks the
//! chains; `store::chain` writes them): an edit that does not recompute the hashes breaks a
//! link. Over the whole log, in its global order, a Merkle tree as RFC 9162 defines it
//! ([`merkle`]) is grown by a background task ([`tree`]); its leaves are the events exactly as
//! the audit export writes them, in RFC 8785 canonical JSON ([`leaf`]). Every few seconds while
//! the log grows, and on demand, the tree's size and root are signed with the log's Ed25519 key
//! as a C2SP checkpoint ([`note`]). Auditors fetch checkpoints and proofs over HTTP; a witness
//! (`lianxin audit witness`) keeps the last checkpoint it saw elsewhere and checks that every
//! new one extends it, so that a rewritten, deleted, inserted or re-timed event inside a
//! checkpoint shows up as a fork to the witness or as a named problem in [`verify`].
//!
//! What none of this proves: events written after the latest checkpoint (until the next one
//! is cut and seen by a witness), that `recorded_at` is the true time (it is what the database
//! wrote, fixed from the first checkpoint that includes it), or anything to someone who kept
//! no checkpoint: a forger with the signing key and the database can sign a rewritten log for
//! anyone who never saw the old one.

pub mod chains;
pub mod leaf;
pub mod merkle;
pub mod note;
pub mod tree;
pub mod verify;
pub mod witness;

pub use chains::{verify_case, BrokenLink};
pub use leaf::HistoryEntry;
pub use note::{Checkpoint, LogSigner, LogVerifier};
pub use tree::{TransparencyLog, TreeError};
pub use verify::{verify, verify_with_key, VerifyReport};
