//! Queue URLs and ARNs.
//!
//! A queue URL is `<scheme>://<host[:port]>/<account>/<name>`; this module accepts any
//! host (clients reach Spool under whatever name they configured), `http` or `https`, a
//! bare path `/<account>/<name>`, and LocalStack's `/queue/<region>/<account>/<name>`.
//! A queue ARN is `arn:<partition>:sqs:<region>:<account>:<name>`. Parsers return `None`
//! for anything else, including names that are not valid queue names; they never panic.

use crate::limits::is_valid_queue_name;

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
        && account.len() <= 64
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

/// The queue name of a queue ARN `arn:<partition>:sqs:<region>:<account>:<name>`.
pub fn queue_name_from_arn(arn: &str) -> Option<&str> {
    queue_arn_parts(arn).map(|(_, _, n)| n)
}

/// Region, account and queue name of a queue ARN.
pub fn queue_arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    let (pre, partition, service, region, account, name) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if pre != "arn" || partition.is_empty() || service != "sqs" || account.is_empty() {
        return None;
    }
    if !is_valid_queue_name(name) {
        return None;
    }
    Some((region, account, name))
}

/// `<base>/<account>/<name>`, `base` being scheme and authority (a trailing `/` is
/// ignored), e.g. `queue_url("http://localhost:9324", "000000000000", "q")`.
pub fn queue_url(base: &str, account: &str, name: &str) -> String {
    let base = base.trim_end_matches('/');
    format!("{base}/{account}/{name}")
}

/// `arn:aws:sqs:<region>:<account>:<name>`.
pub fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
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
    fn arns() {
        assert_eq!(
            queue_name_from_arn("arn:aws:sqs:us-east-1:000000000000:q"),
            Some("q")
        );
        assert_eq!(
            queue_arn_parts("arn:aws:sqs:eu-west-1:1:dlq.fifo"),
            Some(("eu-west-1", "1", "dlq.fifo"))
        );
        assert_eq!(queue_name_from_arn("arn:aws:sns:us-east-1:1:q"), None);
        assert_eq!(queue_name_from_arn("arn:aws:sqs:us-east-1:1"), None);
        assert_eq!(queue_name_from_arn("arn:aws:sqs:us-east-1:1:a:b"), None);
        assert_eq!(queue_name_from_arn(""), None);
    }

    #[test]
    fn builders() {
        let u = queue_url("http://localhost:9324/", "000000000000", "q");
        assert_eq!(u, "http://localhost:9324/000000000000/q");
        assert_eq!(queue_name_from_url(&u), Some("q"));
        let a = queue_arn("us-east-1", "000000000000", "q");
        assert_eq!(a, "arn:aws:sqs:us-east-1:000000000000:q");
        assert_eq!(queue_name_from_arn(&a), Some("q"));
    }
}
