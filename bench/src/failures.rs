//! `Failures`: every error of a run's load threads (or tasks), reported together.

use std::fmt;

/// The errors of the load threads (or tasks) that failed in one run, shown joined by
/// `"; "`, in the order the threads were joined.
#[derive(Debug)]
pub(crate) struct Failures<E>(pub Vec<E>);

impl<E: fmt::Display> fmt::Display for Failures<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Failures<E> {}
