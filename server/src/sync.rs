//! The crate's one switch between std and loom synchronization types.
//!
//! Code that shares memory between shards imports its atomics, `Arc` and `UnsafeCell` from
//! here, never from `std` directly. Built normally these are std's types; built with
//! `RUSTFLAGS="--cfg loom"` they are loom's, so that loom can explore every interleaving
//! (and every weak-memory outcome it models) of that code. This is tokio's pattern.
//!
//! `cfg(loom)` rather than `cfg(all(test, loom))`: the loom tests are integration tests
//! (`tests/loom_*.rs`), which link the library built without `cfg(test)`.
//!
//! `UnsafeCell` follows loom's API (`with`/`with_mut` taking a closure over the raw pointer)
//! rather than std's `get`, because loom tracks each access to check that no two conflict;
//! the std shim below is a zero-cost wrapper with the same shape.

// `Ordering` is std's in both builds (loom re-exports it).
pub(crate) use std::sync::atomic::Ordering;

#[cfg(loom)]
pub(crate) use loom::{
    cell::UnsafeCell,
    sync::{
        atomic::{fence, AtomicBool, AtomicUsize},
        Arc,
    },
};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicUsize},
    Arc,
};

#[cfg(not(loom))]
pub(crate) use self::std_cell::UnsafeCell;

#[cfg(not(loom))]
mod std_cell {
    /// std's `UnsafeCell` with loom's closure-based accessors.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        #[inline]
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Shared access: `f` gets a pointer it may read through. The caller must ensure no
        /// `with_mut` access to the same cell runs concurrently (loom checks this).
        // Part of loom's API, kept for parity; the mailbox only needs `with_mut`.
        #[allow(dead_code)]
        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Exclusive access: `f` gets a pointer it may read and write through. The caller
        /// must ensure no other access to the same cell runs concurrently (loom checks this).
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
