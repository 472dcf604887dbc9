"""Fair queues (AWS, 2025) on a standard queue: a MessageGroupId names a tenant, and a
quiet tenant's message sent behind a noisy tenant's backlog is received at once, with
standard-queue semantics otherwise unchanged (no ordering, no locking: several messages
of one tenant come back in one receive). Run with SPOOL_SHARDS=2 and 4."""

NOISY = 2000


def send_noisy(sqs, url, n, group="noisy"):
    for start in range(0, n, 10):
        entries = []
        for i in range(start, min(start + 10, n)):
            e = {"Id": str(i - start), "MessageBody": f"noisy-{i}"}
            if group:
                e["MessageGroupId"] = group
            entries.append(e)
        resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not resp.get("Failed"), resp


def bodies(resp):
    return [m["Body"] for m in resp.get("Messages", [])]


def drain(sqs, url):
    seen = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return seen
        seen.extend(bodies(got))


def test_quiet_tenant_is_received_ahead_of_a_noisy_backlog(sqs, make_queue):
    url = make_queue(attributes={"VisibilityTimeout": "300"})
    send_noisy(sqs, url, NOISY)
    sqs.send_message(QueueUrl=url, MessageBody="quiet-0", MessageGroupId="quiet")
    first = bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
    assert "quiet-0" in first
    # The rest of the receive is the noisy tenant's: its messages are not held back or
    # locked by each other (no FIFO group semantics on a standard queue).
    assert len([b for b in first if b.startswith("noisy-")]) == len(first) - 1 > 1


def test_every_message_is_received_once_with_tenants(sqs, make_queue):
    url = make_queue(attributes={"VisibilityTimeout": "300"})
    send_noisy(sqs, url, NOISY)
    for i in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"quiet-{i}", MessageGroupId=f"tenant-{i % 3}")
    seen = drain(sqs, url)
    assert sorted(seen) == sorted([f"noisy-{i}" for i in range(NOISY)] + [f"quiet-{i}" for i in range(20)])


def test_message_group_id_is_returned_on_a_standard_queue(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="tenant-a")
    got = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["MessageGroupId"])
    assert [m["Attributes"].get("MessageGroupId") for m in got["Messages"]] == ["tenant-a"]
