//! spool-server: the spoold daemon (not yet built; see issue 3).
