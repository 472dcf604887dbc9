"""The legacy query/XML protocol (boto3 with the query-era model) and raw HTTP requests
in both protocols."""

import json
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

import sqs_helpers as h

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


@pytest.fixture
def recorder(sqs_query):
    rec = h.RequestRecorder(sqs_query)
    yield rec
    sqs_query.meta.events.unregister("before-send.sqs", rec._record)


def _assert_query_requests(rec, actions):
    assert rec.requests, "nothing was sent"
    for method, url, headers, body in rec.requests:
        assert method == "POST"
        assert "X-Amz-Target" not in headers
        assert headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        form = urllib.parse.parse_qs(body.decode())
        assert form["Version"] == ["2012-11-05"]
        assert form["Action"][0] in actions
    sent = {urllib.parse.parse_qs(b.decode())["Action"][0] for _, _, _, b in rec.requests}
    assert sent == set(actions)


def test_query_client_sends_form_bodies(sqs_query, recorder):
    sqs_query.list_queues(QueueNamePrefix=h.unique("none"))
    _assert_query_requests(recorder, ["ListQueues"])


def test_query_queue_lifecycle(sqs_query, recorder, endpoint):
    name = h.unique("qry")
    url = sqs_query.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"}, tags={"t": "1"})["QueueUrl"]
    assert url == f"{endpoint}/{h.DEFAULT_ACCOUNT}/{name}"
    assert sqs_query.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs_query.list_queues(QueueNamePrefix=name)["QueueUrls"]
    attrs = sqs_query.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "40"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{h.DEFAULT_ACCOUNT}:{name}"
    sqs_query.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "VisibilityTimeout": "50"})
    assert sqs_query.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "50"
    }
    sqs_query.tag_queue(QueueUrl=url, Tags={"u": "2"})
    assert sqs_query.list_queue_tags(QueueUrl=url)["Tags"] == {"t": "1", "u": "2"}
    sqs_query.untag_queue(QueueUrl=url, TagKeys=["t"])
    assert sqs_query.list_queue_tags(QueueUrl=url)["Tags"] == {"u": "2"}
    sqs_query.delete_queue(QueueUrl=url)
    _assert_query_requests(
        recorder,
        [
            "CreateQueue", "GetQueueUrl", "ListQueues", "GetQueueAttributes", "SetQueueAttributes",
            "TagQueue", "ListQueueTags", "UntagQueue", "DeleteQueue",
        ],
    )


def test_query_messages(sqs_query, recorder, make_queue):
    url = make_queue("qry")
    attrs = {
        "s": {"DataType": "String", "StringValue": "héllo"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }
    body = 'xml <&> "quoted" \r\n crlf 😀'
    r = sqs_query.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
    assert r["MD5OfMessageBody"] == h.md5_hex(body)
    assert r["MD5OfMessageAttributes"] == h.md5_of_attributes(attrs)
    batch = sqs_query.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "ba"}, {"Id": "b", "MessageBody": "bb"}]
    )
    assert sorted(e["Id"] for e in batch["Successful"]) == ["a", "b"]
    msgs = h.receive_all(sqs_query, url, 3, MessageAttributeNames=["All"], AttributeNames=["All"])
    by_body = {m["Body"]: m for m in msgs}
    # \r survives only if the server escapes it (&#xD;) in the XML text
    assert set(by_body) == {body, "ba", "bb"}
    m = by_body[body]
    assert m["MD5OfBody"] == h.md5_hex(body)
    assert m["MessageAttributes"] == attrs
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    sqs_query.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5)
    sqs_query.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    resp = sqs_query.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "x", "ReceiptHandle": by_body["ba"]["ReceiptHandle"]}, {"Id": "y", "ReceiptHandle": "junk"}],
    )
    assert [e["Id"] for e in resp["Successful"]] == ["x"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in resp["Failed"]] == [("y", "ReceiptHandleIsInvalid", True)]
    resp = sqs_query.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "z", "ReceiptHandle": by_body["bb"]["ReceiptHandle"], "VisibilityTimeout": 0}]
    )
    assert [e["Id"] for e in resp["Successful"]] == ["z"]
    sqs_query.purge_queue(QueueUrl=url)
    _assert_query_requests(
        recorder,
        [
            "SendMessage", "SendMessageBatch", "ReceiveMessage", "ChangeMessageVisibility", "DeleteMessage",
            "DeleteMessageBatch", "ChangeMessageVisibilityBatch", "PurgeQueue",
        ],
    )


def test_query_errors(sqs_query, make_queue):
    with pytest.raises(ClientError) as ei:
        sqs_query.get_queue_url(QueueName=h.unique("nope"))
    err = h.assert_error(ei, "QueueDoesNotExist", json_protocol=False)
    assert err["Type"] == "Sender"
    # AWS's query answer says "... does not exist for this wsdl version."
    assert err["Message"] == "The specified queue does not exist for this wsdl version.", err
    name = h.unique("qe")
    sqs_query.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})
    with pytest.raises(ClientError) as ei:
        sqs_query.create_queue(QueueName=name, Attributes={"DelaySeconds": "2"})
    h.assert_error(ei, "QueueNameExists", json_protocol=False)
    url = make_queue()
    with pytest.raises(ClientError) as ei:
        sqs_query.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    h.assert_error(ei, "InvalidParameterValue", json_protocol=False)
    with pytest.raises(ClientError) as ei:
        sqs_query.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}])
    h.assert_error(ei, "BatchEntryIdsNotDistinct", json_protocol=False)
    with pytest.raises(ClientError) as ei:
        sqs_query.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    h.assert_error(ei, "ReceiptHandleIsInvalid", json_protocol=False)


def test_query_fifo(sqs_query, make_queue):
    url = make_queue(fifo=True)
    r1 = sqs_query.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="1")
    r2 = sqs_query.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="2")
    assert int(r2["SequenceNumber"]) > int(r1["SequenceNumber"])
    msgs = h.drain_fifo(sqs_query, url, 2, AttributeNames=["All"])
    assert [m["Body"] for m in msgs] == ["one", "two"]
    assert msgs[0]["Attributes"]["MessageGroupId"] == "g"


# ---- raw HTTP


def _xml(body):
    return ET.fromstring(body)


def test_raw_query_post_to_queue_url_path(sqs, make_queue):
    url = make_queue("raw")
    form = urllib.parse.urlencode(
        {"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "via path",
         "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
         "MessageAttribute.1.Value.StringValue": "v"}
    ).encode()
    status, headers, body = h.raw_request(
        "POST", url, form, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    assert status == 200, body
    assert headers["content-type"].startswith("text/xml") or headers["content-type"].startswith("application/xml")
    root = _xml(body)
    assert root.tag == NS + "SendMessageResponse"
    result = root.find(NS + "SendMessageResult")
    assert result.findtext(NS + "MD5OfMessageBody") == h.md5_hex("via path")
    assert result.findtext(NS + "MD5OfMessageAttributes") == h.md5_of_attributes(
        {"k": {"DataType": "String", "StringValue": "v"}}
    )
    assert result.findtext(NS + "MessageId")
    assert root.find(NS + "ResponseMetadata").findtext(NS + "RequestId")
    msgs = h.receive_all(sqs, url, 1, MessageAttributeNames=["All"])
    assert msgs[0]["Body"] == "via path"
    assert msgs[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}


def test_raw_query_get_with_query_string(make_queue):
    url = make_queue("rawget")
    qs = urllib.parse.urlencode({"Action": "GetQueueAttributes", "Version": "2012-11-05", "AttributeName.1": "VisibilityTimeout"})
    status, _, body = h.raw_request("GET", f"{url}?{qs}")
    assert status == 200, body
    root = _xml(body)
    assert root.tag == NS + "GetQueueAttributesResponse"
    attrs = root.find(NS + "GetQueueAttributesResult").findall(NS + "Attribute")
    assert [(a.findtext(NS + "Name"), a.findtext(NS + "Value")) for a in attrs] == [("VisibilityTimeout", "30")]


def test_raw_query_get_on_root_with_queue_url(endpoint, make_queue):
    url = make_queue("rawroot")
    qs = urllib.parse.urlencode({"Action": "SendMessage", "Version": "2012-11-05", "QueueUrl": url, "MessageBody": "get"})
    status, _, body = h.raw_request("GET", f"{endpoint}/?{qs}")
    assert status == 200, body
    assert _xml(body).find(NS + "SendMessageResult").findtext(NS + "MD5OfMessageBody") == h.md5_hex("get")


def test_raw_query_error_shape(endpoint):
    form = urllib.parse.urlencode({"Action": "GetQueueUrl", "Version": "2012-11-05", "QueueName": h.unique("nope")}).encode()
    status, _, body = h.raw_request("POST", endpoint + "/", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    root = _xml(body)
    assert root.tag.endswith("ErrorResponse")
    err = root.find(root.tag.replace("ErrorResponse", "Error"))
    ns = root.tag[: -len("ErrorResponse")]
    assert err.findtext(ns + "Type") == "Sender"
    assert err.findtext(ns + "Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert err.findtext(ns + "Message").startswith("The specified queue does not exist")
    assert root.findtext(ns + "RequestId")


def test_raw_query_unknown_action(endpoint):
    form = urllib.parse.urlencode({"Action": "NoSuchAction", "Version": "2012-11-05"}).encode()
    status, _, body = h.raw_request("POST", endpoint + "/", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    root = _xml(body)
    ns = root.tag[: -len("ErrorResponse")]
    assert root.find(ns + "Error").findtext(ns + "Code") == "InvalidAction"


def test_raw_query_xml_escaping_of_quotes_and_cr(sqs, make_queue):
    url = make_queue("esc")
    body = 'a "b" \r c'
    sqs.send_message(QueueUrl=url, MessageBody=body)
    qs = urllib.parse.urlencode({"Action": "ReceiveMessage", "Version": "2012-11-05", "WaitTimeSeconds": "5"})
    status, _, raw = h.raw_request("GET", f"{url}?{qs}")
    assert status == 200, raw
    assert b"&quot;b&quot;" in raw and b"&#xD;" in raw, raw
    msg = _xml(raw).find(NS + "ReceiveMessageResult").find(NS + "Message")
    assert msg.findtext(NS + "Body") == body


def test_raw_json_error_shape(endpoint):
    status, headers, body = h.json_call(endpoint, "GetQueueUrl", {"QueueName": h.unique("nope")})
    assert status == 400
    assert headers["content-type"].startswith("application/x-amz-json-1.0")
    assert headers.get("x-amzn-requestid")
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    doc = json.loads(body)
    assert doc["__type"].split("#")[-1] == "QueueDoesNotExist"
    assert doc.get("message", doc.get("Message")) == "The specified queue does not exist."


def test_raw_json_success_shape(endpoint):
    name = h.unique("rawjson")
    status, headers, body = h.json_call(endpoint, "CreateQueue", {"QueueName": name})
    assert status == 200, body
    assert headers["content-type"].startswith("application/x-amz-json-1.0")
    assert headers.get("x-amzn-requestid")
    assert json.loads(body) == {"QueueUrl": f"{endpoint}/{h.DEFAULT_ACCOUNT}/{name}"}
    url = json.loads(body)["QueueUrl"]
    status, _, body = h.json_call(endpoint, "ReceiveMessage", {"QueueUrl": url})
    assert status == 200 and json.loads(body) == {}
    status, _, body = h.json_call(endpoint, "DeleteQueue", {"QueueUrl": url})
    assert status == 200 and json.loads(body) == {}


def test_raw_json_malformed_body(endpoint):
    status, headers, body = h.json_call(endpoint, "CreateQueue", None, raw_body=b'{"QueueName": "x",')
    assert status == 400
    assert headers["content-type"].startswith("application/x-amz-json-1.0")
    doc = json.loads(body)
    assert doc.get("__type")
    assert doc.get("message") or doc.get("Message")


def test_raw_json_unknown_target(endpoint):
    status, headers, body = h.json_call(endpoint, "NoSuchAction", {})
    assert status == 400
    doc = json.loads(body)
    assert doc.get("__type")
    code = headers.get("x-amzn-query-error", "").split(";")[0] or doc["__type"].split("#")[-1]
    assert code in ("InvalidAction", "UnknownOperationException"), (headers, doc)


def test_raw_json_missing_required_parameter(endpoint):
    status, headers, body = h.json_call(endpoint, "GetQueueUrl", {})
    assert status == 400
    doc = json.loads(body)
    assert headers.get("x-amzn-query-error", "").split(";")[0] == "MissingParameter", (headers, doc)


def test_raw_json_without_query_mode_header_still_works(endpoint):
    # SDKs other than botocore >= 1.39 do not send x-amzn-query-mode
    name = h.unique("nomode")
    status, _, body = h.raw_request(
        "POST", endpoint + "/", json.dumps({"QueueName": name}).encode(),
        {"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert status == 200, body
    status, headers, body = h.raw_request(
        "POST", endpoint + "/", json.dumps({"QueueName": h.unique("nope")}).encode(),
        {"X-Amz-Target": "AmazonSQS.GetQueueUrl", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert status == 400
    assert json.loads(body)["__type"].split("#")[-1] == "QueueDoesNotExist"


def test_query_fifo_accepts_zero_per_message_delay(sqs_query, make_queue):
    # AWS refuses only a non-zero per-message DelaySeconds on a FIFO queue, in both wire forms.
    url = make_queue(fifo=True)
    sqs_query.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="1", DelaySeconds=0)
    resp = sqs_query.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "two", "MessageGroupId": "g", "MessageDeduplicationId": "2", "DelaySeconds": 0},
            {"Id": "b", "MessageBody": "three", "MessageGroupId": "g", "MessageDeduplicationId": "3", "DelaySeconds": 1},
        ],
    )
    assert [s["Id"] for s in resp["Successful"]] == ["a"]
    assert [(f["Id"], f["Code"]) for f in resp["Failed"]] == [("b", "InvalidParameterValue")]
    msgs = h.drain_fifo(sqs_query, url, 2)
    assert [m["Body"] for m in msgs] == ["one", "two"]
def test_query_bare_queue_name_as_queue_url(sqs_query, make_queue):
    url = make_queue("qry")
    name = url.rsplit("/", 1)[1]
    sqs_query.send_message(QueueUrl=name, MessageBody="by name")
    msgs = h.receive_all(sqs_query, name, 1)
    assert msgs[0]["Body"] == "by name"
    sqs_query.delete_message(QueueUrl=name, ReceiptHandle=msgs[0]["ReceiptHandle"])
    with pytest.raises(ClientError) as ei:
        sqs_query.purge_queue(QueueUrl=h.unique("nope"))
    h.assert_error(ei, "QueueDoesNotExist", json_protocol=False)


@pytest.mark.parametrize("action", ["send_message_batch", "delete_message_batch", "change_message_visibility_batch"])
def test_query_empty_entries_is_empty_batch_request(sqs_query, recorder, make_queue, action):
    url = make_queue("qry")
    with pytest.raises(ClientError) as ei:
        getattr(sqs_query, action)(QueueUrl=url, Entries=[])
    h.assert_error(ei, "EmptyBatchRequest", json_protocol=False)
    # botocore writes an empty list as its bare member name: `Entries=`
    (_, _, _, body), = recorder.requests
    assert urllib.parse.parse_qs(body.decode(), keep_blank_values=True)["Entries"] == [""]


def test_query_empty_message_attribute_names_is_no_filter(sqs_query, recorder, make_queue):
    # An empty name list is as no list: the message comes back without its attributes.
    url = make_queue("qry")
    sqs_query.send_message(
        QueueUrl=url, MessageBody="x", MessageAttributes={"a": {"DataType": "String", "StringValue": "1"}}
    )
    msgs = h.receive_all(sqs_query, url, 1, MessageAttributeNames=[])
    assert msgs[0]["Body"] == "x"
    assert "MessageAttributes" not in msgs[0]
    form = urllib.parse.parse_qs(recorder.requests[-1][3].decode(), keep_blank_values=True)
    assert form["MessageAttributeNames"] == [""]


# ---- issue 17: query requests sent to a queue URL, AWS's texts, the query form's JSON


def _form_get(url, params, headers=None):
    qs = urllib.parse.urlencode({"Version": "2012-11-05", **params})
    return h.raw_request("GET", f"{url}?{qs}" if params else url, headers=headers)


def test_query_missing_queue_says_wsdl_version(endpoint):
    url = f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('gone')}"
    status, _, body = _form_get(url, {"Action": "GetQueueAttributes", "AttributeName.1": "QueueArn"})
    assert status == 400
    assert b"<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in body, body
    assert b"<Message>The specified queue does not exist for this wsdl version.</Message>" in body, body


def test_json_missing_queue_keeps_its_own_text(sqs, endpoint):
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_attributes(QueueUrl=f"{endpoint}/{h.DEFAULT_ACCOUNT}/{h.unique('gone')}")
    h.assert_error(ei, "QueueDoesNotExist", message="The specified queue does not exist.")


@pytest.mark.parametrize("accept", [None, "application/json"])
def test_get_on_a_queue_url_without_action_is_unknown_operation(make_queue, accept):
    url = make_queue("noact")
    status, headers, body = h.raw_request("GET", url, headers={"Accept": accept} if accept else None)
    assert status == 404
    assert body == b"<UnknownOperationException/>\n"  # XML even when JSON is accepted, as AWS
    assert "content-type" not in headers


@pytest.mark.parametrize("action", ["CreateQueue", "ListQueues"])
def test_non_queue_actions_at_a_queue_url_are_invalid_action(make_queue, action):
    url = make_queue("notq")
    status, _, body = _form_get(url, {"Action": action, "QueueName": h.unique("other")})
    assert status == 400
    root = _xml(body)
    err = root.find(NS + "Error")
    assert err.findtext(NS + "Code") == "InvalidAction"
    assert err.findtext(NS + "Type") == "Sender"
    assert err.findtext(NS + "Message") == f"The action {action} is not valid for this endpoint."


def test_get_queue_url_at_another_queues_url_is_served(make_queue):
    url1, url2 = make_queue("here"), make_queue("there")
    status, _, body = _form_get(url1, {"Action": "GetQueueUrl", "QueueName": url2.rsplit("/", 1)[1]})
    assert status == 200, body
    assert _xml(body).find(NS + "GetQueueUrlResult").findtext(NS + "QueueUrl") == url2


def test_query_parameter_queue_url_wins_over_the_path(sqs, make_queue):
    url1, url2 = make_queue("path"), make_queue("param")
    status, _, body = _form_get(url1, {"Action": "SendMessage", "QueueUrl": url2, "MessageBody": "to param"})
    assert status == 200, body
    assert h.receive_all(sqs, url2, 1)[0]["Body"] == "to param"


def test_query_empty_receive_renders_an_empty_result_element(make_queue):
    url = make_queue("empty")
    status, _, body = _form_get(url, {"Action": "ReceiveMessage"})
    assert status == 200, body
    assert b"<ReceiveMessageResult/>" in body, body


def test_query_with_accept_json_gets_json(make_queue):
    url = make_queue("accjson")
    status, headers, body = _form_get(
        url, {"Action": "GetQueueAttributes", "AttributeName.1": "All"}, {"Accept": "application/json"}
    )
    assert status == 200, body
    assert headers["content-type"].startswith("application/json")
    doc = json.loads(body)
    result = doc["GetQueueAttributesResponse"]["GetQueueAttributesResult"]
    by_name = {a["Name"]: a["Value"] for a in result["Attributes"]}
    assert by_name["QueueArn"].endswith(":" + url.rsplit("/", 1)[1])
    assert by_name["VisibilityTimeout"] == "30"
    assert doc["GetQueueAttributesResponse"]["ResponseMetadata"]["RequestId"]


def test_query_error_with_accept_json_gets_json(make_queue):
    url = make_queue("accjson")
    status, headers, body = _form_get(url, {"Action": "ListQueues"}, {"Accept": "application/json"})
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["Error"]["Code"] == "InvalidAction"
    assert doc["Error"]["Message"] == "The action ListQueues is not valid for this endpoint."


def test_query_receive_with_accept_json_lists_messages(sqs, make_queue):
    url = make_queue("accjson")
    sqs.send_message(QueueUrl=url, MessageBody="hi", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    status, _, body = _form_get(
        url,
        {"Action": "ReceiveMessage", "WaitTimeSeconds": "5", "MessageAttributeName.1": "All", "AttributeName.1": "SentTimestamp"},
        {"Accept": "application/json"},
    )
    assert status == 200, body
    msgs = json.loads(body)["ReceiveMessageResponse"]["ReceiveMessageResult"]["Messages"]
    assert [m["Body"] for m in msgs] == ["hi"]
    assert msgs[0]["MessageAttributes"] == [{"Name": "k", "Value": {"DataType": "String", "StringValue": "v"}}]
    assert [a["Name"] for a in msgs[0]["Attributes"]] == ["SentTimestamp"]
