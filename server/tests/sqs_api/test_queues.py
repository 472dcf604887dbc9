"""Queue management actions through the AWS JSON 1.0 protocol (boto3 default)."""

import json
import time

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h

FRESH_STANDARD_ALL = {
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "DelaySeconds",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
}


def missing_url(endpoint):
    return f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('missing')}"


# ---- CreateQueue / GetQueueUrl / DeleteQueue


def test_create_queue_returns_url_and_arn(sqs, endpoint):
    name = h.unique("create")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{endpoint}/{h.DEFAULT_ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    attrs = h.queue_attrs(sqs, url, "QueueArn")
    assert attrs == {"QueueArn": f"arn:aws:sqs:us-east-1:{h.DEFAULT_ACCOUNT}:{name}"}


def test_create_queue_with_attributes_and_tags(sqs):
    name = h.unique("attrs")
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "45",
            "DelaySeconds": "3",
            "MaximumMessageSize": "2048",
            "MessageRetentionPeriod": "600",
            "ReceiveMessageWaitTimeSeconds": "2",
        },
        tags={"team": "spool", "env": "test"},
    )["QueueUrl"]
    attrs = h.queue_attrs(sqs, url)
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["DelaySeconds"] == "3"
    assert attrs["MaximumMessageSize"] == "2048"
    assert attrs["MessageRetentionPeriod"] == "600"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "2"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "spool", "env": "test"}


def test_create_queue_is_idempotent_with_same_attributes(sqs):
    name = h.unique("idem")
    url1 = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    url2 = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert url1 == url2


def test_create_queue_with_different_attributes_is_queue_name_exists(sqs):
    name = h.unique("exists")
    sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "2"})
    h.assert_error(ei, "QueueNameExists")
    # the modeled exception class is what boto3 users catch
    assert isinstance(ei.value, sqs.exceptions.QueueNameExists)


@pytest.mark.parametrize(
    "name,attrs",
    [
        ("bad name!", {}),
        ("x" * 81, {}),
        ("dotted.name", {}),
        ("standard-with-suffix.fifo", {}),  # .fifo name without FifoQueue=true
        ("fifo-without-suffix", {"FifoQueue": "true"}),
        ("x" * 76 + ".fifo", {"FifoQueue": "true"}),  # 81 chars including suffix
    ],
)
def test_create_queue_rejects_invalid_names(sqs, name, attrs):
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=name, Attributes=attrs)
    h.assert_error(ei, "InvalidParameterValue")


def test_create_fifo_queue_80_chars_including_suffix(sqs):
    name = h.unique("f")
    name = name + "x" * (75 - len(name)) + ".fifo"
    assert len(name) == 80
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    attrs = h.queue_attrs(sqs, url, "FifoQueue", "ContentBasedDeduplication")
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"


def test_create_queue_invalid_attribute_value(sqs):
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=h.unique("badattr"), Attributes={"VisibilityTimeout": "43201"})
    h.assert_error(ei, "InvalidAttributeValue")


def test_create_queue_unknown_attribute_name(sqs):
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=h.unique("badname"), Attributes={"NoSuchAttribute": "1"})
    h.assert_error(ei, "InvalidAttributeName")


def test_get_queue_url_of_missing_queue(sqs):
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_url(QueueName=h.unique("nope"))
    # botocore reports the legacy query code from x-amzn-query-error as Error.Code and the
    # JSON shape as Error.QueryErrorCode; the modeled exception class still matches.
    err = h.assert_error(ei, "QueueDoesNotExist")
    assert err["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert err["Type"] == "Sender"
    assert err["Message"] == "The specified queue does not exist."
    assert isinstance(ei.value, sqs.exceptions.QueueDoesNotExist)


def test_delete_queue(sqs):
    name = h.unique("del")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    # SQS says deletion may take up to 60 s to show; an immediately consistent server
    # must not show the queue any more.
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_url(QueueName=name)
    h.assert_error(ei, "QueueDoesNotExist")
    assert url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    h.assert_error(ei, "QueueDoesNotExist")


def test_delete_missing_queue(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.delete_queue(QueueUrl=missing_url(endpoint))
    h.assert_error(ei, "QueueDoesNotExist")


def test_recreate_deleted_queue_within_60s_is_queue_deleted_recently(sqs):
    name = h.unique("recent")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=name)
    h.assert_error(ei, "QueueDeletedRecently")


# ---- ListQueues


def test_list_queues_prefix_and_paging(sqs):
    prefix = h.unique("lst")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == urls
    seen = []
    token = None
    for _ in range(10):  # bounded
        kw = {"QueueNamePrefix": prefix, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = sqs.list_queues(**kw)
        assert len(page.get("QueueUrls", [])) <= 2
        seen.extend(page.get("QueueUrls", []))
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == urls
    assert len(seen) == len(set(seen))


def test_list_queues_without_max_results_has_no_next_token(sqs):
    prefix = h.unique("lsn")
    for i in range(3):
        sqs.create_queue(QueueName=f"{prefix}-{i}")
    resp = sqs.list_queues(QueueNamePrefix=prefix)
    assert len(resp["QueueUrls"]) == 3
    assert "NextToken" not in resp


def test_list_queues_unknown_prefix_is_empty(sqs):
    resp = sqs.list_queues(QueueNamePrefix=h.unique("none"))
    assert resp.get("QueueUrls", []) == []


@pytest.mark.parametrize("max_results", [0, 1001])
def test_list_queues_max_results_bounds(sqs, max_results):
    with pytest.raises(ClientError) as ei:
        sqs.list_queues(MaxResults=max_results)
    h.assert_error(ei, "InvalidParameterValue")


# ---- Get/SetQueueAttributes


def test_get_queue_attributes_all_on_fresh_queue(sqs):
    name = h.unique("all")
    before = int(time.time())
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attrs = h.queue_attrs(sqs, url, "All")
    assert set(attrs) == FRESH_STANDARD_ALL
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "0"
    assert attrs["DelaySeconds"] == "0"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "0"
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["SqsManagedSseEnabled"] == "true"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{h.DEFAULT_ACCOUNT}:{name}"
    # epoch seconds (not ms)
    assert before - 5 <= int(attrs["CreatedTimestamp"]) <= time.time() + 5
    assert before - 5 <= int(attrs["LastModifiedTimestamp"]) <= time.time() + 5


def test_get_queue_attributes_specific_names(sqs, make_queue):
    url = make_queue()
    attrs = h.queue_attrs(sqs, url, "VisibilityTimeout", "DelaySeconds")
    assert attrs == {"VisibilityTimeout": "30", "DelaySeconds": "0"}


def test_get_queue_attributes_without_names_returns_none(sqs, make_queue):
    url = make_queue()
    resp = sqs.get_queue_attributes(QueueUrl=url)
    assert resp.get("Attributes", {}) == {}


def test_get_queue_attributes_unknown_name(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    h.assert_error(ei, "InvalidAttributeName")


def test_get_queue_attributes_missing_queue(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_attributes(QueueUrl=missing_url(endpoint), AttributeNames=["All"])
    h.assert_error(ei, "QueueDoesNotExist")


def test_set_queue_attributes(sqs, make_queue):
    url = make_queue()
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"VisibilityTimeout": "120", "DelaySeconds": "5", "MaximumMessageSize": "1024"},
    )
    attrs = h.queue_attrs(sqs, url, "VisibilityTimeout", "DelaySeconds", "MaximumMessageSize")
    assert attrs == {"VisibilityTimeout": "120", "DelaySeconds": "5", "MaximumMessageSize": "1024"}


@pytest.mark.parametrize(
    "attr,value",
    [
        ("VisibilityTimeout", "43201"),
        ("VisibilityTimeout", "-1"),
        ("DelaySeconds", "901"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("VisibilityTimeout", "abc"),
    ],
)
def test_set_queue_attributes_invalid_values(sqs, make_queue, attr, value):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={attr: value})
    h.assert_error(ei, "InvalidAttributeValue")


def test_set_queue_attributes_unknown_name(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Bogus": "1"})
    h.assert_error(ei, "InvalidAttributeName")


def test_fifo_only_attribute_on_standard_queue(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    h.assert_error(ei, "InvalidAttributeName")


def test_redrive_policy_round_trip(sqs, make_queue, arn_of):
    dlq = make_queue("dlq")
    src = make_queue("src")
    policy = {"deadLetterTargetArn": arn_of(dlq), "maxReceiveCount": 5}
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": json.dumps(policy)})
    got = json.loads(h.queue_attrs(sqs, src, "RedrivePolicy")["RedrivePolicy"])
    assert got["deadLetterTargetArn"] == policy["deadLetterTargetArn"]
    assert int(got["maxReceiveCount"]) == 5
    # and it shows up under All
    assert "RedrivePolicy" in h.queue_attrs(sqs, src, "All")


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        json.dumps({"maxReceiveCount": 5}),
        json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x", "maxReceiveCount": 0}),
    ],
)
def test_redrive_policy_invalid(sqs, make_queue, policy):
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    code, status, _ = h.error_of(ei.value)
    # AWS answers InvalidParameterValue ("Value ... for parameter RedrivePolicy is invalid.
    # Reason: ..."); some emulators say InvalidAttributeValue.
    assert code in ("InvalidParameterValue", "InvalidAttributeValue"), ei.value.response
    assert status == 400


# ---- PurgeQueue


def test_purge_queue(sqs, make_queue):
    url = make_queue("purge")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    inflight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=2)
    assert len(inflight["Messages"]) == 1
    sqs.purge_queue(QueueUrl=url)
    attrs = h.queue_attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    # a second purge within 60 s
    with pytest.raises(ClientError) as ei:
        sqs.purge_queue(QueueUrl=url)
    err = h.assert_error(ei, "PurgeQueueInProgress")
    assert url.rsplit("/", 1)[1] in err["Message"]


def test_purge_missing_queue(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.purge_queue(QueueUrl=missing_url(endpoint))
    h.assert_error(ei, "QueueDoesNotExist")


# ---- Tags


def test_tag_untag_list(sqs, make_queue):
    url = make_queue()
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
    sqs.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2"})
    sqs.tag_queue(QueueUrl=url, Tags={"b": "3", "c": "4"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "b": "3", "c": "4"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["a", "c", "not-there"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "3"}


@pytest.mark.parametrize("action", ["tag", "untag", "list"])
def test_tags_on_missing_queue(sqs, endpoint, action):
    url = missing_url(endpoint)
    with pytest.raises(ClientError) as ei:
        if action == "tag":
            sqs.tag_queue(QueueUrl=url, Tags={"a": "1"})
        elif action == "untag":
            sqs.untag_queue(QueueUrl=url, TagKeys=["a"])
        else:
            sqs.list_queue_tags(QueueUrl=url)
    h.assert_error(ei, "QueueDoesNotExist")


# ---- Permissions


def test_add_and_remove_permission(sqs, make_queue):
    url = make_queue("perm")
    sqs.add_permission(
        QueueUrl=url, Label="allow-send", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
    )
    policy = json.loads(h.queue_attrs(sqs, url, "Policy")["Policy"])
    sids = [s.get("Sid") for s in policy["Statement"]]
    assert "allow-send" in sids
    # the same label again
    with pytest.raises(ClientError) as ei:
        sqs.add_permission(QueueUrl=url, Label="allow-send", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    h.assert_error(ei, "InvalidParameterValue")
    sqs.remove_permission(QueueUrl=url, Label="allow-send")
    with pytest.raises(ClientError) as ei:
        sqs.remove_permission(QueueUrl=url, Label="allow-send")
    h.assert_error(ei, "InvalidParameterValue")


def test_add_permission_writes_the_policy_as_sqs_does(sqs, make_queue, arn_of):
    # SQS writes version 2008-10-17 and a single principal or action as a bare string.
    url = make_queue("perm")
    sqs.add_permission(QueueUrl=url, Label="one", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = json.loads(h.queue_attrs(sqs, url, "Policy")["Policy"])
    assert policy["Version"] == "2008-10-17"
    assert policy["Id"] == arn_of(url) + "/SQSDefaultPolicy"
    assert policy["Statement"] == [
        {
            "Sid": "one",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "SQS:SendMessage",
            "Resource": arn_of(url),
        }
    ]


def test_add_permission_lists_several_principals_and_actions(sqs, make_queue):
    url = make_queue("perm")
    sqs.add_permission(
        QueueUrl=url,
        Label="two",
        AWSAccountIds=["111122223333", "444455556666"],
        Actions=["SendMessage", "ReceiveMessage"],
    )
    st = json.loads(h.queue_attrs(sqs, url, "Policy")["Policy"])["Statement"][0]
    assert st["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]}
    assert st["Action"] == ["SQS:SendMessage", "SQS:ReceiveMessage"]


def test_remove_unknown_permission_label(sqs, make_queue):
    url = make_queue("perm")
    with pytest.raises(ClientError) as ei:
        sqs.remove_permission(QueueUrl=url, Label="never-added")
    h.assert_error(ei, "InvalidParameterValue")


def test_permissions_on_missing_queue(sqs, endpoint):
    url = missing_url(endpoint)
    with pytest.raises(ClientError) as ei:
        sqs.add_permission(QueueUrl=url, Label="l", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    h.assert_error(ei, "QueueDoesNotExist")
    with pytest.raises(ClientError) as ei:
        sqs.remove_permission(QueueUrl=url, Label="l")
    h.assert_error(ei, "QueueDoesNotExist")


def test_removing_the_kms_key_removes_its_reuse_period(sqs, make_queue):
    url = make_queue("kms", attributes={"KmsMasterKeyId": "alias/aws/sqs", "KmsDataKeyReusePeriodSeconds": "600"})
    attrs = h.queue_attrs(sqs, url)
    assert attrs["KmsMasterKeyId"] == "alias/aws/sqs"
    assert attrs["KmsDataKeyReusePeriodSeconds"] == "600"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ""})
    attrs = h.queue_attrs(sqs, url)
    assert "KmsMasterKeyId" not in attrs
    assert "KmsDataKeyReusePeriodSeconds" not in attrs
    named = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"])
    assert named.get("Attributes", {}) == {}


# ---- issue 17: AWS's texts for FIFO-only attributes and for changing the queue type


@pytest.fixture(params=["json", "query"])
def any_wire(request, sqs, sqs_query):
    return (sqs, True) if request.param == "json" else (sqs_query, False)


def test_fifo_only_attribute_on_a_standard_queue_is_an_unknown_attribute(any_wire):
    client, json_protocol = any_wire
    with pytest.raises(ClientError) as ei:
        client.create_queue(QueueName=h.unique("std"), Attributes={"ContentBasedDeduplication": "true"})
    h.assert_error(
        ei, "InvalidAttributeName", json_protocol=json_protocol, message="Unknown Attribute ContentBasedDeduplication."
    )


def test_fifo_queue_attribute_set_on_a_standard_queue_is_an_unknown_attribute(any_wire, make_queue):
    client, json_protocol = any_wire
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        client.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    h.assert_error(ei, "InvalidAttributeName", json_protocol=json_protocol, message="Unknown Attribute FifoQueue.")


def test_modifying_the_queue_type_is_refused_in_aws_words(any_wire, make_queue):
    client, json_protocol = any_wire
    url = make_queue(fifo=True)
    client.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})  # restating it is fine
    with pytest.raises(ClientError) as ei:
        client.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    h.assert_error(
        ei, "InvalidAttributeValue", json_protocol=json_protocol,
        message="Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
    )


def test_create_queue_again_with_a_different_attribute_is_refused_in_aws_words(any_wire):
    client, json_protocol = any_wire
    name = h.unique("again")
    client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "10"})
    with pytest.raises(ClientError) as ei:
        client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "20"})
    h.assert_error(
        ei, "QueueNameExists", json_protocol=json_protocol,
        message="A queue already exists with the same name and a different value for attribute VisibilityTimeout",
    )
