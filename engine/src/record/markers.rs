//! Marker records: deletion markers and state markers (see the `record` module doc),
//! which journal deletes and receive states in the log instead of syncing index files.

use super::{encode_flagged, MessageId, RecordRef, FLAG_DELETES, FLAG_STATES};
use super::{MAX_MARKER_SEQS, MAX_MARKER_STATES, STATE_ENTRY_LEN};
use crate::aligned::Sink;

/// One message's receive state, as a state marker journals it (the mutable part of its
/// index slot that a restart must keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateEntry {
    pub seq: u64,
    /// The visibility deadline if the message was in flight; 0 = visible (ready).
    pub visible_at_ms: u64,
    pub first_receive_ms: u64,
    /// The generation of its last receive (see `index::MAX_GENERATION`).
    pub generation: u64,
    pub receive_count: u32,
}

/// Appends a state marker for `entries` (at most [`MAX_MARKER_STATES`]) with sequence
/// number `seq`, and returns its length.
pub fn encode_states<S: Sink + ?Sized>(out: &mut S, seq: u64, entries: &[StateEntry]) -> usize {
    debug_assert!(!entries.is_empty() && entries.len() <= MAX_MARKER_STATES);
    let mut body = Vec::with_capacity(entries.len() * STATE_ENTRY_LEN);
    for e in entries {
        body.extend_from_slice(&e.seq.to_le_bytes());
        body.extend_from_slice(&e.visible_at_ms.to_le_bytes());
        body.extend_from_slice(&e.first_receive_ms.to_le_bytes());
        body.extend_from_slice(&e.generation.to_le_bytes());
        body.extend_from_slice(&e.receive_count.to_le_bytes());
    }
    encode_flagged(
        out,
        &marker_ref(seq, &body),
        None,
        FLAG_DELETES | FLAG_STATES,
    )
}

/// The entries a state marker's body lists (a trailing partial entry, which a
/// CRC-checked marker never has, is ignored).
pub fn marker_states(body: &[u8]) -> impl Iterator<Item = StateEntry> + '_ {
    body.chunks_exact(STATE_ENTRY_LEN).map(|c| {
        let u64_at = |o: usize| u64::from_le_bytes(c[o..o + 8].try_into().unwrap_or([0; 8]));
        StateEntry {
            seq: u64_at(0),
            visible_at_ms: u64_at(8),
            first_receive_ms: u64_at(16),
            generation: u64_at(24),
            receive_count: u32::from_le_bytes(c[32..36].try_into().unwrap_or([0; 4])),
        }
    })
}

/// A marker record: no times, ids, counts or attributes, only `body`.
fn marker_ref(seq: u64, body: &[u8]) -> RecordRef<'_> {
    RecordRef {
        seq,
        sent_at_ms: 0,
        visible_at_ms: 0,
        message_id: MessageId::default(),
        receive_count: 0,
        first_receive_ms: 0,
        group_id: None,
        dedup_id: None,
        origin: None,
        attributes: &[],
        system_attributes: &[],
        body,
    }
}

/// Appends a deletion marker for `seqs` (at most [`MAX_MARKER_SEQS`]) with sequence
/// number `seq`, and returns its length.
pub fn encode_deletes<S: Sink + ?Sized>(out: &mut S, seq: u64, seqs: &[u64]) -> usize {
    debug_assert!(!seqs.is_empty() && seqs.len() <= MAX_MARKER_SEQS);
    let mut body = Vec::with_capacity(seqs.len() * 8);
    for s in seqs {
        body.extend_from_slice(&s.to_le_bytes());
    }
    encode_flagged(out, &marker_ref(seq, &body), None, FLAG_DELETES)
}

/// The sequence numbers a deletion marker's body lists (a trailing partial entry, which
/// a CRC-checked marker never has, is ignored).
pub fn marker_seqs(body: &[u8]) -> impl Iterator<Item = u64> + '_ {
    body.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_marker_round_trip() {
        let entries = [
            StateEntry {
                seq: 7,
                visible_at_ms: 1_800_000_030_000,
                first_receive_ms: 1_800_000_000_000,
                generation: (1 << 32) + 5,
                receive_count: 3,
            },
            StateEntry {
                seq: 9,
                visible_at_ms: 0,
                first_receive_ms: 0,
                generation: 0,
                receive_count: 0,
            },
        ];
        let mut buf = Vec::new();
        let len = encode_states(&mut buf, 42, &entries);
        let rec = crate::record::decode(&buf[..len]).unwrap();
        assert_eq!(rec.seq, 42);
        assert_eq!(
            buf[9] & (FLAG_DELETES | FLAG_STATES),
            FLAG_DELETES | FLAG_STATES
        );
        let back: Vec<StateEntry> = marker_states(&rec.body).collect();
        assert_eq!(back, entries);
    }
}
