//! spool-protocol: the binary wire protocol (not yet built; see issue 3).
