//! Queue attributes, with Amazon SQS semantics.
//!
//! This module owns:
//! * the typed [`QueueAttributes`] of a queue, with the SQS defaults and ranges
//!   ([`crate::limits`]);
//! * conversion from the SQS string map (CreateQueue / SetQueueAttributes) and back
//!   (GetQueueAttributes), using the exact SQS attribute names ([`names`]);
//! * the JSON sub-formats `RedrivePolicy` and `RedriveAllowPolicy` ([`RedrivePolicy`],
//!   [`RedrivePermission`]);
//! * the comparison behind idempotent CreateQueue;
//! * what can be wrong with any of it, as data ([`AttrError`]).
//!
//! Promises:
//! * every function is total: any input string / map gives `Ok` or `Err`, never a panic;
//! * [`QueueAttributes::apply_set`] is all-or-nothing (it returns a new value; `self` is
//!   never touched);
//! * `for_create(name, &attrs.to_map())` gives back `attrs` for every valid `attrs`
//!   (what a queue reports can be fed back to create an identical queue);
//! * attribute-name errors are reported before value errors, as SQS does, so a request
//!   with both a bad name and a bad value fails with `InvalidAttributeName`;
//! * the serde form of [`QueueAttributes`] is the engine's catalog format: its field and
//!   variant names do not change.
//!
//! Not owned here: read-only attributes (`ApproximateNumberOfMessages*`, timestamps,
//! `QueueArn`) are produced by the engine; checking that a dead-letter queue exists, or
//! that it is not the source queue itself, needs the queue registry and is done by the caller.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod error;
pub mod names;
mod redrive;
mod values;

#[cfg(test)]
mod tests;

pub use error::{AttrError, AttrValueError, MAX_ECHO_CHARS};
pub use names::{ALL_ATTRIBUTE_NAMES, COUNT_ATTRIBUTE_NAMES, READ_ONLY_ATTRIBUTE_NAMES};
pub use redrive::{RedrivePermission, RedrivePolicy};
pub use values::{DeduplicationScope, FifoThroughputLimit};

use crate::limits::{
    DELAY_DEFAULT_S, DELAY_RANGE_S, KMS_DATA_KEY_REUSE_DEFAULT_S, KMS_DATA_KEY_REUSE_RANGE_S,
    KMS_MASTER_KEY_ID_MAX_BYTES, MAXIMUM_MESSAGE_SIZE_DEFAULT_BYTES,
    MAXIMUM_MESSAGE_SIZE_RANGE_BYTES, MESSAGE_RETENTION_DEFAULT_S, MESSAGE_RETENTION_RANGE_S,
    RECEIVE_WAIT_TIME_DEFAULT_S, RECEIVE_WAIT_TIME_RANGE_S, VISIBILITY_TIMEOUT_DEFAULT_S,
    VISIBILITY_TIMEOUT_RANGE_S,
};
use crate::name::validate_queue_name;
use error::invalid_value;
use names::Attr;
use values::{bool_str, json_equal, parse_bool, parse_json_object, parse_ranged, parse_word};

/// The settable attributes of a queue.
///
/// Invariants kept by every constructor in this module: on a FIFO queue `dedup_scope` and
/// `fifo_throughput_limit` are `Some` (SQS reports them on every FIFO queue), on a standard
/// queue they are `None` and `content_based_dedup` is false; a KMS key implies a reuse
/// period and `sqs_managed_sse_enabled == false` (one SSE type at a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAttributes {
    /// [`VISIBILITY_TIMEOUT_RANGE_S`], default [`VISIBILITY_TIMEOUT_DEFAULT_S`].
    pub visibility_timeout_s: u32,
    /// [`MESSAGE_RETENTION_RANGE_S`], default [`MESSAGE_RETENTION_DEFAULT_S`].
    pub message_retention_s: u32,
    /// Bytes: [`MAXIMUM_MESSAGE_SIZE_RANGE_BYTES`], default
    /// [`MAXIMUM_MESSAGE_SIZE_DEFAULT_BYTES`]. (The name has no unit: it is the catalog's.)
    pub maximum_message_size: u32,
    /// [`DELAY_RANGE_S`], default 0.
    pub delay_s: u32,
    /// [`RECEIVE_WAIT_TIME_RANGE_S`], default 0.
    pub receive_wait_time_s: u32,
    /// Where messages go after too many receives.
    pub redrive_policy: Option<RedrivePolicy>,
    /// Which queues may use this one as their dead-letter queue.
    pub redrive_allow_policy: Option<RedrivePermission>,
    /// Whether this is a FIFO queue (fixed at creation).
    pub fifo: bool,
    /// FIFO only.
    pub content_based_dedup: bool,
    /// FIFO only.
    pub dedup_scope: Option<DeduplicationScope>,
    /// FIFO only.
    pub fifo_throughput_limit: Option<FifoThroughputLimit>,
    /// Stored verbatim (a valid JSON object).
    pub policy: Option<String>,
    /// The KMS key of KMS server-side encryption.
    pub kms_master_key_id: Option<String>,
    /// [`KMS_DATA_KEY_REUSE_RANGE_S`].
    pub kms_data_key_reuse_period_s: Option<u32>,
    /// Default true.
    pub sqs_managed_sse_enabled: bool,
}

impl Default for QueueAttributes {
    /// SQS defaults of a standard queue.
    fn default() -> Self {
        QueueAttributes {
            visibility_timeout_s: VISIBILITY_TIMEOUT_DEFAULT_S,
            message_retention_s: MESSAGE_RETENTION_DEFAULT_S,
            maximum_message_size: MAXIMUM_MESSAGE_SIZE_DEFAULT_BYTES,
            delay_s: DELAY_DEFAULT_S,
            receive_wait_time_s: RECEIVE_WAIT_TIME_DEFAULT_S,
            redrive_policy: None,
            redrive_allow_policy: None,
            fifo: false,
            content_based_dedup: false,
            dedup_scope: None,
            fifo_throughput_limit: None,
            policy: None,
            kms_master_key_id: None,
            kms_data_key_reuse_period_s: None,
            sqs_managed_sse_enabled: true,
        }
    }
}

/// Which request this map came from; they differ only in how `FifoQueue` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Set,
}

impl QueueAttributes {
    /// SQS defaults for a new queue of the given type.
    pub fn default_for(fifo: bool) -> QueueAttributes {
        let mut attrs = QueueAttributes::default();
        if fifo {
            attrs.fifo = true;
            attrs.dedup_scope = Some(DeduplicationScope::Queue);
            attrs.fifo_throughput_limit = Some(FifoThroughputLimit::PerQueue);
        }
        attrs
    }

    /// `DeduplicationScope` in force (`queue` unless set).
    pub fn effective_dedup_scope(&self) -> DeduplicationScope {
        self.dedup_scope.unwrap_or(DeduplicationScope::Queue)
    }

    /// `FifoThroughputLimit` in force (`perQueue` unless set).
    pub fn effective_fifo_throughput_limit(&self) -> FifoThroughputLimit {
        self.fifo_throughput_limit
            .unwrap_or(FifoThroughputLimit::PerQueue)
    }

    /// Build the attributes of a new queue from CreateQueue's attribute map (SQS names,
    /// string values). `name` decides/validates FifoQueue: FifoQueue=true requires a .fifo
    /// name, a .fifo name requires FifoQueue=true (as SQS). FIFO-only attributes (including
    /// FifoQueue=false) on a standard queue, unknown names and read-only names are
    /// InvalidAttributeName; bad values are InvalidAttributeValue naming the attribute.
    pub fn for_create(
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<QueueAttributes, AttrError> {
        // FifoQueue is needed first: it decides which name rule applies and which
        // attribute names exist.
        let fifo = match map.get(names::FIFO_QUEUE) {
            Some(v) => parse_bool(names::FIFO_QUEUE, v)?,
            None => false,
        };
        validate_queue_name(name, fifo)?;
        let mut attrs = QueueAttributes::default_for(fifo);
        attrs.apply_entries(map, Mode::Create)?;
        Ok(attrs)
    }

    /// SetQueueAttributes: apply changes to a copy. FifoQueue cannot be changed
    /// (InvalidAttributeValue if it differs / InvalidAttributeName on a standard queue);
    /// an empty string for RedrivePolicy / RedriveAllowPolicy / Policy / KmsMasterKeyId
    /// removes it. All-or-nothing: on error nothing is changed (self is borrowed immutably).
    pub fn apply_set(&self, map: &BTreeMap<String, String>) -> Result<QueueAttributes, AttrError> {
        let mut attrs = self.clone();
        attrs.apply_entries(map, Mode::Set)?;
        Ok(attrs)
    }

    /// The settable attributes as SQS reports them: unset optionals omitted, the FIFO
    /// attributes only on FIFO queues, JSON policies compact, booleans "true"/"false".
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put(
            names::VISIBILITY_TIMEOUT,
            self.visibility_timeout_s.to_string(),
        );
        put(
            names::MESSAGE_RETENTION_PERIOD,
            self.message_retention_s.to_string(),
        );
        put(
            names::MAXIMUM_MESSAGE_SIZE,
            self.maximum_message_size.to_string(),
        );
        put(names::DELAY_SECONDS, self.delay_s.to_string());
        put(
            names::RECEIVE_MESSAGE_WAIT_TIME_SECONDS,
            self.receive_wait_time_s.to_string(),
        );
        put(
            names::SQS_MANAGED_SSE_ENABLED,
            bool_str(self.sqs_managed_sse_enabled),
        );
        if let Some(p) = &self.redrive_policy {
            put(names::REDRIVE_POLICY, p.to_json());
        }
        if let Some(p) = &self.redrive_allow_policy {
            put(names::REDRIVE_ALLOW_POLICY, p.to_json());
        }
        if let Some(p) = &self.policy {
            put(names::POLICY, p.clone());
        }
        if let Some(k) = &self.kms_master_key_id {
            put(names::KMS_MASTER_KEY_ID, k.clone());
        }
        if let Some(s) = self.kms_data_key_reuse_period_s {
            put(names::KMS_DATA_KEY_REUSE_PERIOD_SECONDS, s.to_string());
        }
        if self.fifo {
            put(names::FIFO_QUEUE, bool_str(true));
            put(
                names::CONTENT_BASED_DEDUPLICATION,
                bool_str(self.content_based_dedup),
            );
            put(
                names::DEDUPLICATION_SCOPE,
                self.effective_dedup_scope().as_sqs_str().to_string(),
            );
            put(
                names::FIFO_THROUGHPUT_LIMIT,
                self.effective_fifo_throughput_limit()
                    .as_sqs_str()
                    .to_string(),
            );
        }
        m
    }

    /// For idempotent CreateQueue: Ok if `requested_map` (parsed as a CreateQueue of
    /// `queue_name`) equals self in every attribute the request named; otherwise
    /// `DifferentAttributes` naming the first differing attribute (map order). A request
    /// that is itself invalid gets the error CreateQueue would give.
    pub fn check_same(
        &self,
        requested_map: &BTreeMap<String, String>,
        queue_name: &str,
    ) -> Result<(), AttrError> {
        let requested = QueueAttributes::for_create(queue_name, requested_map)?;
        for key in requested_map.keys() {
            // for_create accepted every key, so each one resolves.
            if let Some(attr) = Attr::from_name(key) {
                if !self.same(attr, &requested) {
                    return Err(AttrError::DifferentAttributes { name: attr.name() });
                }
            }
        }
        Ok(())
    }

    /// Whether `self` and `other` agree on `attr` (for idempotent CreateQueue).
    fn same(&self, attr: Attr, other: &QueueAttributes) -> bool {
        let (a, b) = (self, other);
        match attr {
            Attr::VisibilityTimeout => a.visibility_timeout_s == b.visibility_timeout_s,
            Attr::MessageRetentionPeriod => a.message_retention_s == b.message_retention_s,
            Attr::MaximumMessageSize => a.maximum_message_size == b.maximum_message_size,
            Attr::DelaySeconds => a.delay_s == b.delay_s,
            Attr::ReceiveMessageWaitTimeSeconds => a.receive_wait_time_s == b.receive_wait_time_s,
            Attr::RedrivePolicy => a.redrive_policy == b.redrive_policy,
            Attr::RedriveAllowPolicy => a.redrive_allow_policy == b.redrive_allow_policy,
            Attr::FifoQueue => a.fifo == b.fifo,
            Attr::ContentBasedDeduplication => a.content_based_dedup == b.content_based_dedup,
            Attr::DeduplicationScope => a.effective_dedup_scope() == b.effective_dedup_scope(),
            Attr::FifoThroughputLimit => {
                a.effective_fifo_throughput_limit() == b.effective_fifo_throughput_limit()
            }
            // A retried CreateQueue may re-serialise the same policy differently.
            Attr::Policy => match (&a.policy, &b.policy) {
                (Some(x), Some(y)) => json_equal(x, y),
                (x, y) => x == y,
            },
            Attr::KmsMasterKeyId => a.kms_master_key_id == b.kms_master_key_id,
            Attr::KmsDataKeyReusePeriodSeconds => {
                a.kms_data_key_reuse_period_s == b.kms_data_key_reuse_period_s
            }
            Attr::SqsManagedSseEnabled => a.sqs_managed_sse_enabled == b.sqs_managed_sse_enabled,
        }
    }

    /// Applies a Create/Set map to `self`. May leave `self` half-updated on error; callers
    /// work on a copy.
    fn apply_entries(
        &mut self,
        map: &BTreeMap<String, String>,
        mode: Mode,
    ) -> Result<(), AttrError> {
        // Names first, values second: SQS reports InvalidAttributeName before
        // InvalidAttributeValue.
        let mut entries = Vec::with_capacity(map.len());
        for (k, v) in map {
            entries.push((Attr::classify(k, self.fifo)?, v.as_str()));
        }
        for &(attr, value) in &entries {
            self.assign(attr, value, mode)?;
        }
        let named = |a: Attr| entries.iter().any(|&(x, _)| x == a);
        self.settle(named)
    }

    fn assign(&mut self, attr: Attr, value: &str, mode: Mode) -> Result<(), AttrError> {
        let name = attr.name();
        match attr {
            Attr::VisibilityTimeout => {
                self.visibility_timeout_s = parse_ranged(name, value, &VISIBILITY_TIMEOUT_RANGE_S)?;
            }
            Attr::MessageRetentionPeriod => {
                self.message_retention_s = parse_ranged(name, value, &MESSAGE_RETENTION_RANGE_S)?;
            }
            Attr::MaximumMessageSize => {
                self.maximum_message_size =
                    parse_ranged(name, value, &MAXIMUM_MESSAGE_SIZE_RANGE_BYTES)?;
            }
            Attr::DelaySeconds => self.delay_s = parse_ranged(name, value, &DELAY_RANGE_S)?,
            Attr::ReceiveMessageWaitTimeSeconds => {
                self.receive_wait_time_s = parse_ranged(name, value, &RECEIVE_WAIT_TIME_RANGE_S)?;
            }
            Attr::RedrivePolicy => {
                self.redrive_policy = if value.is_empty() {
                    None
                } else {
                    Some(RedrivePolicy::parse(value, self.fifo)?)
                }
            }
            Attr::RedriveAllowPolicy => {
                self.redrive_allow_policy = if value.is_empty() {
                    None
                } else {
                    Some(RedrivePermission::parse(value)?)
                }
            }
            Attr::FifoQueue => {
                // Create: already parsed by for_create (it chose the queue type).
                // Set: the type is fixed at creation; restating it is harmless.
                if mode == Mode::Set && parse_bool(name, value)? != self.fifo {
                    return Err(invalid_value(name, AttrValueError::FifoQueueImmutable));
                }
            }
            Attr::ContentBasedDeduplication => self.content_based_dedup = parse_bool(name, value)?,
            Attr::DeduplicationScope => {
                self.dedup_scope = Some(parse_word(
                    name,
                    value,
                    DeduplicationScope::SQS_WORDS,
                    DeduplicationScope::from_sqs_str,
                )?);
            }
            Attr::FifoThroughputLimit => {
                self.fifo_throughput_limit = Some(parse_word(
                    name,
                    value,
                    FifoThroughputLimit::SQS_WORDS,
                    FifoThroughputLimit::from_sqs_str,
                )?);
            }
            Attr::Policy => {
                self.policy = if value.is_empty() {
                    None
                } else {
                    parse_json_object(name, value)?;
                    Some(value.to_string())
                }
            }
            Attr::KmsMasterKeyId => {
                self.kms_master_key_id = if value.is_empty() {
                    None
                } else if value.len() > KMS_MASTER_KEY_ID_MAX_BYTES
                    || value.chars().any(char::is_control)
                {
                    return Err(invalid_value(
                        name,
                        AttrValueError::BadKmsKeyId {
                            max_bytes: KMS_MASTER_KEY_ID_MAX_BYTES,
                        },
                    ));
                } else {
                    Some(value.to_string())
                }
            }
            Attr::KmsDataKeyReusePeriodSeconds => {
                self.kms_data_key_reuse_period_s =
                    Some(parse_ranged(name, value, &KMS_DATA_KEY_REUSE_RANGE_S)?);
            }
            Attr::SqsManagedSseEnabled => self.sqs_managed_sse_enabled = parse_bool(name, value)?,
        }
        Ok(())
    }

    /// Cross-attribute rules, checked on the final state of a Create/Set.
    fn settle(&mut self, named: impl Fn(Attr) -> bool) -> Result<(), AttrError> {
        // Removing the KMS key removes its reuse period, unless the request set one too.
        if self.kms_master_key_id.is_none()
            && named(Attr::KmsMasterKeyId)
            && !named(Attr::KmsDataKeyReusePeriodSeconds)
        {
            self.kms_data_key_reuse_period_s = None;
        }
        if self.kms_master_key_id.is_some() {
            if self.kms_data_key_reuse_period_s.is_none() {
                self.kms_data_key_reuse_period_s = Some(KMS_DATA_KEY_REUSE_DEFAULT_S);
            }
            // One SSE type at a time: choosing KMS turns SQS-managed SSE off, but asking
            // for both explicitly is a conflict.
            if self.sqs_managed_sse_enabled {
                if named(Attr::SqsManagedSseEnabled) {
                    return Err(invalid_value(
                        names::SQS_MANAGED_SSE_ENABLED,
                        AttrValueError::TwoSseTypes,
                    ));
                }
                self.sqs_managed_sse_enabled = false;
            }
        }
        if self.fifo_throughput_limit == Some(FifoThroughputLimit::PerMessageGroupId)
            && self.dedup_scope != Some(DeduplicationScope::MessageGroup)
        {
            // Blame the attribute the request changed.
            let name = if named(Attr::FifoThroughputLimit) || !named(Attr::DeduplicationScope) {
                names::FIFO_THROUGHPUT_LIMIT
            } else {
                names::DEDUPLICATION_SCOPE
            };
            return Err(invalid_value(
                name,
                AttrValueError::ThroughputNeedsGroupScope,
            ));
        }
        Ok(())
    }
}
