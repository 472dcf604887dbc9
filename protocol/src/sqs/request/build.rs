//! Building: one typed [`SqsRequest`] per action from the JSON-shaped object, with each
//! member's presence, type and range checked (out-of-range values get AWS's wording).
//! Batch entries whose values fail are kept as that entry's error, as SQS reports them.

use spool_model::limits::{
    LIST_RESULTS_MAX, MOVE_TASK_RATE_MAX_PER_S, MOVE_TASK_RESULTS_MAX, PERMISSION_LABEL_MAX_CHARS,
    QUEUE_NAME_MAX_CHARS, RECEIVE_MESSAGES_MAX, RECEIVE_WAIT_TIME_RANGE_S,
    VISIBILITY_TIMEOUT_RANGE_S,
};

use super::object::{check_range, Obj, RangeText};
use super::types::{BatchEntry, ReceiveMessageRequest, SqsRequest, VisibilityChange};
use super::validate::{
    batch_entries, check_id, invalid, message_too_long, raw_send, validate_send,
};
use crate::limits::{is_valid_label, is_valid_queue_name, MAX_MESSAGE_SIZE};
use crate::sqs::error::{ErrorKind, SqsError};
use crate::sqs::Action;

// ----- per-action builders ----------------------------------------------------------------

pub(super) fn queue_url(o: &Obj<'_>, path_queue: Option<&str>) -> Result<String, SqsError> {
    match o.str_opt("QueueUrl")? {
        Some(u) if !u.is_empty() => Ok(u.to_string()),
        _ => path_queue
            .map(str::to_string)
            .ok_or_else(|| SqsError::missing("QueueUrl")),
    }
}

pub(super) fn list_results(o: &Obj<'_>, max: u32) -> Result<Option<u32>, SqsError> {
    o.int_in("MaxResults", &(1..=max), RangeText::NamedIntegerBetween)
}

/// The typed request of `action` from `o`; `path_queue` is the request path when it has
/// a queue URL's shape (used when `QueueUrl` is absent).
pub(super) fn build(
    action: Action,
    o: &Obj<'_>,
    path_queue: Option<&str>,
) -> Result<SqsRequest, SqsError> {
    let qurl = || queue_url(o, path_queue);
    Ok(match action {
        Action::CreateQueue => create_queue(o)?,
        Action::DeleteQueue => SqsRequest::DeleteQueue { queue_url: qurl()? },
        Action::GetQueueUrl => SqsRequest::GetQueueUrl {
            queue_name: o.str_req("QueueName")?.to_string(),
            queue_owner_aws_account_id: o.string_opt("QueueOwnerAWSAccountId")?,
        },
        Action::ListQueues => SqsRequest::ListQueues {
            queue_name_prefix: o.string_opt("QueueNamePrefix")?,
            max_results: list_results(o, LIST_RESULTS_MAX)?,
            next_token: o.string_opt("NextToken")?,
        },
        Action::GetQueueAttributes => SqsRequest::GetQueueAttributes {
            queue_url: qurl()?,
            attribute_names: o.str_list("AttributeNames")?.unwrap_or_default(),
        },
        Action::SetQueueAttributes => SqsRequest::SetQueueAttributes {
            queue_url: qurl()?,
            attributes: o
                .str_map("Attributes")?
                .ok_or_else(|| SqsError::missing("Attributes"))?,
        },
        Action::PurgeQueue => SqsRequest::PurgeQueue { queue_url: qurl()? },
        Action::SendMessage => send_message(o, qurl()?)?,
        Action::SendMessageBatch => send_message_batch(o, qurl()?)?,
        Action::ReceiveMessage => receive_message(o, qurl()?)?,
        Action::DeleteMessage => SqsRequest::DeleteMessage {
            queue_url: qurl()?,
            receipt_handle: o.str_nonempty("ReceiptHandle")?.to_string(),
        },
        Action::DeleteMessageBatch => delete_message_batch(o, qurl()?)?,
        Action::ChangeMessageVisibility => change_message_visibility(o, qurl()?)?,
        Action::ChangeMessageVisibilityBatch => change_message_visibility_batch(o, qurl()?)?,
        Action::TagQueue => SqsRequest::TagQueue {
            queue_url: qurl()?,
            tags: o
                .str_map("Tags")?
                .ok_or_else(|| SqsError::missing("Tags"))?,
        },
        Action::UntagQueue => SqsRequest::UntagQueue {
            queue_url: qurl()?,
            tag_keys: o
                .str_list("TagKeys")?
                .ok_or_else(|| SqsError::missing("TagKeys"))?,
        },
        Action::ListQueueTags => SqsRequest::ListQueueTags { queue_url: qurl()? },
        Action::AddPermission => add_permission(o, qurl()?)?,
        Action::RemovePermission => SqsRequest::RemovePermission {
            queue_url: qurl()?,
            label: label(o)?,
        },
        Action::ListDeadLetterSourceQueues => SqsRequest::ListDeadLetterSourceQueues {
            queue_url: qurl()?,
            max_results: list_results(o, LIST_RESULTS_MAX)?,
            next_token: o.string_opt("NextToken")?,
        },
        Action::StartMessageMoveTask => SqsRequest::StartMessageMoveTask {
            source_arn: o.str_nonempty("SourceArn")?.to_string(),
            destination_arn: o.string_opt("DestinationArn")?.filter(|s| !s.is_empty()),
            max_number_of_messages_per_second: o.int_in(
                "MaxNumberOfMessagesPerSecond",
                &(1..=MOVE_TASK_RATE_MAX_PER_S),
                RangeText::Between,
            )?,
        },
        Action::ListMessageMoveTasks => SqsRequest::ListMessageMoveTasks {
            source_arn: o.str_nonempty("SourceArn")?.to_string(),
            max_results: list_results(o, MOVE_TASK_RESULTS_MAX)?,
        },
        Action::CancelMessageMoveTask => SqsRequest::CancelMessageMoveTask {
            task_handle: o.str_nonempty("TaskHandle")?.to_string(),
        },
    })
}

/// CreateQueue: the name is checked here; attributes and tags are the engine's.
fn create_queue(o: &Obj<'_>) -> Result<SqsRequest, SqsError> {
    let queue_name = o.str_req("QueueName")?;
    if !is_valid_queue_name(queue_name) {
        return Err(invalid(format!(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to {QUEUE_NAME_MAX_CHARS} in length"
        )));
    }
    let tags = match o.str_map("tags")? {
        Some(t) => t,
        None => o.str_map("Tags")?.unwrap_or_default(),
    };
    Ok(SqsRequest::CreateQueue {
        queue_name: queue_name.to_string(),
        attributes: o.str_map("Attributes")?.unwrap_or_default(),
        tags,
    })
}

/// SendMessage: the size limit first, then the message's values.
fn send_message(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let raw = raw_send(o)?;
    if raw.size() > MAX_MESSAGE_SIZE {
        return Err(message_too_long());
    }
    Ok(SqsRequest::SendMessage {
        queue_url,
        message: validate_send(raw)?,
    })
}

/// SendMessageBatch: the batch structure and total size fail the call; each entry's
/// values fail only that entry.
fn send_message_batch(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let entries = batch_entries(o, Action::SendMessageBatch)?;
    let mut raws = Vec::with_capacity(entries.len());
    let mut total = 0usize;
    for (id, e) in &entries {
        let raw = raw_send(e)?;
        total = total.saturating_add(raw.size());
        raws.push((id.clone(), raw));
    }
    if total > MAX_MESSAGE_SIZE {
        return Err(SqsError::new(
            ErrorKind::BatchRequestTooLong,
            format!(
                "Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. You have sent {total} bytes."
            ),
        ));
    }
    let fifo_ids = raws.iter().map(|(_, raw)| raw.fifo_ids()).collect();
    let entries = raws
        .into_iter()
        .map(|(id, raw)| BatchEntry {
            id,
            result: validate_send(raw),
        })
        .collect();
    Ok(SqsRequest::SendMessageBatch {
        queue_url,
        entries,
        fifo_ids,
    })
}

/// ReceiveMessage: the ranges, and the two system attribute name lists merged.
fn receive_message(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let mut system_attribute_names: Vec<String> = Vec::new();
    for name in o
        .str_list("MessageSystemAttributeNames")?
        .into_iter()
        .flatten()
        .chain(o.str_list("AttributeNames")?.into_iter().flatten())
    {
        if !system_attribute_names.contains(&name) {
            system_attribute_names.push(name);
        }
    }
    Ok(SqsRequest::ReceiveMessage(ReceiveMessageRequest {
        queue_url,
        max_number_of_messages: o.int_in(
            "MaxNumberOfMessages",
            &(1..=RECEIVE_MESSAGES_MAX),
            RangeText::BetweenIfProvided,
        )?,
        visibility_timeout: o.int_in(
            "VisibilityTimeout",
            &VISIBILITY_TIMEOUT_RANGE_S,
            RangeText::AtLeastAtMostIfProvided,
        )?,
        wait_time_seconds: o.int_in(
            "WaitTimeSeconds",
            &RECEIVE_WAIT_TIME_RANGE_S,
            RangeText::AtLeastAtMostIfProvided,
        )?,
        system_attribute_names,
        message_attribute_names: o.str_list("MessageAttributeNames")?.unwrap_or_default(),
        receive_request_attempt_id: check_id(
            "ReceiveRequestAttemptId",
            o.str_opt("ReceiveRequestAttemptId")?,
        )?,
    }))
}

/// DeleteMessageBatch: an empty receipt handle fails only its entry.
fn delete_message_batch(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let mut entries = Vec::new();
    for (id, e) in batch_entries(o, Action::DeleteMessageBatch)? {
        let handle = e.str_req("ReceiptHandle")?;
        entries.push(BatchEntry {
            id,
            result: receipt_handle(handle),
        });
    }
    Ok(SqsRequest::DeleteMessageBatch { queue_url, entries })
}

/// ChangeMessageVisibility: the timeout is required and in range.
fn change_message_visibility(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let receipt_handle = o.str_nonempty("ReceiptHandle")?.to_string();
    let t = o
        .int_opt("VisibilityTimeout")?
        .ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
    Ok(SqsRequest::ChangeMessageVisibility {
        queue_url,
        receipt_handle,
        visibility_timeout: visibility(t)?,
    })
}

/// ChangeMessageVisibilityBatch: a bad handle or timeout fails only its entry.
fn change_message_visibility_batch(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let mut entries = Vec::new();
    for (id, e) in batch_entries(o, Action::ChangeMessageVisibilityBatch)? {
        let handle = e.str_req("ReceiptHandle")?;
        let t = e.int_opt("VisibilityTimeout")?;
        let result = receipt_handle(handle).and_then(|receipt_handle| {
            Ok(VisibilityChange {
                receipt_handle,
                visibility_timeout: t.map(visibility).transpose()?,
            })
        });
        entries.push(BatchEntry { id, result });
    }
    Ok(SqsRequest::ChangeMessageVisibilityBatch { queue_url, entries })
}

/// AddPermission: a valid label and both lists present.
fn add_permission(o: &Obj<'_>, queue_url: String) -> Result<SqsRequest, SqsError> {
    let label = label(o)?;
    Ok(SqsRequest::AddPermission {
        queue_url,
        label,
        aws_account_ids: o
            .str_list("AWSAccountIds")?
            .ok_or_else(|| SqsError::missing("AWSAccountIds"))?,
        actions: o
            .str_list("Actions")?
            .ok_or_else(|| SqsError::missing("Actions"))?,
    })
}

pub(super) fn receipt_handle(handle: &str) -> Result<String, SqsError> {
    if handle.is_empty() {
        Err(SqsError::new(
            ErrorKind::ReceiptHandleIsInvalid,
            "The input receipt handle \"\" is not a valid receipt handle.",
        ))
    } else {
        Ok(handle.to_string())
    }
}

pub(super) fn visibility(t: i64) -> Result<u32, SqsError> {
    check_range(
        "VisibilityTimeout",
        t,
        &VISIBILITY_TIMEOUT_RANGE_S,
        RangeText::BetweenIfProvided,
    )
}

pub(super) fn label(o: &Obj<'_>) -> Result<String, SqsError> {
    let label = o.str_req("Label")?;
    if !is_valid_label(label) {
        return Err(SqsError::invalid_value(
            "Label",
            label,
            &format!("Can only include alphanumeric characters, hyphens, or underscores. 1 to {PERMISSION_LABEL_MAX_CHARS} in length."),
        ));
    }
    Ok(label.to_string())
}
