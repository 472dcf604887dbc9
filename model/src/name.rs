//! Queue names: 1–80 characters of `[A-Za-z0-9_-]`; a FIFO queue's name carries the
//! `.fifo` suffix (inside the 80) and only a FIFO queue's name does.
//!
//! Promises: every function is total (any string gives an answer, never a panic), and a
//! name accepted here is ASCII, so its byte length is its character length.

use crate::limits::QUEUE_NAME_MAX_CHARS;

/// Suffix every FIFO queue name carries, and only FIFO queue names.
pub const FIFO_SUFFIX: &str = ".fifo";

/// What is wrong with a queue name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueNameProblem {
    /// No characters before the suffix (or none at all).
    Empty,
    /// More than [`QUEUE_NAME_MAX_CHARS`] characters (suffix included).
    TooLong,
    /// A character outside `[A-Za-z0-9_-]` (for a standard queue, `.fifo` is one).
    BadCharacter,
    /// A FIFO queue whose name does not end in `.fifo`.
    MissingFifoSuffix,
}

/// A queue name that breaks the rule of its queue type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} queue name: {problem:?}", if *.fifo { "FIFO" } else { "standard" })]
pub struct QueueNameError {
    /// Whether the rule broken is the FIFO one (SQS words the two differently).
    pub fifo: bool,
    /// What is wrong.
    pub problem: QueueNameProblem,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Checks `name` against the rule of a FIFO (`fifo`) or standard queue.
pub fn validate_queue_name(name: &str, fifo: bool) -> Result<(), QueueNameError> {
    let fail = |problem| Err(QueueNameError { fifo, problem });
    let base = if fifo {
        match name.strip_suffix(FIFO_SUFFIX) {
            Some(base) => base,
            None => return fail(QueueNameProblem::MissingFifoSuffix),
        }
    } else {
        // '.' is not a name byte, so a standard name can never end in ".fifo".
        name
    };
    if base.is_empty() {
        return fail(QueueNameProblem::Empty);
    }
    if !base.bytes().all(is_name_byte) {
        return fail(QueueNameProblem::BadCharacter);
    }
    // Only ASCII got this far: bytes are characters.
    if name.len() > QUEUE_NAME_MAX_CHARS {
        return fail(QueueNameProblem::TooLong);
    }
    Ok(())
}

/// Whether the name's own suffix says it is a FIFO queue's.
pub fn is_fifo_name(name: &str) -> bool {
    name.ends_with(FIFO_SUFFIX)
}

/// Whether `name` is a valid name for the queue type its suffix says (the check for a
/// name met without its queue's attributes: in a URL, an ARN or a wire request).
pub fn is_valid_queue_name(name: &str) -> bool {
    validate_queue_name(name, is_fifo_name(name)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(name: &str, fifo: bool) -> Option<QueueNameProblem> {
        validate_queue_name(name, fifo).err().map(|e| e.problem)
    }

    #[test]
    fn standard_names() {
        assert_eq!(problem("a", false), None);
        assert_eq!(problem("A-z_09", false), None);
        assert_eq!(problem(&"a".repeat(80), false), None);
        assert_eq!(
            problem(&"a".repeat(81), false),
            Some(QueueNameProblem::TooLong)
        );
        assert_eq!(problem("", false), Some(QueueNameProblem::Empty));
        for bad in ["a b", "a.b", "é", "q.fifo", "a/b"] {
            assert_eq!(
                problem(bad, false),
                Some(QueueNameProblem::BadCharacter),
                "{bad}"
            );
        }
    }

    #[test]
    fn fifo_names() {
        assert_eq!(problem("q.fifo", true), None);
        assert_eq!(
            problem("q", true),
            Some(QueueNameProblem::MissingFifoSuffix)
        );
        assert_eq!(problem(".fifo", true), Some(QueueNameProblem::Empty));
        assert_eq!(
            problem("q.fifo.fifo", true),
            Some(QueueNameProblem::BadCharacter)
        );
        assert_eq!(problem(&format!("{}.fifo", "a".repeat(75)), true), None);
        assert_eq!(
            problem(&format!("{}.fifo", "a".repeat(76)), true),
            Some(QueueNameProblem::TooLong)
        );
        assert!(validate_queue_name("x", true).unwrap_err().fifo);
        assert!(!validate_queue_name("", false).unwrap_err().fifo);
    }

    #[test]
    fn names_judged_by_their_suffix() {
        assert!(is_valid_queue_name("q"));
        assert!(is_valid_queue_name("q.fifo"));
        assert!(is_fifo_name("q.fifo") && !is_fifo_name("q"));
        for bad in ["", ".fifo", "a.b", "a b", "q.fifo.fifo", &"a".repeat(81)] {
            assert!(!is_valid_queue_name(bad), "{bad}");
        }
    }
}
