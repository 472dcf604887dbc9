"""Receipt handles as AWS treats them (issue 17): ChangeMessageVisibility with expired,
older and deleted messages' handles, and handles that outlive a daemon restart."""

import os
import shutil
import signal
import time

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h

NOT_AVAILABLE = "Message does not exist or is not available for visibility timeout change."


def receive_one(sqs, url, **kw):
    got = h.receive_all(sqs, url, 1, **kw)
    assert len(got) == 1, got
    return got[0]


def test_expired_handle_whose_message_was_not_received_again_changes_visibility(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="expired")
    m = receive_one(sqs, url, VisibilityTimeout=600)
    # Visible again (as when its timeout runs out; no waiting), nobody received it: the
    # handle still changes it (back in flight).
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=60)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    attrs = h.queue_attrs(sqs, url, "ApproximateNumberOfMessagesNotVisible")
    assert attrs == {"ApproximateNumberOfMessagesNotVisible": "0"}


def test_older_handle_while_a_newer_receive_holds_the_message_applies(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="older")
    first = receive_one(sqs, url, VisibilityTimeout=600)
    # Visible again (as when its timeout runs out; no waiting), then received anew.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    second = receive_one(sqs, url, VisibilityTimeout=600)
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # The older handle applies to the newer receive: visible at once.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    third = receive_one(sqs, url, VisibilityTimeout=600, wait=2)
    assert third["MessageId"] == first["MessageId"]


def test_handle_of_a_deleted_message_is_invalid_parameter_value(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    m = receive_one(sqs, url, VisibilityTimeout=600)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    with pytest.raises(ClientError) as ei:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=10)
    h.assert_error(ei, "InvalidParameterValue", message=NOT_AVAILABLE)


def test_handle_of_a_deleted_message_fails_its_batch_entry(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    m = receive_one(sqs, url, VisibilityTimeout=600)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    resp = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 10}]
    )
    assert [(f["Id"], f["Code"], f["SenderFault"], f["Message"]) for f in resp["Failed"]] == [
        ("a", "InvalidParameterValue", True, NOT_AVAILABLE)
    ]


def test_handle_of_a_deleted_message_in_the_query_protocol(sqs_query, make_queue):
    url = make_queue()
    sqs_query.send_message(QueueUrl=url, MessageBody="gone")
    m = receive_one(sqs_query, url, VisibilityTimeout=600)
    sqs_query.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    with pytest.raises(ClientError) as ei:
        sqs_query.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=10)
    h.assert_error(ei, "InvalidParameterValue", message=NOT_AVAILABLE, json_protocol=False)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_handles_and_in_flight_messages_survive_a_restart(fresh_daemon, how):
    d = fresh_daemon()
    data_dir = d.data_dir
    sqs = h.json_client(d.sqs_url)
    name = h.unique("restart")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = h.receive_all(sqs, url, 2, VisibilityTimeout=3)
    assert len(got) == 2
    t0 = time.monotonic()
    if how == "sigkill":
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
    d.stop(remove_data=False)

    d2 = fresh_daemon(data_dir=data_dir)
    try:
        sqs = h.json_client(d2.sqs_url)
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        assert "Messages" not in sqs.receive_message(QueueUrl=url), "still in flight after the restart"
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        assert time.monotonic() - t0 < 3, "restart slower than the visibility timeout: nothing proven"
        back = h.receive_all(sqs, url, 1, wait=5, max_polls=2, AttributeNames=["ApproximateReceiveCount"])
        assert [m["MessageId"] for m in back] == [got[1]["MessageId"]]
        assert back[0]["Attributes"]["ApproximateReceiveCount"] == "2"
        assert time.monotonic() - t0 >= 2.7, "back only at its deadline"
    finally:
        d2.stop(remove_data=False)
        shutil.rmtree(data_dir, ignore_errors=True)
    assert not os.path.exists(data_dir)
