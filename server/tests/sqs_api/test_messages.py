"""Message actions through the AWS JSON 1.0 protocol (boto3 default)."""

import json
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

ATTRS = {
    "s": {"DataType": "String", "StringValue": "héllo"},
    "n": {"DataType": "Number", "StringValue": "-12.5e3"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
    "custom": {"DataType": "String.custom-label", "StringValue": "x"},
    "bin.custom": {"DataType": "Binary.png", "BinaryValue": b"\x89PNG"},
}


# ---- SendMessage


def test_send_message_md5_and_id(sqs, make_queue):
    url = make_queue()
    body = "hello spool"
    resp = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert resp["MD5OfMessageBody"] == h.md5_hex(body)
    assert UUID_RE.match(resp["MessageId"]), resp["MessageId"]
    assert "MD5OfMessageAttributes" not in resp
    assert "MD5OfMessageSystemAttributes" not in resp
    assert "SequenceNumber" not in resp


def test_send_message_attributes_md5(sqs, make_queue):
    url = make_queue()
    resp = sqs.send_message(QueueUrl=url, MessageBody="with attrs", MessageAttributes=ATTRS)
    assert resp["MD5OfMessageBody"] == h.md5_hex("with attrs")
    assert resp["MD5OfMessageAttributes"] == h.md5_of_attributes(ATTRS)
    msgs = h.receive_all(sqs, url, 1, MessageAttributeNames=["All"])
    assert len(msgs) == 1
    m = msgs[0]
    assert m["Body"] == "with attrs"
    assert m["MD5OfBody"] == h.md5_hex("with attrs")
    assert m["MessageAttributes"] == ATTRS
    assert m["MD5OfMessageAttributes"] == h.md5_of_attributes(ATTRS)


def test_send_message_system_attributes_md5(sqs, make_queue):
    url = make_queue()
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}}
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}
    resp = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageAttributes=attrs, MessageSystemAttributes=trace)
    assert resp["MD5OfMessageAttributes"] == h.md5_of_attributes(attrs)
    assert resp["MD5OfMessageSystemAttributes"] == h.md5_of_attributes(trace)
    msgs = h.receive_all(sqs, url, 1, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert msgs[0]["Attributes"] == {"AWSTraceHeader": trace["AWSTraceHeader"]["StringValue"]}


TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def trace_header(sqs):
    """Adds an X-Amzn-Trace-Id HTTP header (as the X-Ray SDK does) to the client's sends."""

    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = TRACE_ID

    for op in ("SendMessage", "SendMessageBatch"):
        sqs.meta.events.register(f"before-sign.sqs.{op}", add)
    yield
    for op in ("SendMessage", "SendMessageBatch"):
        sqs.meta.events.unregister(f"before-sign.sqs.{op}", add)


def test_trace_http_header_becomes_aws_trace_header(sqs, make_queue, trace_header):
    url = make_queue()
    resp = sqs.send_message(QueueUrl=url, MessageBody="traced")
    # The digest covers only the system attributes the request itself carried.
    assert "MD5OfMessageSystemAttributes" not in resp
    msgs = h.receive_all(sqs, url, 1, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert msgs[0]["Attributes"] == {"AWSTraceHeader": TRACE_ID}


def test_trace_http_header_applies_to_every_batch_entry(sqs, make_queue, trace_header):
    url = make_queue()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "a"}, {"Id": "b", "MessageBody": "b"}])
    msgs = h.receive_all(sqs, url, 2, MessageSystemAttributeNames=["All"])
    assert sorted(m["Body"] for m in msgs) == ["a", "b"]
    assert [m["Attributes"]["AWSTraceHeader"] for m in msgs] == [TRACE_ID, TRACE_ID]


def test_aws_trace_header_attribute_wins_over_the_http_header(sqs, make_queue, trace_header):
    # AWS X-Ray guide: when both are set, the message system attribute overrides the header.
    url = make_queue()
    own = "Root=1-00000000-000000000000000000000001;Sampled=0"
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": own}}
    resp = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=trace)
    assert resp["MD5OfMessageSystemAttributes"] == h.md5_of_attributes(trace)
    msgs = h.receive_all(sqs, url, 1, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert msgs[0]["Attributes"] == {"AWSTraceHeader": own}


def test_no_trace_header_means_no_aws_trace_header(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="plain")
    msgs = h.receive_all(sqs, url, 1, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert "AWSTraceHeader" not in msgs[0].get("Attributes", {})


def test_send_to_missing_queue(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('nope')}", MessageBody="x")
    h.assert_error(ei, "QueueDoesNotExist")


@pytest.mark.parametrize(
    "body",
    [
        "plain ascii",
        "héllo wörld — ünïcödé",
        "日本語のメッセージ",
        "astral 😀🎉𝄞 chars \U0010FFFD",
        "tab\tnewline\ncr\r end",
        "\ue000 private use \ufffd",
        '<xml attr="1">&amp; "quotes"</xml>',
    ],
)
def test_unicode_bodies_round_trip(sqs, make_queue, body):
    url = make_queue()
    resp = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert resp["MD5OfMessageBody"] == h.md5_hex(body)
    msgs = h.receive_all(sqs, url, 1)
    assert len(msgs) == 1
    assert msgs[0]["Body"] == body
    assert msgs[0]["MD5OfBody"] == h.md5_hex(body)


@pytest.mark.parametrize("body", ["nul \u0000 char", "bad \uffff char", "bell \u0007", "\ufffe"])
def test_invalid_message_contents(sqs, make_queue, body):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    h.assert_error(ei, "InvalidMessageContents")


def test_message_size_limit(sqs, make_queue):
    url = make_queue()
    ok = "a" * 1048576
    resp = sqs.send_message(QueueUrl=url, MessageBody=ok)
    assert resp["MD5OfMessageBody"] == h.md5_hex(ok)
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1048577)
    h.assert_error(ei, "InvalidParameterValue")
    msgs = h.receive_all(sqs, url, 1)
    assert msgs[0]["Body"] == ok


def test_message_size_limit_counts_attributes(sqs, make_queue):
    url = make_queue()
    attrs = {"k": {"DataType": "String", "StringValue": "v" * 100}}
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1048576, MessageAttributes=attrs)
    h.assert_error(ei, "InvalidParameterValue")


def test_queue_maximum_message_size(sqs, make_queue):
    url = make_queue(attributes={"MaximumMessageSize": "1024"})
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1024)
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1025)
    h.assert_error(ei, "InvalidParameterValue")


def test_ten_attributes_ok_eleven_rejected(sqs, make_queue):
    url = make_queue()
    ten = {f"a{i}": {"DataType": "String", "StringValue": str(i)} for i in range(10)}
    resp = sqs.send_message(QueueUrl=url, MessageBody="ten", MessageAttributes=ten)
    assert resp["MD5OfMessageAttributes"] == h.md5_of_attributes(ten)
    eleven = dict(ten, a10={"DataType": "String", "StringValue": "10"})
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="eleven", MessageAttributes=eleven)
    h.assert_error(ei, "InvalidParameterValue")


@pytest.mark.parametrize(
    "name,value",
    [
        ("AWS.reserved", {"DataType": "String", "StringValue": "x"}),
        ("Amazon.reserved", {"DataType": "String", "StringValue": "x"}),
        ("bad name", {"DataType": "String", "StringValue": "x"}),
        (".leading", {"DataType": "String", "StringValue": "x"}),
        ("double..dot", {"DataType": "String", "StringValue": "x"}),
        ("okname", {"DataType": "Float", "StringValue": "1"}),
        ("okname", {"DataType": "Number", "StringValue": "not-a-number"}),
        ("okname", {"DataType": "String"}),
    ],
)
def test_invalid_message_attributes(sqs, make_queue, name, value):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={name: value})
    h.assert_error(ei, "InvalidParameterValue")


# ---- SendMessageBatch


def test_send_message_batch_success(sqs, make_queue):
    url = make_queue()
    entries = [
        {"Id": f"e{i}", "MessageBody": f"body-{i} ✓", "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}}}
        for i in range(10)
    ]
    resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert resp.get("Failed", []) == []
    by_id = {e["Id"]: e for e in resp["Successful"]}
    assert set(by_id) == {e["Id"] for e in entries}
    for e in entries:
        r = by_id[e["Id"]]
        assert r["MD5OfMessageBody"] == h.md5_hex(e["MessageBody"])
        assert r["MD5OfMessageAttributes"] == h.md5_of_attributes(e["MessageAttributes"])
        assert UUID_RE.match(r["MessageId"])
    msgs = h.receive_all(sqs, url, 10)
    assert sorted(m["Body"] for m in msgs) == sorted(e["MessageBody"] for e in entries)


def test_send_message_batch_partial_failure(sqs, make_queue):
    url = make_queue()
    resp = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good1", "MessageBody": "fine"},
            {"Id": "bad", "MessageBody": "nul \u0000"},
            {"Id": "good2", "MessageBody": "also fine"},
        ],
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(e["Id"] for e in resp["Successful"]) == ["good1", "good2"]
    assert len(resp["Failed"]) == 1
    failed = resp["Failed"][0]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "InvalidMessageContents"
    msgs = h.receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in msgs) == ["also fine", "fine"]


def test_send_message_batch_too_many_entries(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)])
    h.assert_error(ei, "TooManyEntriesInBatchRequest")


def test_send_message_batch_ids_not_distinct(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "same", "MessageBody": "a"}, {"Id": "same", "MessageBody": "b"}])
    h.assert_error(ei, "BatchEntryIdsNotDistinct")


def test_send_message_batch_empty(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    h.assert_error(ei, "EmptyBatchRequest")


@pytest.mark.parametrize("bad_id", ["has space", "x" * 81, "dot.ted", ""])
def test_send_message_batch_invalid_entry_id(sqs, make_queue, bad_id):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": bad_id, "MessageBody": "a"}])
    h.assert_error(ei, "InvalidBatchEntryId")


def test_send_message_batch_too_long(sqs, make_queue):
    url = make_queue()
    entries = [{"Id": f"e{i}", "MessageBody": "a" * (600 * 1024)} for i in range(2)]
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    h.assert_error(ei, "BatchRequestTooLong")


# ---- ReceiveMessage


@pytest.mark.parametrize("n", [0, 11])
def test_receive_max_number_of_messages_bounds(sqs, make_queue, n):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n)
    h.assert_error(
        ei,
        "InvalidParameterValue",
        message=f"Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
    )


def test_receive_wait_time_bounds(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    h.assert_error(
        ei,
        "InvalidParameterValue",
        message="Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
    )


def test_receive_from_missing_queue(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.receive_message(QueueUrl=f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('nope')}")
    h.assert_error(ei, "QueueDoesNotExist")


def test_receive_empty_queue_returns_no_messages_key(sqs, make_queue):
    url = make_queue()
    resp = sqs.receive_message(QueueUrl=url)
    assert "Messages" not in resp


def test_receive_default_is_one_message(sqs, make_queue):
    url = make_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    assert len(resp["Messages"]) == 1


def test_long_poll_times_out_empty(sqs, make_queue):
    url = make_queue()
    t0 = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    elapsed = time.monotonic() - t0
    assert "Messages" not in resp
    assert 1.8 <= elapsed < 6, elapsed


def test_long_poll_answered_by_send_from_other_thread(sqs, endpoint, make_queue):
    url = make_queue()
    sender = h.json_client(endpoint)
    errors = []

    def send_later():
        try:
            time.sleep(1.0)
            sender.send_message(QueueUrl=url, MessageBody="wake up")
        except Exception as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=send_later)
    t0 = time.monotonic()
    t.start()
    try:
        resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        elapsed = time.monotonic() - t0
    finally:
        t.join(timeout=15)
    assert not errors, errors
    assert [m["Body"] for m in resp.get("Messages", [])] == ["wake up"]
    assert 0.9 <= elapsed < 5, elapsed


def test_queue_receive_wait_time_default_long_polls(sqs, endpoint, make_queue):
    url = make_queue(attributes={"ReceiveMessageWaitTimeSeconds": "2"})
    t0 = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url)
    assert "Messages" not in resp
    assert time.monotonic() - t0 >= 1.8


def test_receive_visibility_timeout_and_redelivery(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="redeliver me")
    first = h.receive_all(sqs, url, 1, VisibilityTimeout=1, MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert len(first) == 1
    assert first[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    # invisible right now
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attrs = h.queue_attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}
    # visible again after ~1 s: a long poll picks it up
    t0 = time.monotonic()
    second = h.receive_all(sqs, url, 1, MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert len(second) == 1
    assert time.monotonic() - t0 < 5
    assert second[0]["MessageId"] == first[0]["MessageId"]
    assert second[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]


def test_receive_system_attributes_all(sqs, make_queue):
    url = make_queue()
    before_ms = int(time.time() * 1000)
    sqs.send_message(QueueUrl=url, MessageBody="attrs")
    for kw in ({"AttributeNames": ["All"]}, {"MessageSystemAttributeNames": ["All"]}):
        msgs = h.receive_all(sqs, url, 1, VisibilityTimeout=0, **kw)
        assert len(msgs) == 1, kw
        a = msgs[0]["Attributes"]
        for key in ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"):
            assert key in a, (kw, a)
        assert a["SenderId"]
        sent = int(a["SentTimestamp"])
        first = int(a["ApproximateFirstReceiveTimestamp"])
        now_ms = int(time.time() * 1000)
        assert before_ms - 5000 <= sent <= now_ms + 5000  # epoch milliseconds
        assert sent - 1000 <= first <= now_ms + 5000
        # no FIFO attributes on a standard queue
        assert "SequenceNumber" not in a and "MessageGroupId" not in a


def test_receive_specific_system_attributes(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="one")
    msgs = h.receive_all(sqs, url, 1, VisibilityTimeout=0, MessageSystemAttributeNames=["SentTimestamp"])
    assert set(msgs[0]["Attributes"]) == {"SentTimestamp"}
    msgs = h.receive_all(
        sqs, url, 1, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"]
    )
    assert set(msgs[0]["Attributes"]) == {"ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"}
    msgs = h.receive_all(sqs, url, 1, VisibilityTimeout=0)
    assert "Attributes" not in msgs[0] or msgs[0]["Attributes"] == {}


@pytest.mark.parametrize(
    "names,expected",
    [
        (["All"], {"a.one", "a.two", "b", "c"}),
        ([".*"], {"a.one", "a.two", "b", "c"}),
        (["a.*"], {"a.one", "a.two"}),
        (["b"], {"b"}),
        (["b", "c", "zzz"], {"b", "c"}),
        (["B"], set()),  # names are case-sensitive
        (None, set()),
    ],
)
def test_receive_message_attribute_name_filters(sqs, make_queue, names, expected):
    url = make_queue()
    attrs = {
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "Number", "StringValue": "2"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x02"},
        "c": {"DataType": "String.c", "StringValue": "3"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="filter", MessageAttributes=attrs)
    kw = {"MessageAttributeNames": names} if names is not None else {}
    msgs = h.receive_all(sqs, url, 1, **kw)
    got = msgs[0].get("MessageAttributes", {})
    assert set(got) == expected
    for k in expected:
        assert got[k] == attrs[k]
    if expected:
        # the digest covers the attributes returned
        assert msgs[0]["MD5OfMessageAttributes"] == h.md5_of_attributes(got)


def test_receive_message_attribute_prefix_is_everything_before_dot_star(sqs, make_queue):
    # Issue 17: `Hel.*` selects the names that start with `Hel`, `Hello` and `Help.Me` alike.
    url = make_queue()
    attrs = {n: {"DataType": "String", "StringValue": n} for n in ("Hello", "Help.Me", "Hi", "hello")}
    sqs.send_message(QueueUrl=url, MessageBody="prefix", MessageAttributes=attrs)
    msgs = h.receive_all(sqs, url, 1, MessageAttributeNames=["Hel.*"])
    got = msgs[0]["MessageAttributes"]
    assert set(got) == {"Hello", "Help.Me"}
    assert msgs[0]["MD5OfMessageAttributes"] == h.md5_of_attributes(got)


def test_receive_message_attribute_star_returns_all(sqs, make_queue):
    # Issue 17: `*` selects every attribute, as `All` and `.*` do.
    url = make_queue()
    attrs = {n: {"DataType": "String", "StringValue": n} for n in ("Hello", "Hi")}
    sqs.send_message(QueueUrl=url, MessageBody="star", MessageAttributes=attrs)
    msgs = h.receive_all(sqs, url, 1, MessageAttributeNames=["*"])
    assert set(msgs[0]["MessageAttributes"]) == {"Hello", "Hi"}


# ---- DeleteMessage / DeleteMessageBatch


def test_delete_message(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="delete me")
    m = h.receive_all(sqs, url, 1, VisibilityTimeout=1)[0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # would be visible again after 1 s if it were not deleted
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)
    assert h.queue_attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_handle_calls_on_a_missing_queue_are_queue_does_not_exist(sqs, make_queue, endpoint):
    # SQS looks at the queue before the handle: a garbage handle on a missing queue is
    # QueueDoesNotExist, and so is one that looks like a real handle.
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    real = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]["ReceiptHandle"]
    missing = f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('nope')}"
    for handle in ["garbage-handle", real]:
        with pytest.raises(ClientError) as ei:
            sqs.delete_message(QueueUrl=missing, ReceiptHandle=handle)
        h.assert_error(ei, "QueueDoesNotExist")
        with pytest.raises(ClientError) as ei:
            sqs.change_message_visibility(QueueUrl=missing, ReceiptHandle=handle, VisibilityTimeout=5)
        h.assert_error(ei, "QueueDoesNotExist")
        with pytest.raises(ClientError) as ei:
            sqs.delete_message_batch(QueueUrl=missing, Entries=[{"Id": "a", "ReceiptHandle": handle}])
        h.assert_error(ei, "QueueDoesNotExist")
        with pytest.raises(ClientError) as ei:
            sqs.change_message_visibility_batch(
                QueueUrl=missing, Entries=[{"Id": "a", "ReceiptHandle": handle, "VisibilityTimeout": 5}]
            )
        h.assert_error(ei, "QueueDoesNotExist")


def test_delete_message_garbage_handle(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage-handle")
    h.assert_error(ei, "ReceiptHandleIsInvalid")


def test_delete_message_stale_handle_standard_succeeds(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="stale")
    first = h.receive_all(sqs, url, 1, VisibilityTimeout=1)[0]
    second = h.receive_all(sqs, url, 1, VisibilityTimeout=30)[0]
    assert second["MessageId"] == first["MessageId"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # no error
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert h.queue_attrs(sqs, url, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "0"
    }


def test_delete_message_batch(sqs, make_queue):
    url = make_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    msgs = h.receive_all(sqs, url, 3, VisibilityTimeout=1)
    assert len(msgs) == 3
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
    entries.append({"Id": "bogus", "ReceiptHandle": "not-a-handle"})
    resp = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(e["Id"] for e in resp["Successful"]) == ["d0", "d1", "d2"]
    assert len(resp["Failed"]) == 1
    f = resp["Failed"][0]
    assert f["Id"] == "bogus" and f["SenderFault"] is True and f["Code"] == "ReceiptHandleIsInvalid"
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)


def test_delete_message_batch_errors(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    h.assert_error(ei, "EmptyBatchRequest")
    with pytest.raises(ClientError) as ei:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "ReceiptHandle": "x"} for i in range(11)])
    h.assert_error(ei, "TooManyEntriesInBatchRequest")
    with pytest.raises(ClientError) as ei:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": "x"}, {"Id": "a", "ReceiptHandle": "y"}])
    h.assert_error(ei, "BatchEntryIdsNotDistinct")
    with pytest.raises(ClientError) as ei:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "no good", "ReceiptHandle": "x"}])
    h.assert_error(ei, "InvalidBatchEntryId")


# ---- ChangeMessageVisibility / Batch


def test_change_visibility_to_zero_makes_visible_at_once(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="cmv")
    m = h.receive_all(sqs, url, 1, VisibilityTimeout=600)[0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    t0 = time.monotonic()
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [x["MessageId"] for x in again] == [m["MessageId"]]
    assert time.monotonic() - t0 < 1.5


def test_change_visibility_extends(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="extend")
    m = h.receive_all(sqs, url, 1, VisibilityTimeout=1)[0]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=60)
    # without the change it would come back after 1 s
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)


def test_change_visibility_errors(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="garbage", VisibilityTimeout=10)
    h.assert_error(ei, "ReceiptHandleIsInvalid")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = h.receive_all(sqs, url, 1)[0]
    with pytest.raises(ClientError) as ei:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=43201)
    h.assert_error(ei, "InvalidParameterValue")


def test_change_visibility_batch(sqs, make_queue):
    url = make_queue()
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    msgs = h.receive_all(sqs, url, 2, VisibilityTimeout=600)
    assert len(msgs) == 2
    resp = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": msgs[1]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "c", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert sorted(e["Id"] for e in resp["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in resp["Failed"]] == [("c", "ReceiptHandleIsInvalid", True)]
    again = h.receive_all(sqs, url, 2, wait=2, max_polls=3)
    assert sorted(m["MessageId"] for m in again) == sorted(m["MessageId"] for m in msgs)
    with pytest.raises(ClientError) as ei:
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[])
    h.assert_error(ei, "EmptyBatchRequest")
    with pytest.raises(ClientError) as ei:
        sqs.change_message_visibility_batch(
            QueueUrl=url, Entries=[{"Id": f"e{i}", "ReceiptHandle": "x", "VisibilityTimeout": 1} for i in range(11)]
        )
    h.assert_error(ei, "TooManyEntriesInBatchRequest")


def test_visibility_change_not_remembered(sqs, make_queue):
    url = make_queue(attributes={"VisibilityTimeout": "1"})
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = h.receive_all(sqs, url, 1)[0]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    # the next receive uses the queue's 1 s again, not 0
    again = h.receive_all(sqs, url, 1)
    assert len(again) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert len(h.receive_all(sqs, url, 1)) == 1


# ---- Delays


def test_queue_delay_seconds(sqs, make_queue):
    url = make_queue(attributes={"DelaySeconds": "2"})
    t0 = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="delayed")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert h.queue_attrs(sqs, url, "ApproximateNumberOfMessagesDelayed") == {"ApproximateNumberOfMessagesDelayed": "1"}
    msgs = h.receive_all(sqs, url, 1)
    assert [m["Body"] for m in msgs] == ["delayed"]
    assert time.monotonic() - t0 >= 1.5


def test_message_delay_seconds(sqs, make_queue):
    url = make_queue()
    t0 = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in first] == ["now"]
    msgs = h.receive_all(sqs, url, 1)
    assert [m["Body"] for m in msgs] == ["delayed"]
    assert time.monotonic() - t0 >= 1.5


def test_message_delay_overrides_queue_delay(sqs, make_queue):
    url = make_queue(attributes={"DelaySeconds": "900"})
    sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    assert [m["Body"] for m in h.receive_all(sqs, url, 1, max_polls=2)] == ["no delay"]


def test_batch_entry_delay(sqs, make_queue):
    url = make_queue()
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "late", "MessageBody": "late", "DelaySeconds": 2}, {"Id": "early", "MessageBody": "early"}],
    )
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in first] == ["early"]
    assert [m["Body"] for m in h.receive_all(sqs, url, 1)] == ["late"]


def test_delay_seconds_out_of_range(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    h.assert_error(ei, "InvalidParameterValue")


# ---- JSON batch replies omit an empty Failed (AWS's JSON protocol omits empty lists)


def test_send_message_batch_json_omits_empty_failed(sqs, endpoint, make_queue):
    url = make_queue()
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}])
    assert [e["Id"] for e in resp["Successful"]] == ["a"]
    assert "Failed" not in resp
    status, _, body = h.json_call(endpoint, "SendMessageBatch", {"QueueUrl": url, "Entries": [{"Id": "b", "MessageBody": "y"}]})
    assert status == 200
    assert set(json.loads(body)) == {"Successful"}


def test_delete_message_batch_json_omits_empty_failed(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = h.receive_all(sqs, url, 1)[0]
    resp = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": m["ReceiptHandle"]}])
    assert [e["Id"] for e in resp["Successful"]] == ["a"]
    assert "Failed" not in resp


def test_change_visibility_batch_json_omits_empty_failed(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = h.receive_all(sqs, url, 1)[0]
    resp = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}]
    )
    assert [e["Id"] for e in resp["Successful"]] == ["a"]
    assert "Failed" not in resp


# ---- QueueUrl may be a bare queue name (the daemon's account's queue of that name)


def test_bare_queue_name_as_queue_url(sqs, make_queue):
    url = make_queue()
    name = url.rsplit("/", 1)[1]
    sqs.send_message(QueueUrl=name, MessageBody="by name")
    assert sqs.get_queue_attributes(QueueUrl=name, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"].endswith(
        f":{name}"
    )
    msgs = h.receive_all(sqs, name, 1)
    assert msgs[0]["Body"] == "by name"
    sqs.delete_message(QueueUrl=name, ReceiptHandle=msgs[0]["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_bare_name_of_missing_queue_is_queue_does_not_exist(sqs):
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=h.unique("nope"), MessageBody="x")
    h.assert_error(ei, "QueueDoesNotExist")


# ---- issue 17: a FIFO batch without its ids fails as a whole; attribute names; AWS's texts


@pytest.fixture(params=["json", "query"])
def any_wire(request, sqs, sqs_query):
    """The same scenario over both wire forms."""
    return (sqs, True) if request.param == "json" else (sqs_query, False)


def _visible(sqs, url):
    attrs = h.queue_attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesDelayed"])


def test_fifo_batch_entry_without_group_id_fails_the_whole_call(any_wire, sqs, make_queue):
    client, json_protocol = any_wire
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    with pytest.raises(ClientError) as ei:
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "a", "MessageBody": "1", "MessageGroupId": "g"}, {"Id": "b", "MessageBody": "2"}],
        )
    h.assert_error(
        ei, "InvalidParameterValue", json_protocol=json_protocol,
        message="The request must contain the parameter MessageGroupId.",
    )
    assert _visible(sqs, url) == 0  # not even the valid entry was sent


def test_fifo_batch_entry_without_dedup_id_fails_the_whole_call(any_wire, sqs, make_queue):
    client, json_protocol = any_wire
    url = make_queue(fifo=True)
    with pytest.raises(ClientError) as ei:
        client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "MessageBody": "1", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
                {"Id": "b", "MessageBody": "2", "MessageGroupId": "g"},
            ],
        )
    h.assert_error(
        ei, "InvalidParameterValue", json_protocol=json_protocol,
        message="The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    )
    assert _visible(sqs, url) == 0


def test_fifo_batch_of_entries_all_without_dedup_id_fails_without_content_based_dedup(any_wire, sqs, make_queue):
    client, json_protocol = any_wire
    url = make_queue(fifo=True)
    with pytest.raises(ClientError) as ei:
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"e{i}", "MessageBody": str(i), "MessageGroupId": f"g{i}"} for i in range(4)],
        )
    h.assert_error(
        ei, "InvalidParameterValue", json_protocol=json_protocol,
        message="The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    )
    assert _visible(sqs, url) == 0


def test_fifo_batch_without_dedup_ids_is_sent_with_content_based_dedup(any_wire, sqs, make_queue):
    client, _ = any_wire
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    resp = client.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"e{i}", "MessageBody": str(i), "MessageGroupId": f"g{i}"} for i in range(4)],
    )
    assert sorted(e["Id"] for e in resp["Successful"]) == ["e0", "e1", "e2", "e3"]
    assert not resp.get("Failed")
    assert _visible(sqs, url) == 4


def test_fifo_batch_checks_dedup_before_group_within_the_first_entry_lacking_ids(sqs, make_queue):
    url = make_queue(fifo=True)
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}])
    err = h.assert_error(ei, "InvalidParameterValue")
    assert err["Message"].startswith("The queue should either have ContentBasedDeduplication enabled")


def test_fifo_batch_entry_with_a_bad_value_and_no_group_id_still_fails_the_call(sqs, make_queue):
    url = make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "MessageBody": "1", "MessageGroupId": "g"},
                {"Id": "b", "MessageBody": "2", "DelaySeconds": 5000},
            ],
        )
    h.assert_error(ei, "InvalidParameterValue", message="The request must contain the parameter MessageGroupId.")
    assert _visible(sqs, url) == 0


def test_fifo_batch_without_group_id_to_a_missing_queue_is_queue_does_not_exist(sqs, endpoint):
    url = f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('gone')}.fifo"
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}])
    h.assert_error(ei, "QueueDoesNotExist")


def test_standard_batch_without_fifo_ids_is_unchanged(sqs, make_queue):
    url = make_queue()
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}])
    assert [e["Id"] for e in resp["Successful"]] == ["a"]


def test_unicode_attribute_names_are_accepted_and_returned(any_wire, make_queue):
    client, _ = any_wire
    url = make_queue()
    attrs = {"attr.1øßä": {"DataType": "String", "StringValue": "Valida"}, "名前": {"DataType": "Number", "StringValue": "7"}}
    resp = client.send_message(QueueUrl=url, MessageBody="unicode names", MessageAttributes=attrs)
    assert resp["MD5OfMessageAttributes"] == h.md5_of_attributes(attrs)
    msgs = h.receive_all(client, url, 1, MessageAttributeNames=["All"])
    assert msgs[0]["MessageAttributes"] == attrs
    assert msgs[0]["MD5OfMessageAttributes"] == h.md5_of_attributes(attrs)


@pytest.mark.parametrize("name", ["Invalid-§-attr", "Invalid-!-attr", "Invalid-?-attr", "aWs.ø", "a..ø", "ø."])
def test_attribute_names_with_symbols_or_bad_periods_are_refused(any_wire, make_queue, name):
    client, json_protocol = any_wire
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        client.send_message(
            QueueUrl=url, MessageBody="x", MessageAttributes={name: {"DataType": "String", "StringValue": "v"}}
        )
    h.assert_error(ei, "InvalidParameterValue", json_protocol=json_protocol)


def test_empty_string_attribute_value_is_refused_in_aws_words(any_wire, make_queue):
    client, json_protocol = any_wire
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        client.send_message(
            QueueUrl=url, MessageBody="x", MessageAttributes={"ErrorDetails": {"DataType": "String", "StringValue": ""}}
        )
    h.assert_error(
        ei, "InvalidParameterValue", json_protocol=json_protocol,
        message="Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.",
    )


def test_message_over_the_queue_maximum_is_refused_in_aws_words(any_wire, make_queue):
    client, json_protocol = any_wire
    url = make_queue(attributes={"MaximumMessageSize": "1024"})
    with pytest.raises(ClientError) as ei:
        client.send_message(QueueUrl=url, MessageBody="x" * 1025)
    h.assert_error(
        ei, "InvalidParameterValue", json_protocol=json_protocol,
        message="One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
    )


def test_dedup_id_on_a_standard_queue_is_refused_in_aws_words(any_wire, make_queue):
    client, json_protocol = any_wire
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        client.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d-1")
    # AWS's words, recorded ("include" and all).
    h.assert_error(
        ei, "InvalidParameterValue", json_protocol=json_protocol,
        message="Value d-1 for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.",
    )
