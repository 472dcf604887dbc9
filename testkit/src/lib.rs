//! What Spool's tests share, so each thing is done one way in one place:
//!
//! * [`Spoold`]: a real `spoold` process for a test, started with the given flags and
//!   returned only once it prints `listening` (panicking with its stderr if it does not
//!   within a minute); killed when dropped.
//! * [`Tmpfs`]: a small tmpfs mounted for a disk-full test, unmounted when dropped.
//!   Mounting needs privilege: [`Tmpfs::mount`] returns `None` where it is refused, and the
//!   test must then say so on stderr (it cannot pass silently).
//! * [`fuzz_corpus`]: the seed inputs of a fuzz target (`fuzz/corpus/<target>/`), so the
//!   fuzz targets run over them on stable Rust under `cargo test`; it fails on an empty or
//!   missing corpus rather than testing nothing.
//!
//! A dev-dependency only (`publish = false`): it panics instead of returning errors, as a
//! test wants.

mod corpus;
mod spoold;
mod tmpfs;

pub use corpus::{fuzz_corpus, fuzz_corpus_dir};
pub use spoold::{Spoold, SpooldBuilder, STARTUP_TIMEOUT};
pub use tmpfs::Tmpfs;
