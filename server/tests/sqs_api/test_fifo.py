"""FIFO queues through the AWS JSON 1.0 protocol."""

import hashlib

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h


def test_fifo_requires_message_group_id(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    h.assert_error(ei, "MissingParameter", message="The request must contain the parameter MessageGroupId.")


def test_fifo_requires_dedup_id_without_content_based_dedup(sqs, make_queue):
    url = make_queue(fifo=True)
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    h.assert_error(
        ei,
        "InvalidParameterValue",
        message="The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    )


def test_fifo_rejects_per_message_delay(sqs, make_queue):
    url = make_queue(fifo=True)
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d", DelaySeconds=2)
    h.assert_error(ei, "InvalidParameterValue")


def test_fifo_dedup_by_deduplication_id(sqs, make_queue):
    url = make_queue(fifo=True)
    r1 = sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g", MessageDeduplicationId="dup-1")
    r2 = sqs.send_message(QueueUrl=url, MessageBody="second", MessageGroupId="g", MessageDeduplicationId="dup-1")
    # duplicates are accepted (they get a MessageId) but not delivered
    assert r1["MessageId"] and r2["MessageId"]
    assert r1["MD5OfMessageBody"] == h.md5_hex("first")
    sqs.send_message(QueueUrl=url, MessageBody="third", MessageGroupId="g", MessageDeduplicationId="dup-2")
    msgs = h.drain_fifo(sqs, url, 2)
    assert [m["Body"] for m in msgs] == ["first", "third"]
    # dedup id is remembered even after the message was deleted
    sqs.send_message(QueueUrl=url, MessageBody="again", MessageGroupId="g", MessageDeduplicationId="dup-1")
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_fifo_content_based_dedup(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")
    msgs = h.drain_fifo(sqs, url, 2, AttributeNames=["All"])
    assert [m["Body"] for m in msgs] == ["same body", "other body"]
    # content-based dedup id: SHA-256 of the body
    assert msgs[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same body").hexdigest()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_fifo_order_within_group_across_batches(sqs, make_queue):
    url = make_queue(fifo=True)
    seqs = []
    n = 0
    for b in range(3):
        entries = []
        for _ in range(10):
            entries.append({"Id": f"e{n}", "MessageBody": f"msg-{n:03d}", "MessageGroupId": "grp", "MessageDeduplicationId": f"d{n}"})
            n += 1
        resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert resp.get("Failed", []) == []
        by_id = {e["Id"]: e for e in resp["Successful"]}
        for e in entries:
            assert by_id[e["Id"]]["SequenceNumber"].isdigit()
            seqs.append(int(by_id[e["Id"]]["SequenceNumber"]))
    single = sqs.send_message(QueueUrl=url, MessageBody="msg-030", MessageGroupId="grp", MessageDeduplicationId="d30")
    seqs.append(int(single["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs

    bodies = []
    recv_seqs = []
    for _ in range(40):  # bounded: 31 messages, at least one per receive
        if len(bodies) == 31:
            break
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2, AttributeNames=["All"])
        msgs = resp.get("Messages", [])
        for m in msgs:
            bodies.append(m["Body"])
            recv_seqs.append(int(m["Attributes"]["SequenceNumber"]))
            assert m["Attributes"]["MessageGroupId"] == "grp"
        if msgs:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
            )
    assert bodies == [f"msg-{i:03d}" for i in range(31)]
    assert recv_seqs == seqs


def test_fifo_group_is_locked_while_in_flight(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    for body in ("a1", "a2", "a3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="A")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="B")
    more = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    # a2 never overtakes a1 while a1 is in flight; other groups go on
    assert [m["Body"] for m in more] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    # once a1 is gone, one receive takes the rest of group A, in order (as SQS does)
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in rest] == ["a2", "a3"]


def test_fifo_sequence_number_and_system_attributes(sqs, make_queue):
    url = make_queue(fifo=True)
    r = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d1")
    assert r["SequenceNumber"].isdigit()
    m = h.receive_all(sqs, url, 1, MessageSystemAttributeNames=["All"])[0]
    a = m["Attributes"]
    assert a["MessageGroupId"] == "g1"
    assert a["MessageDeduplicationId"] == "d1"
    assert a["SequenceNumber"] == r["SequenceNumber"]


def test_fifo_queue_attributes(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    a = h.queue_attrs(sqs, url)
    assert a["FifoQueue"] == "true"
    assert a["ContentBasedDeduplication"] == "true"
    assert a["QueueArn"].endswith(".fifo")
    assert a["DeduplicationScope"] == "queue"
    assert a["FifoThroughputLimit"] == "perQueue"


def test_fifo_delete_with_expired_handle(sqs, make_queue):
    url = make_queue(fifo=True)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    first = h.receive_all(sqs, url, 1, VisibilityTimeout=1)[0]
    second = h.receive_all(sqs, url, 1)[0]
    assert second["MessageId"] == first["MessageId"]
    with pytest.raises(ClientError) as ei:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    err = h.assert_error(ei, "InvalidParameterValue")
    assert "expired" in err["Message"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])


def test_fifo_dlq_must_be_fifo(sqs, make_queue, arn_of):
    std_dlq = make_queue("dlq")
    src = make_queue(fifo=True)
    import json

    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(
            QueueUrl=src,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn_of(std_dlq), "maxReceiveCount": 1})},
        )
    code, status, _ = h.error_of(ei.value)
    assert code in ("InvalidParameterValue", "InvalidAttributeValue"), ei.value.response
    assert status == 400


def test_fifo_accepts_zero_per_message_delay(sqs, make_queue):
    # AWS refuses only a non-zero per-message DelaySeconds on a FIFO queue.
    url = make_queue(fifo=True)
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d1", DelaySeconds=0)
    msgs = h.drain_fifo(sqs, url, 1)
    assert [m["Body"] for m in msgs] == ["one"]


def test_fifo_batch_accepts_zero_per_message_delay(sqs, make_queue):
    url = make_queue(fifo=True)
    entries = [
        {"Id": "a", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "a", "DelaySeconds": 0},
        {"Id": "b", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "b", "DelaySeconds": 3},
    ]
    resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [s["Id"] for s in resp["Successful"]] == ["a"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in resp["Failed"]] == [("b", "InvalidParameterValue", True)]
    msgs = h.drain_fifo(sqs, url, 1)
    assert [m["Body"] for m in msgs] == ["a"]


def test_fifo_purge_clears_the_deduplication_window(sqs, make_queue):
    # Groups spread over the queue's partitions/shards; the purge forgets every id.
    url = make_queue(fifo=True)
    groups = [f"g{i}" for i in range(8)]
    for g in groups:
        sqs.send_message(QueueUrl=url, MessageBody=f"before-{g}", MessageGroupId=g, MessageDeduplicationId=f"id-{g}")
    sqs.purge_queue(QueueUrl=url)
    for g in groups:
        sqs.send_message(QueueUrl=url, MessageBody=f"after-{g}", MessageGroupId=g, MessageDeduplicationId=f"id-{g}")
    msgs = h.drain_fifo(sqs, url, len(groups))
    assert sorted(m["Body"] for m in msgs) == sorted(f"after-{g}" for g in groups)


def test_fifo_purge_clears_the_deduplication_window_in_high_throughput_mode(sqs, make_queue):
    url = make_queue(
        fifo=True,
        attributes={"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"},
    )
    groups = [f"g{i}" for i in range(8)]
    for g in groups:
        sqs.send_message(QueueUrl=url, MessageBody=f"before-{g}", MessageGroupId=g, MessageDeduplicationId="same")
    sqs.purge_queue(QueueUrl=url)
    for g in groups:
        sqs.send_message(QueueUrl=url, MessageBody=f"after-{g}", MessageGroupId=g, MessageDeduplicationId="same")
    msgs = h.drain_fifo(sqs, url, len(groups))
    assert sorted(m["Body"] for m in msgs) == sorted(f"after-{g}" for g in groups)
