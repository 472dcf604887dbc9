//! Queue URLs: `<scheme>://<host[:port]>/<account>/<name>`.
//!
//! A queue's URL is how SQS clients name it. Parsing accepts any host (clients reach
//! Spool under whatever name they configured), `http` or `https`, a bare path
//! `/<account>/<name>`, and LocalStack's `/queue/<region>/<account>/<name>`; the name must
//! be a valid queue name ([`crate::name`]). Parsers return `None` for anything else and
//! never panic.

use crate::name::is_valid_queue_name;

/// Longest account segment accepted in a queue URL (AWS's are 12 digits; the URL form is
/// looser so self-hosted setups may use names).
pub const URL_ACCOUNT_MAX_CHARS: usize = 64;

/// The path part of a URL (from the first `/` after the authority), or the input if it
/// is already a path. Query strings and fragments are dropped.
fn path_of(url: &str) -> Option<&str> {
    let rest = if let Some(r) = strip_prefix_ignore_case(url, "http://") {
        r
    } else if let Some(r) = strip_prefix_ignore_case(url, "https://") {
        r
    } else if url.starts_with('/') {
        return Some(cut_query(url));
    } else {
        return None;
    };
    let slash = rest.find('/')?;
    Some(cut_query(&rest[slash..]))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn cut_query(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// The account id and queue name of a queue URL or path, if it has that shape: the
/// path is `/<account>/<name>` or `/queue/<region>/<account>/<name>` (a trailing `/` is
/// allowed), the account is non-empty `[A-Za-z0-9_-]` and the name a valid queue name.
pub fn queue_account_and_name(url: &str) -> Option<(&str, &str)> {
    let path = path_of(url)?;
    let path = path.strip_prefix('/')?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segs = path.split('/');
    let (a, b, c, d, e) = (
        segs.next(),
        segs.next(),
        segs.next(),
        segs.next(),
        segs.next(),
    );
    let (account, name) = match (a, b, c, d, e) {
        (Some(acct), Some(name), None, _, _) => (acct, name),
        (Some("queue"), Some(region), Some(acct), Some(name), None) if !region.is_empty() => {
            (acct, name)
        }
        _ => return None,
    };
    let account_ok = !account.is_empty()
        && account.len() <= URL_ACCOUNT_MAX_CHARS
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if account_ok && is_valid_queue_name(name) {
        Some((account, name))
    } else {
        None
    }
}

/// The queue name of a queue URL (any host, http or https) or bare path.
pub fn queue_name_from_url(url: &str) -> Option<&str> {
    queue_account_and_name(url).map(|(_, n)| n)
}

/// What a `QueueUrl` parameter names: the account (`None`: the caller's own) and the
/// queue name. A queue URL or path as [`queue_account_and_name`] reads it, or, as SQS
/// also accepts, a bare valid queue name.
pub fn queue_of_parameter(url: &str) -> Option<(Option<&str>, &str)> {
    if is_valid_queue_name(url) {
        return Some((None, url));
    }
    queue_account_and_name(url).map(|(account, name)| (Some(account), name))
}

/// `<base>/<account>/<name>`, `base` being scheme and authority (a trailing `/` is
/// ignored), e.g. `queue_url("http://localhost:9324", "000000000000", "q")`.
pub fn queue_url(base: &str, account: &str, name: &str) -> String {
    let base = base.trim_end_matches('/');
    format!("{base}/{account}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            queue_name_from_url("http://localhost:9324/000000000000/q1"),
            Some("q1")
        );
        assert_eq!(
            queue_name_from_url("https://sqs.us-east-1.amazonaws.com/123/q.fifo"),
            Some("q.fifo")
        );
        assert_eq!(queue_name_from_url("HTTP://h/1/q/"), Some("q"));
        assert_eq!(queue_name_from_url("/000000000000/q"), Some("q"));
        assert_eq!(queue_name_from_url("/000000000000/q?Action=X"), Some("q"));
        assert_eq!(
            queue_account_and_name("http://h:4566/queue/us-east-1/000000000000/q"),
            Some(("000000000000", "q"))
        );
        assert_eq!(queue_name_from_url("http://h/q"), None);
        assert_eq!(queue_name_from_url("http://h/"), None);
        assert_eq!(queue_name_from_url("http://h"), None);
        assert_eq!(queue_name_from_url("/a/b/c"), None);
        assert_eq!(queue_name_from_url("/a/bad name"), None);
        assert_eq!(queue_name_from_url("//q"), None);
        assert_eq!(queue_name_from_url("q"), None);
        assert_eq!(queue_name_from_url("ftp://h/1/q"), None);
        assert_eq!(queue_name_from_url(""), None);
        assert_eq!(queue_name_from_url("http://é"), None);
    }

    #[test]
    fn queue_parameters() {
        assert_eq!(queue_of_parameter("q1"), Some((None, "q1")));
        assert_eq!(queue_of_parameter("q.fifo"), Some((None, "q.fifo")));
        assert_eq!(
            queue_of_parameter("http://h/000000000000/q1"),
            Some((Some("000000000000"), "q1"))
        );
        assert_eq!(queue_of_parameter("/1/q"), Some((Some("1"), "q")));
        assert_eq!(queue_of_parameter("bad name"), None);
        assert_eq!(queue_of_parameter(""), None);
        assert_eq!(queue_of_parameter("http://h/q"), None);
    }

    #[test]
    fn builders() {
        let u = queue_url("http://localhost:9324/", "000000000000", "q");
        assert_eq!(u, "http://localhost:9324/000000000000/q");
        assert_eq!(queue_name_from_url(&u), Some("q"));
    }
}
