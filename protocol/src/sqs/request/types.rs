//! The typed SQS request: [`SqsRequest`] and the values it carries, with the few
//! questions callers ask of them (its action, its queue, which attributes a receive wants).
//! Field comments state what parsing has already guaranteed.

use std::collections::BTreeMap;

use crate::message::MessageAttribute;
use crate::sqs::error::SqsError;
use crate::sqs::{url, Action};

/// Which protocol a client speaks; replies go back in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`).
    Json,
    /// The legacy query protocol, answered in XML.
    Query,
}

/// The parts of an HTTP request the codec reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// The HTTP method (`GET` reads parameters from the query string only).
    pub method: &'a str,
    /// The request path, e.g. `/` or `/000000000000/q`.
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: Option<&'a str>,
    /// The `X-Amz-Target` header.
    pub target: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
}

/// A string-to-string map (queue attributes, tags).
pub type AttrMap = BTreeMap<String, String>;

/// One entry of a batch: its id and either the entry or the error SQS reports for it in
/// the `Failed` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<T> {
    /// The entry's `Id`: valid and distinct within the batch.
    pub id: String,
    /// The validated entry, or the error to report for it in `Failed`.
    pub result: Result<T, SqsError>,
}

/// Which FIFO ids a SendMessageBatch entry carried (present, valid or not). On a FIFO
/// queue SQS refuses the whole batch, not the entry, when an entry has no
/// `MessageGroupId`, or no `MessageDeduplicationId` while the queue has no
/// `ContentBasedDeduplication`; that needs the queue, so the codec only records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FifoIdsGiven {
    /// The entry carried a `MessageGroupId`.
    pub group_id: bool,
    /// The entry carried a `MessageDeduplicationId`.
    pub dedup_id: bool,
}

/// A message to send (SendMessage, or one SendMessageBatch entry), validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageEntry {
    /// 1 byte to [`crate::limits::MAX_MESSAGE_SIZE`] of XML-allowed characters.
    pub body: String,
    /// In `DELAY_RANGE_S` ([`spool_model::limits`]); None = the queue's delay.
    pub delay_seconds: Option<u32>,
    /// At most `MESSAGE_ATTRIBUTES_MAX`, valid names and types, String/Number values are text and Binary
    /// values bytes; sorted by name (both wires carry them as a map).
    pub message_attributes: Vec<MessageAttribute<'static>>,
    /// Only `AWSTraceHeader` (String).
    pub message_system_attributes: Vec<MessageAttribute<'static>>,
    /// a valid id ([`spool_model::message::is_valid_message_id_parameter`]).
    pub message_deduplication_id: Option<String>,
    /// a valid id ([`spool_model::message::is_valid_message_id_parameter`]).
    pub message_group_id: Option<String>,
}

impl SendMessageEntry {
    /// Size counted against the message size limit: body plus each message attribute's
    /// name, data type and value (system attributes do not count).
    pub fn size(&self) -> usize {
        self.body.len() + MessageAttribute::total_size(&self.message_attributes)
    }
}

/// One ChangeMessageVisibilityBatch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityChange {
    /// Non-empty; its contents are the engine's to check.
    pub receipt_handle: String,
    /// In `VISIBILITY_TIMEOUT_RANGE_S` ([`spool_model::limits`]). Optional in the API
    /// model (unlike ChangeMessageVisibility's); None when the entry has none (SQS then
    /// applies 0).
    pub visibility_timeout: Option<u32>,
}

/// ReceiveMessage's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiveMessageRequest {
    /// The queue's URL or path.
    pub queue_url: String,
    /// 1 to `RECEIVE_MESSAGES_MAX` ([`spool_model::limits`]); None = 1.
    pub max_number_of_messages: Option<u32>,
    /// In `VISIBILITY_TIMEOUT_RANGE_S` ([`spool_model::limits`]); None = the queue's.
    pub visibility_timeout: Option<u32>,
    /// In `RECEIVE_WAIT_TIME_RANGE_S` ([`spool_model::limits`]); None = the queue's
    /// ReceiveMessageWaitTimeSeconds.
    pub wait_time_seconds: Option<u32>,
    /// `MessageSystemAttributeNames` and the deprecated `AttributeNames`, merged in that
    /// order without repeats (`All` = every one). Names are not checked.
    pub system_attribute_names: Vec<String>,
    /// `MessageAttributeNames`: names, `All`, `.*` or `prefix.*`.
    pub message_attribute_names: Vec<String>,
    /// FIFO retry token, a valid id ([`spool_model::message::is_valid_message_id_parameter`]).
    pub receive_request_attempt_id: Option<String>,
}

impl ReceiveMessageRequest {
    /// Whether the system attribute `name` (e.g. `SentTimestamp`) is to be returned.
    pub fn wants_system_attribute(&self, name: &str) -> bool {
        self.system_attribute_names
            .iter()
            .any(|n| n == "All" || n == name)
    }

    /// Whether the message attribute `name` is to be returned (see
    /// [`spool_model::message::message_attribute_selected`]).
    pub fn wants_message_attribute(&self, name: &str) -> bool {
        self.message_attribute_names
            .iter()
            .any(|pat| spool_model::message::message_attribute_selected(pat, name))
    }
}

/// A parsed SQS request. Field names follow the API's member names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsRequest {
    /// Creates a queue (or confirms one with the same attributes exists).
    CreateQueue {
        /// A valid queue name ([`spool_model::name::is_valid_queue_name`]).
        queue_name: String,
        /// Queue attributes, unchecked (the engine checks names and values).
        attributes: AttrMap,
        /// Tags, unchecked here.
        tags: AttrMap,
    },
    /// Deletes a queue.
    DeleteQueue {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
    },
    /// Looks up a queue's URL by name.
    GetQueueUrl {
        /// `QueueName`.
        queue_name: String,
        /// `QueueOwnerAWSAccountId`, unchecked.
        queue_owner_aws_account_id: Option<String>,
    },
    /// Lists queue URLs by name prefix, a page at a time.
    ListQueues {
        /// `QueueNamePrefix`, unchecked.
        queue_name_prefix: Option<String>,
        /// 1 to `LIST_RESULTS_MAX` ([`spool_model::limits`]).
        max_results: Option<u32>,
        /// `NextToken` of an earlier reply.
        next_token: Option<String>,
    },
    /// Reads queue attributes.
    GetQueueAttributes {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// Unchecked; `All` = every attribute; empty = none.
        attribute_names: Vec<String>,
    },
    /// Changes queue attributes.
    SetQueueAttributes {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// Queue attributes, unchecked (the engine checks names and values).
        attributes: AttrMap,
    },
    /// Deletes every message of a queue.
    PurgeQueue {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
    },
    /// Sends one message.
    SendMessage {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// The message, validated.
        message: SendMessageEntry,
    },
    /// Sends up to `BATCH_ENTRIES_MAX` messages.
    SendMessageBatch {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// 1 to `BATCH_ENTRIES_MAX` entries with distinct valid ids, at most
        /// `BATCH_REQUEST_MAX_BYTES` in all.
        entries: Vec<BatchEntry<SendMessageEntry>>,
        /// Which FIFO ids each entry carried, in entry order, whether or not the entry is
        /// valid: on a FIFO queue SQS fails the whole call when one lacks them.
        fifo_ids: Vec<FifoIdsGiven>,
    },
    /// Receives messages.
    ReceiveMessage(ReceiveMessageRequest),
    /// Deletes a received message.
    DeleteMessage {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// Non-empty; its contents are the engine's to check.
        receipt_handle: String,
    },
    /// Deletes up to `BATCH_ENTRIES_MAX` received messages.
    DeleteMessageBatch {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// Receipt handles; an empty one is an entry error.
        entries: Vec<BatchEntry<String>>,
    },
    /// Changes a received message's visibility timeout.
    ChangeMessageVisibility {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// Non-empty; its contents are the engine's to check.
        receipt_handle: String,
        /// In `VISIBILITY_TIMEOUT_RANGE_S` ([`spool_model::limits`]).
        visibility_timeout: u32,
    },
    /// Changes up to `BATCH_ENTRIES_MAX` received messages' visibility timeouts.
    ChangeMessageVisibilityBatch {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// 1 to `BATCH_ENTRIES_MAX` entries with distinct valid ids.
        entries: Vec<BatchEntry<VisibilityChange>>,
    },
    /// Adds or replaces queue tags.
    TagQueue {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// Tags, unchecked here.
        tags: AttrMap,
    },
    /// Removes queue tags.
    UntagQueue {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// `TagKeys`, unchecked.
        tag_keys: Vec<String>,
    },
    /// Reads a queue's tags.
    ListQueueTags {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
    },
    /// Adds a permission statement to the queue's policy.
    AddPermission {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// A valid label ([`spool_model::message::is_valid_permission_label`]).
        label: String,
        /// `AWSAccountIds`, unchecked.
        aws_account_ids: Vec<String>,
        /// `Actions` (action names), unchecked.
        actions: Vec<String>,
    },
    /// Removes a permission statement by label.
    RemovePermission {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// A valid label ([`spool_model::message::is_valid_permission_label`]).
        label: String,
    },
    /// Lists the queues whose dead-letter queue this is.
    ListDeadLetterSourceQueues {
        /// The queue's URL or path (`QueueUrl`, or the request path).
        queue_url: String,
        /// 1 to `LIST_RESULTS_MAX` ([`spool_model::limits`]).
        max_results: Option<u32>,
        /// `NextToken` of an earlier reply.
        next_token: Option<String>,
    },
    /// Starts moving messages out of a dead-letter queue.
    StartMessageMoveTask {
        /// `SourceArn`, non-empty, unchecked.
        source_arn: String,
        /// `DestinationArn`; None when absent or empty.
        destination_arn: Option<String>,
        /// 1..=500.
        max_number_of_messages_per_second: Option<u32>,
    },
    /// Lists the move tasks of a source queue.
    ListMessageMoveTasks {
        /// `SourceArn`, non-empty, unchecked.
        source_arn: String,
        /// 1..=10.
        max_results: Option<u32>,
    },
    /// Cancels a running move task.
    CancelMessageMoveTask {
        /// `TaskHandle`, non-empty, unchecked.
        task_handle: String,
    },
}

impl SqsRequest {
    /// The request's action (to pass to [`crate::sqs::render`]).
    pub fn action(&self) -> Action {
        match self {
            SqsRequest::CreateQueue { .. } => Action::CreateQueue,
            SqsRequest::DeleteQueue { .. } => Action::DeleteQueue,
            SqsRequest::GetQueueUrl { .. } => Action::GetQueueUrl,
            SqsRequest::ListQueues { .. } => Action::ListQueues,
            SqsRequest::GetQueueAttributes { .. } => Action::GetQueueAttributes,
            SqsRequest::SetQueueAttributes { .. } => Action::SetQueueAttributes,
            SqsRequest::PurgeQueue { .. } => Action::PurgeQueue,
            SqsRequest::SendMessage { .. } => Action::SendMessage,
            SqsRequest::SendMessageBatch { .. } => Action::SendMessageBatch,
            SqsRequest::ReceiveMessage(_) => Action::ReceiveMessage,
            SqsRequest::DeleteMessage { .. } => Action::DeleteMessage,
            SqsRequest::DeleteMessageBatch { .. } => Action::DeleteMessageBatch,
            SqsRequest::ChangeMessageVisibility { .. } => Action::ChangeMessageVisibility,
            SqsRequest::ChangeMessageVisibilityBatch { .. } => Action::ChangeMessageVisibilityBatch,
            SqsRequest::TagQueue { .. } => Action::TagQueue,
            SqsRequest::UntagQueue { .. } => Action::UntagQueue,
            SqsRequest::ListQueueTags { .. } => Action::ListQueueTags,
            SqsRequest::AddPermission { .. } => Action::AddPermission,
            SqsRequest::RemovePermission { .. } => Action::RemovePermission,
            SqsRequest::ListDeadLetterSourceQueues { .. } => Action::ListDeadLetterSourceQueues,
            SqsRequest::StartMessageMoveTask { .. } => Action::StartMessageMoveTask,
            SqsRequest::ListMessageMoveTasks { .. } => Action::ListMessageMoveTasks,
            SqsRequest::CancelMessageMoveTask { .. } => Action::CancelMessageMoveTask,
        }
    }

    /// The queue URL (or path) of a queue-scoped request.
    pub fn queue_url(&self) -> Option<&str> {
        match self {
            SqsRequest::DeleteQueue { queue_url }
            | SqsRequest::GetQueueAttributes { queue_url, .. }
            | SqsRequest::SetQueueAttributes { queue_url, .. }
            | SqsRequest::PurgeQueue { queue_url }
            | SqsRequest::SendMessage { queue_url, .. }
            | SqsRequest::SendMessageBatch { queue_url, .. }
            | SqsRequest::DeleteMessage { queue_url, .. }
            | SqsRequest::DeleteMessageBatch { queue_url, .. }
            | SqsRequest::ChangeMessageVisibility { queue_url, .. }
            | SqsRequest::ChangeMessageVisibilityBatch { queue_url, .. }
            | SqsRequest::TagQueue { queue_url, .. }
            | SqsRequest::UntagQueue { queue_url, .. }
            | SqsRequest::ListQueueTags { queue_url }
            | SqsRequest::AddPermission { queue_url, .. }
            | SqsRequest::RemovePermission { queue_url, .. }
            | SqsRequest::ListDeadLetterSourceQueues { queue_url, .. } => Some(queue_url),
            SqsRequest::ReceiveMessage(r) => Some(&r.queue_url),
            _ => None,
        }
    }

    /// The queue name of a queue-scoped request, if its `QueueUrl` has a queue URL's
    /// shape or is a bare queue name ([`url::queue_of_parameter`]).
    pub fn queue_name(&self) -> Option<&str> {
        self.queue_url()
            .and_then(url::queue_of_parameter)
            .map(|(_, name)| name)
    }
}
