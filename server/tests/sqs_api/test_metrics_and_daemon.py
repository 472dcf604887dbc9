"""Admin endpoint (/metrics, /health) and daemon-level behaviour (flags, restart, SIGTERM)."""

import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$')


def _metrics(admin_url):
    with urllib.request.urlopen(admin_url + "/metrics", timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples


def _value(samples, name, **labels):
    vals = [v for n, l, v in samples if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    assert len(vals) == 1, f"{name}{labels}: {vals}"
    return vals[0]


def test_health(daemon):
    with urllib.request.urlopen(daemon.admin_url + "/health", timeout=10) as r:
        assert r.status == 200
        assert r.read().decode().strip() == "ok"


def test_metrics_after_calls(fresh_daemon):
    d = fresh_daemon()
    sqs = h.json_client(d.sqs_url)
    name = h.unique("met")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600, WaitTimeSeconds=2)
    assert len(got["Messages"]) == 1
    for _ in range(2):
        with pytest.raises(ClientError):
            sqs.get_queue_url(QueueName=h.unique("nope"))

    s = _metrics(d.admin_url)
    assert _value(s, "spool_calls_total", protocol="sqs", action="CreateQueue") == 1
    assert _value(s, "spool_calls_total", protocol="sqs", action="SendMessage") == 5
    assert _value(s, "spool_calls_total", protocol="sqs", action="ReceiveMessage") == 1
    assert _value(s, "spool_calls_total", protocol="sqs", action="GetQueueUrl") == 2
    assert _value(s, "spool_errors_total", protocol="sqs", action="GetQueueUrl", **{"class": "4xx"}) == 2
    assert _value(s, "spool_latency_seconds_count", protocol="sqs", action="SendMessage") == 5
    p99 = _value(s, "spool_latency_seconds", protocol="sqs", action="SendMessage", quantile="0.99")
    assert 0 < p99 < 10
    assert _value(s, "spool_queue_messages", queue=name) == 3
    assert _value(s, "spool_queue_messages_in_flight", queue=name) == 1
    assert _value(s, "spool_queue_messages_delayed", queue=name) == 1
    assert _value(s, "spool_disk_bytes") > 0
    assert any(n == "spool_commit_seconds" and l.get("shard") == "0" for n, l, _ in s)
    # the same numbers through the API
    a = h.queue_attrs(sqs, url)
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"]) == ("3", "1", "1")


def test_region_and_account_flags(fresh_daemon):
    d = fresh_daemon("--region", "eu-west-1", "--account-id", "123456789012")
    sqs = h.json_client(d.sqs_url)
    name = h.unique("acct")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{d.sqs_url}/123456789012/{name}"
    assert h.queue_attrs(sqs, url, "QueueArn")["QueueArn"] == f"arn:aws:sqs:eu-west-1:123456789012:{name}"
    assert sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="123456789012")["QueueUrl"] == url


def test_messages_survive_restart_and_sigterm_exits_zero(fresh_daemon, tmp_path):
    data = str(tmp_path / "data")
    d1 = fresh_daemon(data_dir=data)
    sqs = h.json_client(d1.sqs_url)
    name = h.unique("durable")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"}, tags={"k": "v"})["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="survive", MessageAttributes={"a": {"DataType": "String", "StringValue": "1"}})
    assert d1.stop(remove_data=False) == 0
    d2 = fresh_daemon(data_dir=data)
    sqs2 = h.json_client(d2.sqs_url)
    url2 = sqs2.get_queue_url(QueueName=name)["QueueUrl"]
    assert h.queue_attrs(sqs2, url2, "VisibilityTimeout") == {"VisibilityTimeout": "7"}
    assert sqs2.list_queue_tags(QueueUrl=url2)["Tags"] == {"k": "v"}
    msgs = h.receive_all(sqs2, url2, 1, MessageAttributeNames=["All"])
    assert [(m["MessageId"], m["Body"]) for m in msgs] == [(sent["MessageId"], "survive")]
    assert msgs[0]["MessageAttributes"] == {"a": {"DataType": "String", "StringValue": "1"}}
    assert d2.stop(remove_data=False) == 0
