"""Dead-letter queues, ListDeadLetterSourceQueues and message move tasks (JSON protocol)."""

import json

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h


def _redrive(sqs, src, dlq_arn, max_receive=1):
    sqs.set_queue_attributes(
        QueueUrl=src,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})},
    )


def _dead_letter_one(sqs, src, body):
    """Send, receive once with a 1 s visibility, then long-poll the source: the second
    receive exceeds maxReceiveCount 1, so SQS moves the message to the DLQ instead."""
    sqs.send_message(QueueUrl=src, MessageBody=body)
    first = h.receive_all(sqs, src, 1, VisibilityTimeout=1)
    assert [m["Body"] for m in first] == [body]
    second = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=3).get("Messages", [])
    assert second == [], f"message was delivered a second time instead of moving to the DLQ: {second}"
    return first[0]


def test_message_moves_to_dlq_with_source_arn(sqs, make_queue, arn_of):
    dlq = make_queue("dlq")
    src = make_queue("src")
    src_arn = arn_of(src)
    _redrive(sqs, src, arn_of(dlq))
    original = _dead_letter_one(sqs, src, "poison")
    msgs = h.receive_all(sqs, dlq, 1, MessageSystemAttributeNames=["All"])
    assert len(msgs) == 1
    m = msgs[0]
    assert m["Body"] == "poison"
    assert m["MessageId"] == original["MessageId"]
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
    # asked for by name too
    sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = h.receive_all(sqs, dlq, 1, MessageSystemAttributeNames=["DeadLetterQueueSourceArn"])
    assert again[0]["Attributes"] == {"DeadLetterQueueSourceArn": src_arn}


def test_list_dead_letter_source_queues(sqs, make_queue, arn_of):
    dlq = make_queue("dlq")
    srcs = sorted(make_queue("src") for _ in range(3))
    for s in srcs:
        _redrive(sqs, s, arn_of(dlq), 3)
    assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == srcs
    page = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    assert len(page["queueUrls"]) == 2 and page.get("NextToken")
    rest = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2, NextToken=page["NextToken"])
    assert sorted(page["queueUrls"] + rest["queueUrls"]) == srcs
    assert not rest.get("NextToken")
    other = make_queue("notdlq")
    assert sqs.list_dead_letter_source_queues(QueueUrl=other).get("queueUrls", []) == []


def test_list_dead_letter_source_queues_missing_queue(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.list_dead_letter_source_queues(QueueUrl=f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('nope')}")
    h.assert_error(ei, "QueueDoesNotExist")


def _tasks(sqs, source_arn):
    return sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])


def test_move_task_redrives_back_to_source(sqs, make_queue, arn_of):
    dlq = make_queue("dlq")
    src = make_queue("src")
    dlq_arn = arn_of(dlq)
    _redrive(sqs, src, dlq_arn)
    _dead_letter_one(sqs, src, "bring me back")
    assert h.wait_for(lambda: h.queue_attrs(sqs, dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1", 5)

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    back = h.receive_all(sqs, src, 1)
    assert [m["Body"] for m in back] == ["bring me back"]
    sqs.delete_message(QueueUrl=src, ReceiptHandle=back[0]["ReceiptHandle"])

    done = h.wait_for(lambda: [t for t in _tasks(sqs, dlq_arn) if t["Status"] == "COMPLETED"], 10)
    assert done, _tasks(sqs, dlq_arn)
    t = done[0]
    assert t["SourceArn"] == dlq_arn
    assert t["ApproximateNumberOfMessagesMoved"] == 1
    assert isinstance(t["StartedTimestamp"], int) and t["StartedTimestamp"] > 10**12  # epoch ms
    assert h.queue_attrs(sqs, dlq, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "0"}


def test_move_task_one_at_a_time_and_cancel(sqs, make_queue, arn_of):
    dlq = make_queue("dlq")
    src = make_queue("src")
    dest = make_queue("dest")
    dlq_arn = arn_of(dlq)
    _redrive(sqs, src, dlq_arn, 5)
    sqs.send_message_batch(QueueUrl=dlq, Entries=[{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(10)])
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(dest), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    running = _tasks(sqs, dlq_arn)
    assert running and running[0]["Status"] == "RUNNING", running
    assert running[0]["TaskHandle"] == handle
    assert running[0]["DestinationArn"] == arn_of(dest)
    assert running[0]["MaxNumberOfMessagesPerSecond"] == 1
    # a second task on the same source while one runs is refused
    with pytest.raises(ClientError) as ei:
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(dest))
    code, status, _ = h.error_of(ei.value)
    assert code in ("InvalidParameterValue", "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"), ei.value.response
    assert status == 400
    resp = sqs.cancel_message_move_task(TaskHandle=handle)
    moved = resp["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved < 10
    final = h.wait_for(lambda: [t for t in _tasks(sqs, dlq_arn) if t["Status"] == "CANCELLED"], 10)
    assert final, _tasks(sqs, dlq_arn)
    left = int(h.queue_attrs(sqs, dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])
    assert left >= 10 - moved - 1 and left > 0


def test_cancel_unknown_move_task(sqs):
    with pytest.raises(ClientError) as ei:
        sqs.cancel_message_move_task(TaskHandle="bm9zdWNodGFzaw==")
    h.assert_error(ei, "ResourceNotFoundException")


def test_move_task_source_must_be_dlq(sqs, make_queue, arn_of):
    plain = make_queue("plain")
    with pytest.raises(ClientError) as ei:
        sqs.start_message_move_task(SourceArn=arn_of(plain))
    code, status, _ = h.error_of(ei.value)
    assert code in ("InvalidParameterValue", "AWS.SimpleQueueService.UnsupportedOperation"), ei.value.response
    assert status == 400


def test_list_move_tasks_unknown_source(sqs):
    with pytest.raises(ClientError) as ei:
        sqs.list_message_move_tasks(SourceArn=f"arn:aws:sqs:us-east-1:{h.DEFAULT_ACCOUNT}:{h.unique('nope')}")
    h.assert_error(ei, "ResourceNotFoundException")


# ---- RedrivePolicy checks against the catalog (issue 17)


def _policy(arn, max_receive=3):
    return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive})


def _missing_arn(arn_of, url):
    """An ARN of this daemon's region and account naming a queue that does not exist."""
    return arn_of(url).rsplit(":", 1)[0] + ":" + h.unique("nope")


def test_redrive_policy_naming_a_missing_queue_is_refused_on_create(sqs, make_queue, arn_of):
    policy = _policy(_missing_arn(arn_of, make_queue()))
    name = h.unique("src")
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})
    h.assert_error(
        ei,
        "InvalidParameterValue",
        message=f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.",
    )
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_url(QueueName=name)
    h.assert_error(ei, "QueueDoesNotExist")


def test_redrive_policy_naming_a_missing_queue_is_refused_on_set(sqs, make_queue, arn_of):
    src = make_queue("src")
    policy = _policy(_missing_arn(arn_of, src))
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy, "DelaySeconds": "5"})
    h.assert_error(
        ei,
        "InvalidParameterValue",
        message=f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.",
    )
    attrs = h.queue_attrs(sqs, src, "All")
    assert "RedrivePolicy" not in attrs and attrs["DelaySeconds"] == "0", "nothing of the request applied"


def test_redrive_policy_naming_a_missing_queue_is_refused_in_the_query_form(sqs_query, make_queue, arn_of):
    src = make_queue("src")
    policy = _policy(_missing_arn(arn_of, src))
    with pytest.raises(ClientError) as ei:
        sqs_query.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy})
    h.assert_error(
        ei,
        "InvalidParameterValue",
        json_protocol=False,
        message=f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.",
    )


def _dlq_allowing(make_queue, allow):
    return make_queue("dlq", attributes={"RedriveAllowPolicy": json.dumps(allow)})


def test_redrive_allow_policy_deny_all_refuses_every_source(sqs, make_queue, arn_of):
    dlq = _dlq_allowing(make_queue, {"redrivePermission": "denyAll"})
    src = make_queue("src")
    policy = _policy(arn_of(dlq))
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy})
    err = h.assert_error(ei, "InvalidParameterValue")
    assert err["Message"].startswith(f"Value {policy} for parameter RedrivePolicy is invalid. Reason: "), err
    assert arn_of(src) in err["Message"] and arn_of(dlq) in err["Message"], err
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=h.unique("src"), Attributes={"RedrivePolicy": policy})
    h.assert_error(ei, "InvalidParameterValue")
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq).get("queueUrls", []) == []


def test_redrive_allow_policy_by_queue_admits_only_the_listed_sources(sqs, make_queue, arn_of):
    listed = make_queue("listed")
    other = make_queue("other")
    dlq = _dlq_allowing(make_queue, {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(listed)]})
    policy = _policy(arn_of(dlq))
    sqs.set_queue_attributes(QueueUrl=listed, Attributes={"RedrivePolicy": policy})
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=other, Attributes={"RedrivePolicy": policy})
    err = h.assert_error(ei, "InvalidParameterValue")
    assert arn_of(other) in err["Message"], err
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [listed]


def test_redrive_allow_policy_allow_all_admits_any_source(sqs, make_queue, arn_of):
    dlq = _dlq_allowing(make_queue, {"redrivePermission": "allowAll"})
    policy = _policy(arn_of(dlq))
    src = make_queue("src")
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy})
    created = sqs.create_queue(QueueName=h.unique("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == sorted([src, created])


def test_a_dead_letter_keeps_its_receive_count(sqs, make_queue, arn_of):
    dlq = make_queue("dlq")
    src = make_queue("src")
    _redrive(sqs, src, arn_of(dlq), 1)
    _dead_letter_one(sqs, src, "counted")
    msgs = h.receive_all(sqs, dlq, 1, MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert len(msgs) == 1
    # One receive from the source, then the first from the dead-letter queue.
    assert msgs[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def _metric(admin_url, name, **labels):
    import re
    import urllib.request

    with urllib.request.urlopen(admin_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_a_deleted_dead_letter_queue_leaves_the_message_delivered_and_counted(sqs, daemon, make_queue, arn_of):
    dlq = make_queue("dlq")
    src = make_queue("src")
    _redrive(sqs, src, arn_of(dlq), 1)
    sqs.delete_queue(QueueUrl=dlq)
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    counts = []
    for _ in range(3):
        got = h.receive_all(sqs, src, 1, VisibilityTimeout=1, MessageSystemAttributeNames=["ApproximateReceiveCount"])
        assert [m["Body"] for m in got] == ["poison"], "AWS keeps delivering it from its queue"
        counts.append(got[0]["Attributes"]["ApproximateReceiveCount"])
    assert counts == ["1", "2", "3"]
    # The policy still names the deleted queue (as on AWS).
    assert json.loads(h.queue_attrs(sqs, src, "RedrivePolicy")["RedrivePolicy"])["deadLetterTargetArn"] == arn_of(src).rsplit(
        ":", 1
    )[0] + ":" + dlq.rsplit("/", 1)[1]
    name = src.rsplit("/", 1)[1]
    # Each shard adds what it saw on its next tick (10 ms).
    h.wait_for(lambda: _metric(daemon.admin_url, "spool_dead_letter_queue_missing_total", queue=name) == 2, 5)
    seen = _metric(daemon.admin_url, "spool_dead_letter_queue_missing_total", queue=name)
    assert seen == 2, "the 2nd and 3rd receives were past maxReceiveCount 1"
    # Logged, but at most once a minute per queue: one warning for the two receives.
    warnings = [l for l in daemon.stderr_text().splitlines() if "dead-letter queue" in l and f"queue={name}" in l]
    assert len(warnings) == 1, warnings
