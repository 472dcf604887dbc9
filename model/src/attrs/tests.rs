//! Unit and property tests of queue attributes. The SQS texts of these errors are tested
//! where they are decided, in the daemon's `errors.rs`.

use super::names::Attr;
use super::*;
use crate::arn::queue_name_from_arn;
use crate::limits::*;
use crate::name::{validate_queue_name, QueueNameError, QueueNameProblem};
use proptest::prelude::*;

const DLQ: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";
const DLQ_FIFO: &str = "arn:aws:sqs:us-east-1:000000000000:dlq.fifo";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn create(name: &str, pairs: &[(&str, &str)]) -> Result<QueueAttributes, AttrError> {
    QueueAttributes::for_create(name, &map(pairs))
}

fn is_value_err(r: &Result<QueueAttributes, AttrError>, attr: &str) -> bool {
    matches!(r, Err(AttrError::InvalidAttributeValue { name, .. }) if *name == attr)
}

fn name_err(attr: &str) -> AttrError {
    AttrError::InvalidAttributeName(attr.to_string())
}

#[test]
fn defaults_match_sqs() {
    let d = QueueAttributes::default();
    assert_eq!(d.visibility_timeout_s, 30);
    assert_eq!(d.message_retention_s, 345_600);
    assert_eq!(d.maximum_message_size, 1_048_576);
    assert_eq!(d.delay_s, 0);
    assert_eq!(d.receive_wait_time_s, 0);
    assert!(d.sqs_managed_sse_enabled);
    assert!(!d.fifo && !d.content_based_dedup);
    assert_eq!(d.redrive_policy, None);
    assert_eq!(d.policy, None);
    assert_eq!(create("q", &[]), Ok(d.clone()));

    // A fresh standard queue reports exactly these settable attributes (AWS, 2025-08).
    let m = d.to_map();
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "SqsManagedSseEnabled",
            "VisibilityTimeout"
        ]
    );
    assert_eq!(m["SqsManagedSseEnabled"], "true");
    assert_eq!(m["VisibilityTimeout"], "30");

    let f = create("q.fifo", &[("FifoQueue", "true")]).unwrap();
    assert_eq!(f, QueueAttributes::default_for(true));
    let fm = f.to_map();
    assert_eq!(fm["FifoQueue"], "true");
    assert_eq!(fm["ContentBasedDeduplication"], "false");
    assert_eq!(fm["DeduplicationScope"], "queue");
    assert_eq!(fm["FifoThroughputLimit"], "perQueue");
}

#[test]
fn queue_names() {
    // The rule itself is tested in name.rs; here: CreateQueue reports it.
    assert_eq!(
        create("bad name", &[]),
        Err(AttrError::InvalidQueueName(QueueNameError {
            fifo: false,
            problem: QueueNameProblem::BadCharacter
        }))
    );
    assert!(matches!(
        create(&"a".repeat(81), &[]),
        Err(AttrError::InvalidQueueName(_))
    ));
    assert!(create(&"a".repeat(80), &[]).is_ok());
}

#[test]
fn numeric_range_boundaries() {
    let cases: [(&str, u32, u32); 6] = [
        ("VisibilityTimeout", 0, 43_200),
        ("MessageRetentionPeriod", 60, 1_209_600),
        ("MaximumMessageSize", 1_024, 1_048_576),
        ("DelaySeconds", 0, 900),
        ("ReceiveMessageWaitTimeSeconds", 0, 20),
        ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
    ];
    for (attr, min, max) in cases {
        for ok in [min, max] {
            let a = create("q", &[(attr, &ok.to_string())])
                .unwrap_or_else(|e| panic!("{attr}={ok}: {e}"));
            assert_eq!(a.to_map()[attr], ok.to_string(), "{attr}");
        }
        let mut bad: Vec<String> = vec![
            (u64::from(max) + 1).to_string(),
            "abc".into(),
            "-1".into(),
            format!("+{min}"),
            format!(" {min}"),
            format!("{min} "),
            format!("{min}.0"),
            "1e3".into(),
            String::new(),
            "99999999999999999999999999".into(),
        ];
        if min > 0 {
            bad.push((min - 1).to_string());
        }
        for v in &bad {
            let r = create("q", &[(attr, v)]);
            assert!(is_value_err(&r, attr), "{attr}={v:?} gave {r:?}");
            let r = QueueAttributes::default().apply_set(&map(&[(attr, v)]));
            assert!(is_value_err(&r, attr), "set {attr}={v:?} gave {r:?}");
        }
    }
    // Leading zeros are still a plain decimal integer.
    assert_eq!(create("q", &[("DelaySeconds", "007")]).unwrap().delay_s, 7);
}

#[test]
fn value_error_names_attribute_and_value() {
    let e = create("q", &[("VisibilityTimeout", "43201")]).unwrap_err();
    let AttrError::InvalidAttributeValue { name, reason } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*name, "VisibilityTimeout");
    assert_eq!(
        *reason,
        AttrValueError::NotInRange {
            value: "43201".into(),
            min: 0,
            max: 43_200
        }
    );
    assert!(reason.to_string().contains("43201"));
    // Echoed values are bounded.
    let long = "x".repeat(10_000);
    let e = create("q", &[("DelaySeconds", &long)]).unwrap_err();
    assert!(e.to_string().len() < 300);
    let AttrError::InvalidAttributeValue { reason, .. } = e else {
        panic!()
    };
    assert!(reason.to_string().len() < 300);
}

#[test]
fn unknown_and_read_only_names() {
    for n in READ_ONLY_ATTRIBUTE_NAMES
        .iter()
        .chain(&["All", "Bogus", "visibilitytimeout"])
    {
        assert_eq!(create("q", &[(n, "1")]), Err(name_err(n)), "{n}");
        assert_eq!(
            QueueAttributes::default().apply_set(&map(&[(n, "1")])),
            Err(name_err(n))
        );
    }
    // Name errors win over value errors regardless of map order.
    assert_eq!(
        create("q", &[("AAA", "1"), ("DelaySeconds", "x")]),
        Err(name_err("AAA"))
    );
    assert_eq!(
        create("q", &[("DelaySeconds", "x"), ("ZZZ", "1")]),
        Err(name_err("ZZZ"))
    );
}

#[test]
fn all_attribute_names_cover_everything() {
    assert!(ALL_ATTRIBUTE_NAMES.contains(&"All"));
    for a in Attr::ALL {
        assert!(ALL_ATTRIBUTE_NAMES.contains(&a.name()), "{}", a.name());
    }
    for r in READ_ONLY_ATTRIBUTE_NAMES {
        assert!(ALL_ATTRIBUTE_NAMES.contains(r));
    }
    assert_eq!(
        ALL_ATTRIBUTE_NAMES.len(),
        1 + Attr::ALL.len() + READ_ONLY_ATTRIBUTE_NAMES.len()
    );
}

#[test]
fn fifo_rules() {
    // FifoQueue=true needs a .fifo name, a .fifo name needs FifoQueue=true.
    assert!(matches!(
        create("q", &[("FifoQueue", "true")]),
        Err(AttrError::InvalidQueueName(_))
    ));
    assert!(matches!(
        create("q.fifo", &[]),
        Err(AttrError::InvalidQueueName(_))
    ));
    assert!(matches!(
        create("q.fifo", &[("FifoQueue", "false")]),
        Err(AttrError::InvalidQueueName(_))
    ));
    assert!(is_value_err(
        &create("q.fifo", &[("FifoQueue", "yes")]),
        "FifoQueue"
    ));
    assert!(create("q.fifo", &[("FifoQueue", "TRUE")]).unwrap().fifo);
    // FIFO-only attributes (even FifoQueue=false) are unknown on standard queues.
    for (attr, v) in [
        ("FifoQueue", "false"),
        ("ContentBasedDeduplication", "false"),
        ("DeduplicationScope", "queue"),
        ("FifoThroughputLimit", "perQueue"),
    ] {
        assert_eq!(create("q", &[(attr, v)]), Err(name_err(attr)));
        assert_eq!(
            QueueAttributes::default().apply_set(&map(&[(attr, v)])),
            Err(name_err(attr))
        );
    }
    let hi = create(
        "q.fifo",
        &[
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "true"),
            ("DeduplicationScope", "messageGroup"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ],
    )
    .unwrap();
    assert!(hi.content_based_dedup);
    assert_eq!(hi.dedup_scope, Some(DeduplicationScope::MessageGroup));
    assert_eq!(
        hi.fifo_throughput_limit,
        Some(FifoThroughputLimit::PerMessageGroupId)
    );
    // perMessageGroupId requires messageGroup scope.
    let r = create(
        "q.fifo",
        &[
            ("FifoQueue", "true"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ],
    );
    assert!(is_value_err(&r, "FifoThroughputLimit"), "{r:?}");
    let r = hi.apply_set(&map(&[("DeduplicationScope", "queue")]));
    assert!(is_value_err(&r, "DeduplicationScope"), "{r:?}");
    assert!(hi
        .apply_set(&map(&[
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue")
        ]))
        .is_ok());
    for (attr, v) in [
        ("DeduplicationScope", "MessageGroup"),
        ("DeduplicationScope", ""),
        ("FifoThroughputLimit", "perqueue"),
        ("ContentBasedDeduplication", "1"),
    ] {
        let r = create("q.fifo", &[("FifoQueue", "true"), (attr, v)]);
        assert!(is_value_err(&r, attr), "{attr}={v:?}: {r:?}");
    }
    // FifoQueue cannot change on SetQueueAttributes; restating it is fine.
    assert!(is_value_err(
        &hi.apply_set(&map(&[("FifoQueue", "false")])),
        "FifoQueue"
    ));
    assert_eq!(hi.apply_set(&map(&[("FifoQueue", "true")])), Ok(hi.clone()));
}

#[test]
fn redrive_policy_parse_and_render() {
    let json = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5}}"#);
    let p = RedrivePolicy::parse(&json, false).unwrap();
    assert_eq!(
        p,
        RedrivePolicy {
            dead_letter_target_arn: DLQ.into(),
            max_receive_count: 5
        }
    );
    assert_eq!(p.to_json(), json);
    assert_eq!(RedrivePolicy::parse(&p.to_json(), false), Ok(p.clone()));
    // maxReceiveCount as a string is accepted and rendered as a number.
    let as_string = format!(r#"{{ "maxReceiveCount": "5", "deadLetterTargetArn": "{DLQ}" }}"#);
    let a = create("q", &[("RedrivePolicy", &as_string)]).unwrap();
    assert_eq!(a.redrive_policy, Some(p.clone()));
    assert_eq!(a.to_map()["RedrivePolicy"], json);

    let bad = [
        String::new(),
        "not json".into(),
        "[]".into(),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}"}}"#),
        r#"{"maxReceiveCount":5}"#.into(),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":0}}"#),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":1001}}"#),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":-1}}"#),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5.5}}"#),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":"+5"}}"#),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":true}}"#),
        format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5,"x":1}}"#),
        r#"{"deadLetterTargetArn":5,"maxReceiveCount":5}"#.into(),
        r#"{"deadLetterTargetArn":"dlq","maxReceiveCount":5}"#.into(),
        r#"{"deadLetterTargetArn":"arn:aws:sns:us-east-1:000000000000:dlq","maxReceiveCount":5}"#.into(),
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:bad name","maxReceiveCount":5}"#.into(),
        format!(r#"{{"deadLetterTargetArn":"{DLQ_FIFO}","maxReceiveCount":5}}"#),
    ];
    for b in &bad {
        assert!(
            matches!(
                RedrivePolicy::parse(b, false),
                Err(AttrError::InvalidAttributeValue { name, .. }) if name == "RedrivePolicy"
            ),
            "{b}"
        );
    }
    for n in [1, 1000] {
        let j = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":{n}}}"#);
        assert_eq!(
            RedrivePolicy::parse(&j, false).unwrap().max_receive_count,
            n
        );
    }
    // FIFO <-> FIFO only.
    let fifo_json = format!(r#"{{"deadLetterTargetArn":"{DLQ_FIFO}","maxReceiveCount":3}}"#);
    assert!(RedrivePolicy::parse(&fifo_json, true).is_ok());
    assert!(RedrivePolicy::parse(&json, true).is_err());
    assert!(create(
        "q.fifo",
        &[("FifoQueue", "true"), ("RedrivePolicy", &fifo_json)]
    )
    .is_ok());
    assert!(is_value_err(
        &create("q.fifo", &[("FifoQueue", "true"), ("RedrivePolicy", &json)]),
        "RedrivePolicy"
    ));
    // Empty string removes on Set, means "none" on Create.
    assert_eq!(
        create("q", &[("RedrivePolicy", "")])
            .unwrap()
            .redrive_policy,
        None
    );
    let removed = a.apply_set(&map(&[("RedrivePolicy", "")])).unwrap();
    assert_eq!(removed.redrive_policy, None);
    assert!(!removed.to_map().contains_key("RedrivePolicy"));
}

#[test]
fn redrive_allow_policy() {
    for (json, want) in [
        (
            r#"{"redrivePermission":"allowAll"}"#,
            RedrivePermission::AllowAll,
        ),
        (
            r#"{"redrivePermission":"denyAll"}"#,
            RedrivePermission::DenyAll,
        ),
        (
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:src"]}"#,
            RedrivePermission::ByQueue(vec!["arn:aws:sqs:us-east-1:000000000000:src".into()]),
        ),
    ] {
        let p = RedrivePermission::parse(json).unwrap();
        assert_eq!(p, want);
        assert_eq!(p.to_json(), json);
        let a = create("q", &[("RedriveAllowPolicy", json)]).unwrap();
        assert_eq!(a.to_map()["RedriveAllowPolicy"], json);
    }
    let ten: Vec<String> = (0..10)
        .map(|i| format!("\"arn:aws:sqs:us-east-1:000000000000:s{i}\""))
        .collect();
    let eleven = format!(
        "{},\"arn:aws:sqs:us-east-1:000000000000:s10\"",
        ten.join(",")
    );
    let ten = ten.join(",");
    assert!(RedrivePermission::parse(&format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{ten}]}}"#
    ))
    .is_ok());
    for bad in [
        format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{eleven}]}}"#),
        r#"{"redrivePermission":"byQueue"}"#.into(),
        r#"{"redrivePermission":"byQueue","sourceQueueArns":[]}"#.into(),
        r#"{"redrivePermission":"byQueue","sourceQueueArns":["nope"]}"#.into(),
        r#"{"redrivePermission":"byQueue","sourceQueueArns":[1]}"#.into(),
        r#"{"redrivePermission":"byQueue","sourceQueueArns":"x"}"#.into(),
        r#"{"redrivePermission":"allowAll","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:s"]}"#.into(),
        r#"{"redrivePermission":"AllowAll"}"#.into(),
        r#"{"redrivePermission":"allowAll","extra":1}"#.into(),
        r"{}".into(),
        "allowAll".into(),
    ] {
        assert!(
            is_value_err(&create("q", &[("RedriveAllowPolicy", &bad)]), "RedriveAllowPolicy"),
            "{bad}"
        );
    }
    let p = RedrivePermission::ByQueue(vec![DLQ.into()]);
    assert!(p.allows(DLQ) && !p.allows(DLQ_FIFO));
    assert!(RedrivePermission::AllowAll.allows(DLQ));
    assert!(!RedrivePermission::DenyAll.allows(DLQ));
}

#[test]
fn policy_and_kms() {
    let policy = r#"{ "Version": "2012-10-17", "Statement": [] }"#;
    let a = create("q", &[("Policy", policy)]).unwrap();
    assert_eq!(a.policy.as_deref(), Some(policy)); // verbatim
    assert_eq!(a.to_map()["Policy"], policy);
    for bad in ["{", "[1]", "\"s\"", "null"] {
        assert!(is_value_err(&create("q", &[("Policy", bad)]), "Policy"));
    }
    assert_eq!(a.apply_set(&map(&[("Policy", "")])).unwrap().policy, None);

    // KMS key: SQS-managed SSE off, reuse period defaults to 300.
    let k = create("q", &[("KmsMasterKeyId", "alias/aws/sqs")]).unwrap();
    assert!(!k.sqs_managed_sse_enabled);
    assert_eq!(k.kms_data_key_reuse_period_s, Some(300));
    let m = k.to_map();
    assert_eq!(m["SqsManagedSseEnabled"], "false");
    assert_eq!(m["KmsDataKeyReusePeriodSeconds"], "300");
    // Both SSE types at once is a conflict.
    assert!(is_value_err(
        &create(
            "q",
            &[("KmsMasterKeyId", "k"), ("SqsManagedSseEnabled", "true")]
        ),
        "SqsManagedSseEnabled"
    ));
    assert!(is_value_err(
        &k.apply_set(&map(&[("SqsManagedSseEnabled", "true")])),
        "SqsManagedSseEnabled"
    ));
    // Switching back to SQS SSE in one request.
    let back = k
        .apply_set(&map(&[
            ("KmsMasterKeyId", ""),
            ("SqsManagedSseEnabled", "true"),
        ]))
        .unwrap();
    assert_eq!(back.kms_master_key_id, None);
    assert_eq!(back.kms_data_key_reuse_period_s, None);
    assert!(back.sqs_managed_sse_enabled);
    // Setting a key on an SQS-SSE queue switches SSE type.
    let to_kms = QueueAttributes::default()
        .apply_set(&map(&[("KmsMasterKeyId", "k")]))
        .unwrap();
    assert!(!to_kms.sqs_managed_sse_enabled);
    assert!(is_value_err(
        &create("q", &[("KmsMasterKeyId", "a\u{0}b")]),
        "KmsMasterKeyId"
    ));
    assert!(is_value_err(
        &create("q", &[("SqsManagedSseEnabled", "yes")]),
        "SqsManagedSseEnabled"
    ));
}

#[test]
fn set_attributes_is_all_or_nothing() {
    let base = create("q", &[("VisibilityTimeout", "10")]).unwrap();
    let snapshot = base.clone();
    // DelaySeconds (sorted first) is valid, VisibilityTimeout is not: nothing applies.
    let r = base.apply_set(&map(&[("DelaySeconds", "5"), ("VisibilityTimeout", "-1")]));
    assert!(is_value_err(&r, "VisibilityTimeout"));
    assert_eq!(base, snapshot);
    let r = base.apply_set(&map(&[("DelaySeconds", "5"), ("QueueArn", "x")]));
    assert_eq!(r, Err(name_err("QueueArn")));
    assert_eq!(base, snapshot);

    let ok = base
        .apply_set(&map(&[("DelaySeconds", "5"), ("VisibilityTimeout", "60")]))
        .unwrap();
    assert_eq!((ok.delay_s, ok.visibility_timeout_s), (5, 60));
    assert_eq!(ok.message_retention_s, base.message_retention_s);
    assert_eq!(base.apply_set(&BTreeMap::new()), Ok(base.clone()));
}

#[test]
fn check_same_for_idempotent_create() {
    let existing = create("q", &[("VisibilityTimeout", "60"), ("DelaySeconds", "5")]).unwrap();
    assert_eq!(existing.check_same(&BTreeMap::new(), "q"), Ok(()));
    assert_eq!(
        existing.check_same(&map(&[("VisibilityTimeout", "60")]), "q"),
        Ok(())
    );
    // Explicitly naming a default that matches is fine.
    assert_eq!(
        existing.check_same(&map(&[("MessageRetentionPeriod", "345600")]), "q"),
        Ok(())
    );
    let e = existing
        .check_same(
            &map(&[("DelaySeconds", "6"), ("VisibilityTimeout", "61")]),
            "q",
        )
        .unwrap_err();
    assert_eq!(
        e,
        AttrError::DifferentAttributes {
            name: "DelaySeconds"
        }
    );
    // Invalid requests fail as CreateQueue would.
    assert_eq!(
        existing.check_same(&map(&[("Nope", "1")]), "q"),
        Err(name_err("Nope"))
    );
    // Semantically equal JSON is the same.
    let with_policy = create("q", &[("Policy", r#"{"a":1,"b":2}"#)]).unwrap();
    assert_eq!(
        with_policy.check_same(&map(&[("Policy", r#"{ "b":2, "a":1 }"#)]), "q"),
        Ok(())
    );
    let rp = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5}}"#);
    let with_dlq = create("q", &[("RedrivePolicy", &rp)]).unwrap();
    let rp_str = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":"5"}}"#);
    assert_eq!(
        with_dlq.check_same(&map(&[("RedrivePolicy", &rp_str)]), "q"),
        Ok(())
    );
    assert!(with_dlq
        .check_same(&map(&[("RedrivePolicy", "")]), "q")
        .is_err());
    let fifo = create("q.fifo", &[("FifoQueue", "true")]).unwrap();
    assert_eq!(fifo.check_same(&fifo.to_map(), "q.fifo"), Ok(()));
    assert_eq!(
        fifo.check_same(
            &map(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
            "q.fifo"
        ),
        Err(AttrError::DifferentAttributes {
            name: "ContentBasedDeduplication"
        })
    );
}

#[test]
fn serde_round_trip() {
    let a = create(
        "q.fifo",
        &[
            ("FifoQueue", "true"),
            (
                "RedrivePolicy",
                &format!(r#"{{"deadLetterTargetArn":"{DLQ_FIFO}","maxReceiveCount":2}}"#),
            ),
        ],
    )
    .unwrap();
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<QueueAttributes>(&json).unwrap(), a);
}

// ---- property tests ----

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(ALL_ATTRIBUTE_NAMES).prop_map(str::to_string),
        1 => ".{0,20}",
    ]
}

fn arb_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("true".to_string()),
        Just("false".to_string()),
        "[0-9]{1,8}",
        "[-+ ]?[0-9]{1,25}",
        Just("queue".to_string()),
        Just("messageGroup".to_string()),
        Just("perMessageGroupId".to_string()),
        (
            0u32..2000,
            prop_oneof![Just(DLQ), Just(DLQ_FIFO), Just("x")]
        )
            .prop_map(|(n, arn)| {
                format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{n}}}"#)
            }),
        Just(r#"{"redrivePermission":"byQueue","sourceQueueArns":[]}"#.to_string()),
        "\\PC{0,40}",
        ".{0,40}",
    ]
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("q".to_string()),
        Just("q.fifo".to_string()),
        "[A-Za-z0-9_.-]{0,90}",
        ".{0,10}",
    ]
}

fn arb_valid_attrs() -> impl Strategy<Value = QueueAttributes> {
    let numbers = (
        VISIBILITY_TIMEOUT_RANGE_S,
        MESSAGE_RETENTION_RANGE_S,
        MAXIMUM_MESSAGE_SIZE_RANGE_BYTES,
        DELAY_RANGE_S,
        RECEIVE_WAIT_TIME_RANGE_S,
    );
    let fifo_part = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
    let optionals = (
        proptest::option::of((MAX_RECEIVE_COUNT_RANGE, "[a-z0-9_-]{1,20}")),
        proptest::option::of(prop_oneof![
            Just(RedrivePermission::AllowAll),
            Just(RedrivePermission::DenyAll),
            proptest::collection::vec("[a-z]{1,10}", 1..=10).prop_map(|names| {
                RedrivePermission::ByQueue(
                    names
                        .into_iter()
                        .map(|n| format!("arn:aws:sqs:eu-west-1:123456789012:{n}"))
                        .collect(),
                )
            }),
        ]),
        proptest::option::of(Just(
            r#"{"Version":"2012-10-17","Statement":[]}"#.to_string(),
        )),
        proptest::option::of(("[a-z/0-9-]{1,30}", KMS_DATA_KEY_REUSE_RANGE_S)),
        any::<bool>(),
    );
    (numbers, fifo_part, optionals).prop_map(
        |(
            (vis, ret, size, delay, wait),
            (fifo, cbd, group_scope, per_group),
            (redrive, allow, policy, kms, sqs_sse),
        )| {
            let suffix = if fifo { ".fifo" } else { "" };
            let mut a = QueueAttributes::default_for(fifo);
            a.visibility_timeout_s = vis;
            a.message_retention_s = ret;
            a.maximum_message_size = size;
            a.delay_s = delay;
            a.receive_wait_time_s = wait;
            a.redrive_policy = redrive.map(|(n, dlq)| RedrivePolicy {
                dead_letter_target_arn: format!("arn:aws:sqs:us-east-1:000000000000:{dlq}{suffix}"),
                max_receive_count: n,
            });
            a.redrive_allow_policy = allow;
            a.policy = policy;
            if fifo {
                a.content_based_dedup = cbd;
                if group_scope {
                    a.dedup_scope = Some(DeduplicationScope::MessageGroup);
                    if per_group {
                        a.fifo_throughput_limit = Some(FifoThroughputLimit::PerMessageGroupId);
                    }
                }
            }
            match kms {
                Some((key, reuse)) => {
                    a.kms_master_key_id = Some(key);
                    a.kms_data_key_reuse_period_s = Some(reuse);
                    a.sqs_managed_sse_enabled = false;
                }
                None => a.sqs_managed_sse_enabled = sqs_sse,
            }
            a
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_maps_never_panic(
        name in arb_name(),
        m in proptest::collection::btree_map(arb_key(), arb_value(), 0..6),
    ) {
        let created = QueueAttributes::for_create(&name, &m);
        if let Ok(a) = &created {
            // Whatever was accepted reports back to the same queue.
            prop_assert_eq!(QueueAttributes::for_create(&name, &a.to_map()), Ok(a.clone()));
            prop_assert_eq!(a.check_same(&m, &name), Ok(()));
        }
        for base in [QueueAttributes::default(), QueueAttributes::default_for(true)] {
            let before = base.clone();
            let _ = base.apply_set(&m);
            prop_assert_eq!(&base, &before);
            let _ = base.check_same(&m, &name);
        }
        let _ = validate_queue_name(&name, true);
        let _ = queue_name_from_arn(&name);
        for v in m.values() {
            let _ = RedrivePolicy::parse(v, false);
            let _ = RedrivePermission::parse(v);
        }
    }

    #[test]
    fn to_map_round_trips(a in arb_valid_attrs()) {
        let name = if a.fifo { "queue-1.fifo" } else { "queue-1" };
        let m = a.to_map();
        prop_assert_eq!(QueueAttributes::for_create(name, &m), Ok(a.clone()));
        prop_assert_eq!(a.check_same(&m, name), Ok(()));
        // Setting a queue's own attributes on a fresh queue of the same type rebuilds it.
        prop_assert_eq!(QueueAttributes::default_for(a.fifo).apply_set(&m), Ok(a.clone()));
        prop_assert_eq!(a.apply_set(&m), Ok(a.clone()));
    }
}
