//! Every limit and name rule this crate enforces, in one place.
//!
//! Two kinds live here. The SQS domain rules (queue names, message size, batch sizes,
//! delay / visibility / wait ranges, id and label rules) are Amazon SQS's and are meant
//! to come from the shared SQS model once it exists; both codecs (binary and SQS HTTP)
//! use them from here. The protocol's own caps (frame size, binary batch size, map and
//! string lengths, HTTP body size) bound what a decoder accepts and are this crate's.
//!
//! The items are re-exported where they have always been reachable: the binary caps and
//! the queue-name rule at the crate root, the SQS API limits in [`crate::sqs::request`].

// ----- SQS domain rules ----------------------------------------------------------------

/// Longest queue name, in bytes (the `.fifo` suffix included).
pub const MAX_QUEUE_NAME_LEN: usize = 80;
/// The suffix that names a FIFO queue.
pub const FIFO_SUFFIX: &str = ".fifo";

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// 1 to 80 bytes of `[A-Za-z0-9_-]`, optionally followed by `.fifo`.
pub fn is_valid_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(FIFO_SUFFIX).unwrap_or(name);
    !base.is_empty() && name.len() <= MAX_QUEUE_NAME_LEN && base.bytes().all(is_name_byte)
}

/// Longest message group id, deduplication id or receive request attempt id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest message attribute name or data type, in bytes. The binary protocol also caps
/// queue attribute names and tag keys at this length.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 256;
/// Most message attributes (and, separately, message system attributes) per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// Largest message (body plus message attributes), and largest SQS batch, in bytes.
pub const MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Most entries in one SQS API batch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Longest SQS batch entry id, in bytes.
pub const MAX_BATCH_ID_LEN: usize = 80;

/// Whether `id` is a valid batch entry id: `[A-Za-z0-9_-]{1,80}`.
pub fn is_valid_batch_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_BATCH_ID_LEN && id.bytes().all(is_name_byte)
}

/// Largest DelaySeconds, in seconds.
pub const MAX_DELAY_SECONDS: u32 = 900;
/// Largest visibility timeout, in seconds (12 hours).
pub const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;
/// Largest WaitTimeSeconds, in seconds.
pub const MAX_WAIT_TIME_SECONDS: u32 = 20;
/// Largest MaxNumberOfMessages of ReceiveMessage.
pub const MAX_RECEIVE_MESSAGES: u32 = 10;
/// Largest MaxResults of ListQueues and ListDeadLetterSourceQueues.
pub const MAX_LIST_RESULTS: u32 = 1000;
/// Largest MaxResults of ListMessageMoveTasks.
pub const MAX_MOVE_TASK_RESULTS: u32 = 10;
/// Largest MaxNumberOfMessagesPerSecond of StartMessageMoveTask.
pub const MAX_MOVE_RATE: u32 = 500;
/// Longest permission label, in bytes.
pub const MAX_LABEL_LEN: usize = 80;

/// Whether `label` is a valid permission label: `[A-Za-z0-9_-]{1,80}`.
pub fn is_valid_label(label: &str) -> bool {
    !label.is_empty() && label.len() <= MAX_LABEL_LEN && label.bytes().all(is_name_byte)
}

/// Whether `id` is a valid message group id, deduplication id or receive request attempt
/// id: 1 to 128 ASCII alphanumeric or punctuation characters.
pub fn is_valid_message_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

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
