//! Amazon Resource Names of queues (and of the accounts a queue policy names).
//!
//! One builder, [`queue_arn`]: `arn:aws:sqs:{region}:{account}:{name}`. One parser,
//! [`SqsArn::parse`], with one strictness: the partition is `aws` or `aws-<lowercase>`
//! (aws-cn, aws-us-gov), the region `[a-z0-9-]+`, the account 1–12 digits (AWS has 12;
//! shorter ids are tolerated for self-hosted setups) and the name a valid queue name
//! whose FIFO-ness is given by its `.fifo` suffix. Every ARN [`queue_arn`] builds from a
//! valid region, 12-digit account and queue name parses back.

use crate::name::{is_fifo_name, is_valid_queue_name};

/// The partition Spool's own ARNs are in.
pub const PARTITION: &str = "aws";
/// The service part of a queue ARN.
pub const SQS_SERVICE: &str = "sqs";
/// Longest account id in an ARN (AWS account ids are exactly this long).
pub const ACCOUNT_ID_MAX_DIGITS: usize = crate::account::ACCOUNT_ID_DIGITS;

/// The ARN of queue `name` in `region` and `account`.
pub fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{PARTITION}:{SQS_SERVICE}:{region}:{account}:{name}")
}

/// The ARN of an account's root principal, as queue policies name accounts.
pub fn account_root_arn(account: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:root")
}

/// The parts of an SQS queue ARN `arn:<partition>:sqs:<region>:<account>:<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqsArn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub partition: &'a str,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The account id, 1–12 digits.
    pub account: &'a str,
    /// A valid queue name.
    pub name: &'a str,
}

impl<'a> SqsArn<'a> {
    /// Parses and validates a queue ARN (see the module docs for the rules); `None` for
    /// anything else.
    pub fn parse(arn: &'a str) -> Option<SqsArn<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (arn_tag, partition, service, region, account, name) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let partition_ok = partition == PARTITION
            || partition.strip_prefix("aws-").is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            });
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let account_ok = (1..=ACCOUNT_ID_MAX_DIGITS).contains(&account.len())
            && account.bytes().all(|b| b.is_ascii_digit());
        let ok = arn_tag == "arn"
            && service == SQS_SERVICE
            && partition_ok
            && region_ok
            && account_ok
            && is_valid_queue_name(name);
        ok.then_some(SqsArn {
            partition,
            region,
            account,
            name,
        })
    }

    /// Whether the ARN names a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        is_fifo_name(self.name)
    }
}

/// The queue name of a well-formed SQS queue ARN (see [`SqsArn::parse`]), else `None`.
pub fn queue_name_from_arn(arn: &str) -> Option<&str> {
    SqsArn::parse(arn).map(|a| a.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DLQ: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";
    const DLQ_FIFO: &str = "arn:aws:sqs:us-east-1:000000000000:dlq.fifo";

    #[test]
    fn parse_good() {
        assert_eq!(queue_name_from_arn(DLQ), Some("dlq"));
        assert_eq!(queue_name_from_arn(DLQ_FIFO), Some("dlq.fifo"));
        assert_eq!(
            queue_name_from_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q"),
            Some("q")
        );
        assert_eq!(
            queue_name_from_arn("arn:aws:sqs:eu-west-1:1:dlq.fifo"),
            Some("dlq.fifo")
        );
        let arn = SqsArn::parse(DLQ_FIFO).unwrap();
        assert!(arn.is_fifo());
        assert!(!SqsArn::parse(DLQ).unwrap().is_fifo());
        assert_eq!(
            (arn.partition, arn.region, arn.account),
            ("aws", "us-east-1", "000000000000")
        );
    }

    #[test]
    fn parse_bad() {
        for bad in [
            "",
            "arn:aws:sqs:us-east-1:000000000000:",
            "arn:aws:sqs:us-east-1:000000000000",
            "arn:aws:sqs::000000000000:q",
            "arn:aws:sqs:us-east-1::q",
            "arn:aws:sqs:us-east-1:0000000000001:q",
            "arn:aws:sqs:us-east-1:abc:q",
            "arn:aws:sqs:US-EAST-1:000000000000:q",
            "arn:aws:sns:us-east-1:000000000000:q",
            "arn:gcp:sqs:us-east-1:000000000000:q",
            "arn:aws-:sqs:us-east-1:000000000000:q",
            "urn:aws:sqs:us-east-1:000000000000:q",
            "arn:aws:sqs:us-east-1:000000000000:q:extra",
            "arn:aws:sqs:us-east-1:000000000000:.fifo",
            "arn:aws:sqs:us-east-1:000000000000:bad name",
        ] {
            assert_eq!(queue_name_from_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn build_round_trips() {
        let arn = queue_arn("us-east-1", "000000000000", "q.fifo");
        assert_eq!(arn, "arn:aws:sqs:us-east-1:000000000000:q.fifo");
        let p = SqsArn::parse(&arn).unwrap();
        assert_eq!(
            (p.region, p.account, p.name),
            ("us-east-1", "000000000000", "q.fifo")
        );
        assert_eq!(
            account_root_arn("111122223333"),
            "arn:aws:iam::111122223333:root"
        );
    }
}
