//! Every limit and name rule this crate enforces, in one place.
//!
//! Two kinds live here. The SQS domain rules (queue names, message size, batch sizes,
//! delay / visibility / wait ranges, id and label rules) are Amazon SQS's and are
//! defined in the SQS model ([`spool_model`]); this module only gives them the names the
//! protocol has always used, for both codecs (binary and SQS HTTP). The protocol's own
//! caps (frame size, binary batch size, map and string lengths, HTTP body size) bound
//! what a decoder accepts and are this crate's.
//!
//! The items are re-exported where they have always been reachable: the binary caps and
//! the queue-name rule at the crate root, the SQS API limits in [`crate::sqs::request`].

use spool_model::limits as sqs;

// ----- SQS domain rules (the model's, under the protocol's names) ------------------------

pub use spool_model::message::is_valid_batch_entry_id as is_valid_batch_id;
pub use spool_model::message::is_valid_message_id_parameter as is_valid_message_id;
pub use spool_model::message::is_valid_permission_label as is_valid_label;
pub use spool_model::name::{is_valid_queue_name, FIFO_SUFFIX};

/// Longest queue name, in bytes (the FIFO suffix included): the model's
/// [`sqs::QUEUE_NAME_MAX_CHARS`] (a valid name is ASCII).
pub const MAX_QUEUE_NAME_LEN: usize = sqs::QUEUE_NAME_MAX_CHARS;
/// Longest message group id, deduplication id or receive request attempt id, in bytes.
pub const MAX_ID_LEN: usize = sqs::MESSAGE_ID_PARAMETER_MAX_CHARS;
/// Longest message attribute name or data type, in bytes. The binary protocol also caps
/// queue attribute names and tag keys at this length.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = sqs::MESSAGE_ATTRIBUTE_NAME_MAX_CHARS;
/// Most message attributes (and, separately, message system attributes) per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = sqs::MESSAGE_ATTRIBUTES_MAX;
/// Largest message (body plus message attributes), and largest SQS batch, in bytes.
pub const MAX_MESSAGE_SIZE: usize = sqs::MESSAGE_SIZE_MAX_BYTES as usize;
/// Most entries in one SQS API batch.
pub const MAX_BATCH_ENTRIES: usize = sqs::BATCH_ENTRIES_MAX;
/// Longest SQS batch entry id, in bytes.
pub const MAX_BATCH_ID_LEN: usize = sqs::BATCH_ENTRY_ID_MAX_CHARS;
/// Largest DelaySeconds, in seconds.
pub const MAX_DELAY_SECONDS: u32 = sqs::DELAY_MAX_S;
/// Largest visibility timeout, in seconds (12 hours).
pub const MAX_VISIBILITY_TIMEOUT: u32 = sqs::VISIBILITY_TIMEOUT_MAX_S;
/// Largest WaitTimeSeconds, in seconds.
pub const MAX_WAIT_TIME_SECONDS: u32 = sqs::RECEIVE_WAIT_TIME_MAX_S;
/// Largest MaxNumberOfMessages of ReceiveMessage.
pub const MAX_RECEIVE_MESSAGES: u32 = sqs::RECEIVE_MESSAGES_MAX;
/// Largest MaxResults of ListQueues and ListDeadLetterSourceQueues.
pub const MAX_LIST_RESULTS: u32 = sqs::LIST_RESULTS_MAX;
/// Largest MaxResults of ListMessageMoveTasks.
pub const MAX_MOVE_TASK_RESULTS: u32 = sqs::MOVE_TASK_RESULTS_MAX;
/// Largest MaxNumberOfMessagesPerSecond of StartMessageMoveTask.
pub const MAX_MOVE_RATE: u32 = sqs::MOVE_TASK_RATE_MAX_PER_S;
/// Longest permission label, in bytes.
pub const MAX_LABEL_LEN: usize = sqs::PERMISSION_LABEL_MAX_CHARS;

// ----- the binary protocol's caps ------------------------------------------------------

/// Default maximum size of a frame, length prefix included (16 MiB). Receivers may pass
/// another maximum to [`crate::decode_frame`]; the server announces its own in the Hello
/// reply.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;
/// Most entries in one batch (send, delete, change visibility; messages per receive).
pub const MAX_BATCH: usize = 10_000;
/// Most entries in a queue attribute map or tag map.
pub const MAX_MAP_ENTRIES: usize = 64;
/// Longest queue attribute value or tag value (a Policy may be long), in bytes.
pub const MAX_MAP_VALUE_LEN: usize = 64 << 10;
/// Most names in an attribute-name list (GetQueueAttributes, Receive).
pub const MAX_ATTRIBUTE_NAMES: usize = 64;
/// Longest receipt handle, in bytes.
pub const MAX_RECEIPT_HANDLE_LEN: usize = 1024;
/// Longest error message, in bytes: a binary Error response's or failed entry's, and an
/// SQS error reply's (longer SQS messages are cut on a char boundary).
pub const MAX_ERROR_MESSAGE_LEN: usize = 4096;
/// Longest API key, in bytes.
pub const MAX_API_KEY_LEN: usize = 256;
/// Longest pagination token, in bytes.
pub const MAX_NEXT_TOKEN_LEN: usize = 1024;

// ----- the SQS HTTP codec's caps -------------------------------------------------------

/// Largest HTTP body `parse` looks at (4 MiB: a 1 MiB batch form-encoded or JSON-escaped
/// fits), in bytes. The query string has the same limit.
pub const MAX_HTTP_BODY: usize = 4 << 20;
/// Most form parameters, or JSON structural tokens, in one request.
pub const MAX_PARAMS: usize = 10_000;
