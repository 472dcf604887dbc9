//! spool-client: Rust client for the binary protocol (not yet built; see issue 3).
