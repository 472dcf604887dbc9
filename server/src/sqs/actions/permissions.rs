//! AddPermission and RemovePermission: SQS keeps a queue's permissions as statements of
//! its `Policy` attribute (IAM JSON), and so does Spool; these two edit that JSON, one
//! statement per label. The policy is not enforced (any credentials are accepted).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use spool_protocol::sqs::{ErrorKind, SqsError, SqsResponse};

use spool_model::attrs::names as queue_attr;
use spool_model::policy::{account_root_arn, default_policy_id, policy_action, POLICY_VERSION};

use super::{Ctx, Result};

impl Ctx<'_> {
    pub(super) async fn add_permission(
        &self,
        queue_url: &str,
        label: &str,
        aws_account_ids: &[String],
        actions: &[String],
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let mut policy = self.policy(&name).await?;
        let statements = statements(&mut policy);
        if statements.iter().any(|s| s["Sid"] == label) {
            return Err(SqsError::invalid_value("Label", label, "Already exists."));
        }
        let principals = one_or_list(aws_account_ids.iter().map(|a| account_root_arn(a)));
        let actions = one_or_list(actions.iter().map(|a| policy_action(a)));
        statements.push(json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": { "AWS": principals },
            "Action": actions,
            "Resource": self.arn(&name),
        }));
        self.set_policy(&name, policy.to_string()).await?;
        Ok(SqsResponse::Empty)
    }

    pub(super) async fn remove_permission(
        &self,
        queue_url: &str,
        label: &str,
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let mut policy = self.policy(&name).await?;
        let statements = statements(&mut policy);
        let before = statements.len();
        statements.retain(|s| s["Sid"] != label);
        if statements.len() == before {
            return Err(SqsError::invalid_value("Label", label, "can't find label."));
        }
        // The last statement gone, the queue has no policy again.
        let text = if statements.is_empty() {
            String::new()
        } else {
            policy.to_string()
        };
        self.set_policy(&name, text).await?;
        Ok(SqsResponse::Empty)
    }

    /// The queue's access policy as JSON (an empty policy if none is set).
    async fn policy(&self, queue: &str) -> Result<Value> {
        let text = self
            .attribute(queue, queue_attr::POLICY)
            .await?
            .unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(json!({
                "Version": POLICY_VERSION,
                "Id": default_policy_id(&self.arn(queue)),
                "Statement": [],
            }));
        }
        serde_json::from_str(&text).map_err(|_| {
            SqsError::new(
                ErrorKind::InvalidAttributeValue,
                "The queue's Policy attribute is not valid JSON.",
            )
        })
    }

    async fn set_policy(&self, queue: &str, text: String) -> Result<()> {
        let attrs = BTreeMap::from([(queue_attr::POLICY.to_string(), text)]);
        self.set_attributes(queue, &attrs).await
    }
}

/// A policy value as SQS writes it: a single principal or action as a bare string, two
/// or more as a list.
fn one_or_list(items: impl Iterator<Item = String>) -> Value {
    let mut items: Vec<Value> = items.map(Value::String).collect();
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        Value::Array(items)
    }
}

/// The `Statement` array of a policy, created if missing.
fn statements(policy: &mut Value) -> &mut Vec<Value> {
    if !policy.is_object() {
        *policy = json!({});
    }
    let obj = policy.as_object_mut().expect("made an object above");
    let st = obj
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !st.is_array() {
        // A single statement object is legal IAM JSON: make it a list of one.
        let one = std::mem::take(st);
        *st = Value::Array(vec![one]);
    }
    st.as_array_mut().expect("made an array above")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_is_a_string_and_more_are_a_list() {
        assert_eq!(one_or_list(["a".to_string()].into_iter()), json!("a"));
        assert_eq!(
            one_or_list(["a".to_string(), "b".to_string()].into_iter()),
            json!(["a", "b"])
        );
    }

    #[test]
    fn statements_are_made_a_list() {
        let mut p = json!("not an object");
        assert!(statements(&mut p).is_empty());
        let mut p = json!({ "Statement": { "Sid": "one" } });
        let st = statements(&mut p);
        assert_eq!(st.len(), 1);
        assert_eq!(st[0]["Sid"], "one");
    }
}
