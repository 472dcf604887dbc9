//! [`Pool`]: a thread-safe pool of [`Connection`]s to one server.
//!
//! Promises: connections are made lazily, on [`Pool::get`] when no idle one is left; a
//! [`PooledConnection`] goes back to the pool when dropped only if it is healthy (not
//! poisoned by an I/O, protocol or stream error, nothing in flight, so the next user starts
//! from a clean stream), and only while fewer than `max_idle` wait there. An idle
//! connection the server closed meanwhile is noticed and dropped on the next `get` instead
//! of being handed out. Cloning a pool is cheap and shares its connections.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::Result;

/// A pool of connections to one server (`Send + Sync`, `Clone` shares it).
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: ClientConfig,
    max_idle: usize,
    idle: Mutex<Vec<Connection>>,
}

impl Inner {
    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock cannot leave the Vec half-changed (push and pop
        // only), so a poisoned lock is safe to use.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Pool {
    /// A pool that keeps at most `max_idle` idle connections. Connects lazily.
    pub fn new(cfg: ClientConfig, max_idle: usize) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                cfg,
                max_idle,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// An idle connection (most recently returned first), or a new one.
    pub fn get(&self) -> Result<PooledConnection> {
        // Each turn removes one idle connection, so this ends.
        loop {
            let Some(conn) = self.inner.idle().pop() else {
                break;
            };
            // Probed outside the lock: it is a system call or two.
            if conn.is_reusable() {
                return Ok(self.wrap(conn));
            }
        }
        let conn = Connection::connect(&self.inner.cfg)?;
        Ok(self.wrap(conn))
    }

    /// Idle connections currently held.
    pub fn idle_count(&self) -> usize {
        self.inner.idle().len()
    }

    /// The configuration new connections are made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    fn wrap(&self, conn: Connection) -> PooledConnection {
        PooledConnection {
            conn: Some(conn),
            pool: Arc::clone(&self.inner),
        }
    }
}

/// A connection borrowed from a [`Pool`]; derefs to [`Connection`] and goes back to the
/// pool on drop if it is healthy.
#[derive(Debug)]
pub struct PooledConnection {
    /// Always Some until drop or `detach`.
    conn: Option<Connection>,
    pool: Arc<Inner>,
}

impl PooledConnection {
    /// Takes the connection out of the pool's care: it will not be returned.
    pub fn detach(mut self) -> Connection {
        self.conn.take().expect("connection present until drop")
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if conn.is_poisoned() || conn.in_flight() != 0 {
            return;
        }
        let mut idle = self.pool.idle();
        if idle.len() < self.pool.max_idle {
            idle.push(conn);
        }
    }
}
