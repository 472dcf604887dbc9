//! Queue URLs and ARNs: the rules are the model's ([`spool_model::url`],
//! [`spool_model::arn`]); this module keeps the SQS codec's names for them.

pub use spool_model::arn::{queue_arn, queue_name_from_arn};
pub use spool_model::url::{
    queue_account_and_name, queue_name_from_url, queue_of_parameter, queue_url,
};

/// Region, account and queue name of a queue ARN (see [`spool_model::arn::SqsArn::parse`]
/// for what is accepted).
pub fn queue_arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    spool_model::arn::SqsArn::parse(arn).map(|a| (a.region, a.account, a.name))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a = queue_arn("us-east-1", "000000000000", "q");
        assert_eq!(a, "arn:aws:sqs:us-east-1:000000000000:q");
        assert_eq!(queue_name_from_arn(&a), Some("q"));
        let u = queue_url("http://localhost:9324/", "000000000000", "q");
        assert_eq!(queue_name_from_url(&u), Some("q"));
    }
}
