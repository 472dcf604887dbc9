"""Short polling a standard queue gathers the batch from every shard (issue 17): the
messages of a queue are spread over the shards (a standard send stays on the shard of
its connection, and connections are dealt round robin), and one receive returns up to
MaxNumberOfMessages of them, not only those of the shard that took the call."""

import sqs_helpers as h


def _send_over_new_connections(endpoint, url, n):
    """Sends n messages, each through a client of its own (a new connection each, so the
    messages land on different shards)."""
    for i in range(n):
        client = h.json_client(endpoint)
        client.send_message(QueueUrl=url, MessageBody=f"m{i}")
        client.close()


def test_a_short_poll_fills_its_batch_from_every_shard(sqs, endpoint, make_queue):
    url = make_queue("spread")
    _send_over_new_connections(endpoint, url, 8)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    assert sorted(m["Body"] for m in got) == sorted(f"m{i}" for i in range(8))


def test_a_short_poll_stops_once_its_batch_is_full(sqs, endpoint, make_queue):
    url = make_queue("spread")
    _send_over_new_connections(endpoint, url, 8)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, WaitTimeSeconds=0).get("Messages", [])
    assert len(got) == 3
    attrs = h.queue_attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert attrs == {"ApproximateNumberOfMessages": "5", "ApproximateNumberOfMessagesNotVisible": "3"}
