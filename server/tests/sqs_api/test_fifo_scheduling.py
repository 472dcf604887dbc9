"""FIFO scheduling and placement as SQS does them (issue 17): one receive serves the group
holding the oldest available message first, as much of it as it can; deduplication covers
the whole queue in the default mode (and each group in high-throughput mode), whichever
shard a connection lands on; ReceiveRequestAttemptId; SequenceNumber's shape."""

import pytest

import sqs_helpers as h

HIGH_THROUGHPUT = {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}


def send_all(client, url, items):
    for group, body in items:
        client.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)


def bodies(resp):
    return [m["Body"] for m in resp.get("Messages", [])]


@pytest.mark.parametrize("wire", ["json", "query"])
def test_one_receive_serves_the_oldest_group_first(sqs, sqs_query, make_queue, wire):
    client = sqs if wire == "json" else sqs_query
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(client, url, [("g1", "g1-m1"), ("g2", "g2-m1"), ("g1", "g1-m2"), ("g1", "g1-m3")])
    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert bodies(got) == ["g1-m1", "g1-m2", "g1-m3", "g2-m1"]


def test_every_client_sees_every_group_and_the_locks(endpoint, make_queue):
    # Several clients: the daemon deals their connections over its shards.
    clients = [h.json_client(endpoint) for _ in range(4)]
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(clients[0], url, [("a", "a-1"), ("b", "b-1"), ("c", "c-1"), ("a", "a-2")])
    assert bodies(clients[1].receive_message(QueueUrl=url, MaxNumberOfMessages=2)) == ["a-1", "a-2"]
    assert bodies(clients[2].receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["b-1", "c-1"]
    for c in clients:
        assert bodies(c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == []
    attrs = clients[3].get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "4"


def test_queue_scope_deduplication_spans_groups(endpoint, make_queue):
    clients = [h.json_client(endpoint) for _ in range(4)]
    url = make_queue(fifo=True)
    for i, c in enumerate(clients):
        c.send_message(QueueUrl=url, MessageBody=f"from {i}", MessageGroupId=f"g{i}", MessageDeduplicationId="same")
    got = clients[0].receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert bodies(got) == ["from 0"]


def test_message_group_scope_deduplicates_per_group_and_survives_a_mode_switch(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="q1", MessageGroupId="g1", MessageDeduplicationId="d")
    sqs.set_queue_attributes(QueueUrl=url, Attributes=HIGH_THROUGHPUT)
    # Per group now: the same id in another group is a new message, in g1 still a duplicate.
    sqs.send_message(QueueUrl=url, MessageBody="q2", MessageGroupId="g2", MessageDeduplicationId="d")
    sqs.send_message(QueueUrl=url, MessageBody="q3", MessageGroupId="g1", MessageDeduplicationId="d")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"})
    # Queue scope again: any group's earlier "d" makes it a duplicate.
    sqs.send_message(QueueUrl=url, MessageBody="q4", MessageGroupId="g3", MessageDeduplicationId="d")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert bodies(got) == ["q1", "q2"]


def test_an_earlier_message_visible_again_is_received_while_a_later_one_is_in_flight(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(sqs, url, [("a", "a-1"), ("a", "a-2"), ("a", "a-3")])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [m["Body"] for m in got] == ["a-1", "a-2"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["a-1"]


def test_visibility_timeout_zero_still_returns_a_group_back_to_back(sqs, make_queue):
    url = make_queue(fifo=True)
    send_all(sqs, url, [("a", "a-1"), ("b", "b-1"), ("a", "a-2")])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert bodies(got) == ["a-1", "a-2", "b-1"]


def test_a_retried_receive_attempt_returns_the_same_messages_and_handles(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(sqs, url, [("a", "a-1"), ("a", "a-2"), ("b", "b-1")])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [m["Body"] for m in again] == ["a-1", "a-2"]
    assert [m["ReceiptHandle"] for m in again] == [m["ReceiptHandle"] for m in first]
    assert [m["MessageId"] for m in again] == [m["MessageId"] for m in first]
    # Another attempt id is a new receive.
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-2")) == [
        "b-1"
    ]
    # The handles of the retried attempt still work.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])


def test_a_receive_attempt_whose_message_was_deleted_is_a_new_receive(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(sqs, url, [("a", "a-1"), ("a", "a-2")])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, ReceiveRequestAttemptId="t")["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, ReceiveRequestAttemptId="t")) == ["a-2"]


def test_a_receive_attempt_whose_visibility_changed_is_a_new_receive(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(sqs, url, [("a", "a-1")])
    first = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="t")["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="t")["Messages"]
    assert [m["Body"] for m in again] == ["a-1"]
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]


def test_sequence_numbers_are_20_digit_decimals_increasing_within_a_group(sqs, make_queue):
    url = make_queue(fifo=True)
    seqs = [
        sqs.send_message(QueueUrl=url, MessageBody=str(i), MessageGroupId="g", MessageDeduplicationId=str(i))[
            "SequenceNumber"
        ]
        for i in range(3)
    ]
    assert all(len(s) == 20 and s.isdigit() for s in seqs), seqs
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["SequenceNumber"])
    assert [m["Attributes"]["SequenceNumber"] for m in got["Messages"]] == seqs


def test_a_receive_attempt_whose_message_was_received_again_is_a_new_receive(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"VisibilityTimeout": "60"})
    send_all(sqs, url, [("a", "a-1")])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=1, ReceiveRequestAttemptId="t")
    assert bodies(first) == ["a-1"]
    # Its visibility runs out (a long poll waits for it) and another receive takes it.
    other = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3)
    assert bodies(other) == ["a-1"]
    retry = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, ReceiveRequestAttemptId="t")
    # Not the stale handle of the first attempt: a new receive (everything is in flight).
    assert [m["ReceiptHandle"] for m in retry.get("Messages", [])] != [
        m["ReceiptHandle"] for m in first["Messages"]
    ]
