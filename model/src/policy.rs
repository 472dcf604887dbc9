//! The IAM policy words SQS writes into a queue's `Policy` attribute when AddPermission
//! creates or extends it: the policy language version, the policy's default `Id`, the
//! `SQS:<Action>` action names and the account principals
//! ([`account_root_arn`], from [`crate::arn`]).

pub use crate::arn::account_root_arn;

/// The IAM policy language version of the policies AddPermission writes: SQS writes the
/// older `2008-10-17` (not IAM's current `2012-10-17`), and so does Spool.
pub const POLICY_VERSION: &str = "2008-10-17";

/// The `Id` SQS gives a queue's policy when AddPermission creates it.
pub fn default_policy_id(queue_arn: &str) -> String {
    format!("{queue_arn}/SQSDefaultPolicy")
}

/// An SQS action as a policy names it: `SQS:<action>`.
pub fn policy_action(action: &str) -> String {
    format!("SQS:{action}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_names() {
        assert_eq!(
            account_root_arn("123456789012"),
            "arn:aws:iam::123456789012:root"
        );
        assert_eq!(policy_action("SendMessage"), "SQS:SendMessage");
        assert_eq!(
            default_policy_id("arn:aws:sqs:us-east-1:000000000000:q"),
            "arn:aws:sqs:us-east-1:000000000000:q/SQSDefaultPolicy"
        );
    }
}
