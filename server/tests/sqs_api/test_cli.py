"""A short session with the `aws sqs` CLI (awscli v1 from requirements.txt)."""

import json
import os
import shutil
import subprocess
import sys

import sqs_helpers as h


def _aws_binary():
    candidate = os.path.join(os.path.dirname(sys.executable), "aws")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("aws")
    assert found, "aws CLI not installed (pip install -r requirements.txt)"
    return found


def _aws(endpoint, *args):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
    }
    proc = subprocess.run(
        [_aws_binary(), "--endpoint-url", endpoint, "--output", "json", "sqs", *args],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, f"aws sqs {args} failed ({proc.returncode}): {proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_aws_cli_session(endpoint):
    name = h.unique("cli")
    url = _aws(endpoint, "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=20")["QueueUrl"]
    assert url == f"{endpoint}/{h.DEFAULT_ACCOUNT}/{name}"
    body = "from the cli ✓"
    sent = _aws(
        endpoint, "send-message", "--queue-url", url, "--message-body", body,
        "--message-attributes", json.dumps({"k": {"DataType": "String", "StringValue": "v"}}),
    )
    assert sent["MD5OfMessageBody"] == h.md5_hex(body)
    assert sent["MD5OfMessageAttributes"] == h.md5_of_attributes({"k": {"DataType": "String", "StringValue": "v"}})
    got = _aws(
        endpoint, "receive-message", "--queue-url", url, "--wait-time-seconds", "5",
        "--attribute-names", "All", "--message-attribute-names", "All",
    )
    assert len(got["Messages"]) == 1
    m = got["Messages"][0]
    assert m["Body"] == body and m["MessageId"] == sent["MessageId"]
    assert m["MessageAttributes"]["k"]["StringValue"] == "v"
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    attrs = _aws(endpoint, "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "20"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    _aws(endpoint, "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
    attrs = _aws(endpoint, "get-queue-attributes", "--queue-url", url, "--attribute-names", "ApproximateNumberOfMessagesNotVisible")
    assert attrs["Attributes"] == {"ApproximateNumberOfMessagesNotVisible": "0"}
    assert url in _aws(endpoint, "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    _aws(endpoint, "delete-queue", "--queue-url", url)
    assert _aws(endpoint, "list-queues", "--queue-name-prefix", name).get("QueueUrls", []) == []
