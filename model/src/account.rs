//! AWS accounts and regions as queue URLs, ARNs and policies name them: the defaults a
//! self-hosted daemon uses when none is configured, and what a configured region or
//! account id may be.
//!
//! Promises: every function is total.

/// The region queue ARNs name unless configured otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Longest region name accepted (Spool's bound; AWS's region names are far shorter).
pub const REGION_MAX_CHARS: usize = 32;
/// The account id queue URLs and ARNs name unless configured otherwise.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Digits of an AWS account id.
pub const ACCOUNT_ID_DIGITS: usize = 12;

/// A region: 1 to [`REGION_MAX_CHARS`] of `a-z`, `0-9` and `-`.
pub fn is_valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= REGION_MAX_CHARS
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An account id: exactly [`ACCOUNT_ID_DIGITS`] decimal digits.
pub fn is_valid_account_id(account: &str) -> bool {
    account.len() == ACCOUNT_ID_DIGITS && account.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_account_ids() {
        assert!(is_valid_region(DEFAULT_REGION));
        assert!(is_valid_region("eu-west-1"));
        assert!(!is_valid_region(""));
        assert!(!is_valid_region("EU-WEST-1"));
        assert!(is_valid_region(&"a".repeat(REGION_MAX_CHARS)));
        assert!(!is_valid_region(&"a".repeat(REGION_MAX_CHARS + 1)));
        assert!(is_valid_account_id(DEFAULT_ACCOUNT_ID));
        assert!(!is_valid_account_id("12"));
        assert!(!is_valid_account_id("12345678901a"));
        assert!(!is_valid_account_id("1234567890123"));
    }
}
