//! The queue actions: CreateQueue, DeleteQueue, GetQueueUrl, ListQueues,
//! Get/SetQueueAttributes, PurgeQueue, Tag/UntagQueue, ListQueueTags and
//! ListDeadLetterSourceQueues; each is one binary-protocol request. Also the queue lookups
//! other actions share ([`Ctx::attribute`], [`Ctx::require_exists`]).

use std::collections::BTreeMap;

use spool_model::attrs::names as queue_attr;
use spool_model::limits::LIST_RESULTS_MAX;
use spool_protocol::sqs::{SqsError, SqsResponse};
use spool_protocol::{Request, Response};

use super::{expect, unexpected, wire_map, Ctx, Result};

/// The binary protocol's page size for a list request's MaxResults (0 when absent: the
/// shard's default).
fn page_size(max_results: Option<u32>) -> u16 {
    max_results.unwrap_or(0).min(LIST_RESULTS_MAX) as u16
}

impl Ctx<'_> {
    pub(super) async fn create_queue(
        &self,
        queue_name: String,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<SqsResponse> {
        let req = Request::CreateQueue {
            name: queue_name.as_str().into(),
            attributes: wire_map(attributes),
            tags: wire_map(tags),
        };
        expect(&self.call(req).await?, |r| {
            matches!(r, Response::QueueCreated { .. })
        })?;
        Ok(SqsResponse::CreateQueue {
            queue_url: self.url(&queue_name),
        })
    }

    pub(super) async fn delete_queue(&self, queue_url: &str) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let r = self
            .call(Request::DeleteQueue { name: name.into() })
            .await?;
        expect(&r, |r| matches!(r, Response::QueueDeleted))?;
        Ok(SqsResponse::Empty)
    }

    pub(super) async fn get_queue_url(
        &self,
        queue_name: String,
        queue_owner_aws_account_id: Option<String>,
    ) -> Result<SqsResponse> {
        if queue_owner_aws_account_id.is_some_and(|a| a != self.gw.cfg.account_id) {
            return Err(SqsError::queue_does_not_exist());
        }
        let r = self
            .call(Request::GetQueue {
                name: queue_name.as_str().into(),
            })
            .await?;
        expect(&r, |r| matches!(r, Response::Queue { .. }))?;
        Ok(SqsResponse::GetQueueUrl {
            queue_url: self.url(&queue_name),
        })
    }

    pub(super) async fn list_queues(
        &self,
        queue_name_prefix: Option<String>,
        max_results: Option<u32>,
        next_token: Option<String>,
    ) -> Result<SqsResponse> {
        let r = self
            .call(Request::ListQueues {
                prefix: queue_name_prefix.unwrap_or_default().into(),
                max_results: page_size(max_results),
                next_token: next_token.map(Into::into),
            })
            .await?;
        let Response::Queues { names, next_token } = r else {
            return Err(unexpected(&r));
        };
        Ok(SqsResponse::ListQueues {
            queue_urls: names.iter().map(|n| self.url(n)).collect(),
            // SQS pages only when MaxResults was given.
            next_token: next_token
                .filter(|_| max_results.is_some())
                .map(std::borrow::Cow::into_owned),
        })
    }

    pub(super) async fn get_queue_attributes(
        &self,
        queue_url: &str,
        attribute_names: Vec<String>,
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        // Without names SQS returns no attributes (but the queue must exist).
        let names = if attribute_names.is_empty() {
            vec![queue_attr::QUEUE_ARN.into()]
        } else {
            attribute_names.iter().map(|n| n.as_str().into()).collect()
        };
        let r = self
            .call(Request::GetQueueAttributes {
                name: name.into(),
                attribute_names: names,
            })
            .await?;
        let Response::QueueAttributes { attributes } = r else {
            return Err(unexpected(&r));
        };
        let attributes = if attribute_names.is_empty() {
            BTreeMap::new()
        } else {
            attributes
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        Ok(SqsResponse::GetQueueAttributes { attributes })
    }

    pub(super) async fn set_queue_attributes(
        &self,
        queue_url: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        self.set_attributes(&name, attributes).await?;
        Ok(SqsResponse::Empty)
    }

    pub(super) async fn purge_queue(&self, queue_url: &str) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let r = self.call(Request::PurgeQueue { name: name.into() }).await?;
        expect(&r, |r| matches!(r, Response::Purged))?;
        Ok(SqsResponse::Empty)
    }

    pub(super) async fn tag_queue(
        &self,
        queue_url: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let r = self
            .call(Request::TagQueue {
                name: name.into(),
                tags: wire_map(tags),
            })
            .await?;
        expect(&r, |r| matches!(r, Response::QueueTagged))?;
        Ok(SqsResponse::Empty)
    }

    pub(super) async fn untag_queue(
        &self,
        queue_url: &str,
        tag_keys: &[String],
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let r = self
            .call(Request::UntagQueue {
                name: name.into(),
                keys: tag_keys.iter().map(|k| k.as_str().into()).collect(),
            })
            .await?;
        expect(&r, |r| matches!(r, Response::QueueUntagged))?;
        Ok(SqsResponse::Empty)
    }

    pub(super) async fn list_queue_tags(&self, queue_url: &str) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let r = self
            .call(Request::ListQueueTags { name: name.into() })
            .await?;
        let Response::QueueTags { tags } = r else {
            return Err(unexpected(&r));
        };
        Ok(SqsResponse::ListQueueTags {
            tags: tags
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        })
    }

    pub(super) async fn list_dead_letter_source_queues(
        &self,
        queue_url: &str,
        max_results: Option<u32>,
        next_token: Option<String>,
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let r = self
            .call(Request::ListDeadLetterSourceQueues {
                name: name.into(),
                max_results: page_size(max_results),
                next_token: next_token.map(Into::into),
            })
            .await?;
        let Response::DeadLetterSourceQueues { names, next_token } = r else {
            return Err(unexpected(&r));
        };
        Ok(SqsResponse::ListDeadLetterSourceQueues {
            queue_urls: names.iter().map(|n| self.url(n)).collect(),
            next_token: next_token
                .filter(|_| max_results.is_some())
                .map(std::borrow::Cow::into_owned),
        })
    }

    /// Sets queue `name`'s attributes (SetQueueAttributes, and the permission actions'
    /// `Policy`).
    pub(super) async fn set_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<()> {
        let r = self
            .call(Request::SetQueueAttributes {
                name: name.into(),
                attributes: wire_map(attributes),
            })
            .await?;
        expect(&r, |r| matches!(r, Response::QueueAttributesSet))
    }

    /// One queue attribute, or None if the queue does not report it.
    pub(super) async fn attribute(&self, queue: &str, name: &str) -> Result<Option<String>> {
        let r = self
            .call(Request::GetQueueAttributes {
                name: queue.into(),
                attribute_names: vec![name.into()],
            })
            .await?;
        let Response::QueueAttributes { attributes } = r else {
            return Err(unexpected(&r));
        };
        Ok(attributes
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned()))
    }

    /// QueueDoesNotExist unless queue `name` exists.
    pub(super) async fn require_exists(&self, name: &str) -> Result<()> {
        let r = self.call(Request::GetQueue { name: name.into() }).await?;
        expect(&r, |r| matches!(r, Response::Queue { .. }))
    }
}
