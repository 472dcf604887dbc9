//! The fuzz targets' seed corpora (`fuzz/corpus/<target>/`, one input per file), read by
//! the tests that run each target over its seeds on stable Rust.

use std::path::PathBuf;

/// The corpus directory of fuzz target `target` (it need not exist yet: the seed
/// writers create it).
pub fn fuzz_corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Every file of `target`'s corpus (the seeds and anything fuzzing found and was
/// committed), in file-name order. Panics if the corpus is missing or empty: a run over
/// no input would pass while testing nothing.
pub fn fuzz_corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = fuzz_corpus_dir(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus of {target} ({}): {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "seed corpus of {target} is empty");
    v.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_corpus_is_read() {
        assert!(!fuzz_corpus("record_decode").is_empty());
    }

    #[test]
    #[should_panic(expected = "seed corpus of no-such-target")]
    fn a_missing_corpus_fails_rather_than_testing_nothing() {
        fuzz_corpus("no-such-target");
    }
}
