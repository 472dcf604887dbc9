"""Shared helpers for the SQS API client tests.

Everything here encodes what Amazon SQS does (see shared/reference/sqs-sns-facts.md
sections 1.1-1.10), not what spoold's code does.
"""

import copy
import gzip
import hashlib
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_SPOOLD = os.path.join(REPO_ROOT, "target", "debug", "spoold")
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
ACCESS_KEY = "AKIDSPOOLTEST"
SECRET_KEY = "spool-test-secret"

# Legacy (query-era) HTTP status of each error, per facts 1.5.
QUERY_CODES = {
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "OverLimit": ("OverLimit", 403),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "TooManyEntriesInBatchRequest": ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
    "ResourceNotFoundException": ("ResourceNotFoundException", 404),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 400),
    "InvalidAttributeName": ("InvalidAttributeName", 400),
    "InvalidAttributeValue": ("InvalidAttributeValue", 400),
    "InvalidIdFormat": ("InvalidIdFormat", 400),
    "InvalidMessageContents": ("InvalidMessageContents", 400),
    # Common (non-SQS-shape) errors: botocore reports the query code.
    "InvalidParameterValue": ("InvalidParameterValue", 400),
    "MissingParameter": ("MissingParameter", 400),
}


def unique(prefix="q"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------------------
# The daemon


class Daemon:
    """One spoold process on loopback with a fresh (or given) data dir."""

    def __init__(self, binary=None, extra_args=(), data_dir=None):
        self.binary = binary or os.environ.get("SPOOLD", DEFAULT_SPOOLD)
        if not os.path.exists(self.binary):
            raise RuntimeError(f"spoold binary not found at {self.binary}; build it or set SPOOLD")
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="spool-sqs-test-")
        self.stderr_path = os.path.join(tempfile.gettempdir(), f"spoold-{uuid.uuid4().hex[:8]}.stderr")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--listen", "127.0.0.1:0",
                "--sqs-listen", "127.0.0.1:0",
                "--admin-listen", "127.0.0.1:0",
                "--data-dir", self.data_dir,
                *extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.sqs_url = None
        self.admin_url = None
        self.binary_addr = None
        deadline = time.monotonic() + 30
        try:
            while self.binary_addr is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("spoold did not print 'listening' within 30 s")
                try:
                    line = self._lines.get(timeout=left)
                except queue.Empty:
                    continue
                if line is None:
                    raise RuntimeError(
                        f"spoold exited early (rc={self.proc.wait()}): {self.stderr_text()[-2000:]}"
                    )
                line = line.strip()
                if line.startswith("sqs "):
                    self.sqs_url = line.split(" ", 1)[1]
                elif line.startswith("admin "):
                    self.admin_url = line.split(" ", 1)[1]
                elif line.startswith("listening "):
                    self.binary_addr = line.split(" ", 1)[1]
            if not self.sqs_url or not self.admin_url:
                raise RuntimeError(f"spoold did not print its sqs/admin urls: {self.sqs_url} {self.admin_url}")
        except BaseException:
            self.stop()
            raise

    def _read_stdout(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, remove_data=True):
        """SIGTERM, wait up to 15 s (then SIGKILL). Returns the exit code."""
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                rc = "killed after SIGTERM timeout"
        self._stderr.close()
        if remove_data and self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass
        return rc

    @property
    def sqs_port(self):
        return int(self.sqs_url.rsplit(":", 1)[1])

    def queue_url(self, name, account=DEFAULT_ACCOUNT):
        return f"{self.sqs_url}/{account}/{name}"


# ---------------------------------------------------------------------------------------
# Clients


def _config(**kw):
    return Config(
        region_name=DEFAULT_REGION,
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=60,
        **kw,
    )


def json_client(endpoint, **config_kw):
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=DEFAULT_REGION
    )
    return session.client("sqs", endpoint_url=endpoint, config=_config(**config_kw))


# Query-era (botocore <= 1.34.89) wire names the JSON model no longer carries.
_QUERY_LIST_MEMBER_NAMES = {
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "BinaryList": "BinaryListValue",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageList": "Message",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "StringList": "StringListValue",
    "TagKeyList": "TagKey",
}
_QUERY_MAP_NAMES = {
    "MessageBodyAttributeMap": ("Name", "Value"),
    "MessageBodySystemAttributeMap": ("Name", "Value"),
    "MessageSystemAttributeMap": ("Name", "Value"),
    "QueueAttributeMap": ("Name", "Value"),
    "TagMap": ("Key", "Value"),
}
_QUERY_MEMBER_NAMES = {
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
    ("ListQueueTagsResult", "Tags"): "Tag",
    ("Message", "Attributes"): "Attribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("MessageAttributeValue", "StringListValues"): "StringListValue",
    ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("MessageSystemAttributeValue", "StringListValues"): "StringListValue",
    ("MessageSystemAttributeValue", "BinaryListValues"): "BinaryListValue",
}


def query_service_model(json_model):
    """Turn botocore's current (JSON 1.0) SQS model into the query/XML model SQS had
    before Nov 2023: protocol `query`, `<Op>Result` wrappers, flattened lists and maps
    with their old element names (checked against botocore 1.34.89's model)."""
    m = copy.deepcopy(json_model)
    meta = m["metadata"]
    for k in ("jsonVersion", "targetPrefix", "awsQueryCompatible"):
        meta.pop(k, None)
    meta["protocol"] = "query"
    meta["protocols"] = ["query"]
    meta["xmlNamespace"] = "http://queue.amazonaws.com/doc/2012-11-05/"
    for name, op in m["operations"].items():
        if "output" in op:
            op["output"]["resultWrapper"] = f"{name}Result"
    shapes = m["shapes"]
    for name, member in _QUERY_LIST_MEMBER_NAMES.items():
        shapes[name]["member"]["locationName"] = member
        if name not in ("StringList", "BinaryList"):
            shapes[name]["flattened"] = True
    for name, (k, v) in _QUERY_MAP_NAMES.items():
        shapes[name]["key"]["locationName"] = k
        shapes[name]["value"]["locationName"] = v
        shapes[name]["flattened"] = True
    for name, loc in (("TagMap", "Tag"), ("QueueAttributeMap", "Attribute"), ("MessageSystemAttributeMap", "Attribute")):
        shapes[name]["locationName"] = loc
    for (shape, member), loc in _QUERY_MEMBER_NAMES.items():
        shapes[shape]["members"][member]["locationName"] = loc
        if member.endswith("ListValues"):
            shapes[shape]["members"][member]["flattened"] = True
    return m


def query_client(endpoint, model_dir):
    """A boto3 client that speaks the query protocol: a botocore session whose loader
    finds the patched model (written under model_dir) before the bundled one."""
    bsession = botocore.session.Session()
    loader = bsession.get_component("data_loader")
    target = os.path.join(model_dir, "sqs", "2012-11-05")
    if not os.path.exists(os.path.join(target, "service-2.json")):
        json_model = loader.load_service_model("sqs", "service-2")
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, "service-2.json"), "w") as f:
            json.dump(query_service_model(json_model), f)
        bsession = botocore.session.Session()
        loader = bsession.get_component("data_loader")
    loader.search_paths.insert(0, model_dir)
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=DEFAULT_REGION,
        botocore_session=bsession,
    )
    client = session.client("sqs", endpoint_url=endpoint, config=_config())
    assert client.meta.service_model.protocol == "query"
    return client


class RequestRecorder:
    """Records (headers, body) of every request a client sends (before-send event)."""

    def __init__(self, client):
        self.requests = []
        client.meta.events.register("before-send.sqs", self._record)

    def _record(self, request, **kwargs):
        body = request.body
        if hasattr(body, "read"):
            body = None
        if isinstance(body, str):
            body = body.encode()
        headers = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
        }
        self.requests.append((request.method, request.url, headers, body or b""))


# ---------------------------------------------------------------------------------------
# Raw signed HTTP


def raw_request(method, url, body=b"", headers=None, sign=True, timeout=30):
    """Sends one SigV4-signed request; returns (status, headers dict (lower-case), body bytes)."""
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "sqs", DEFAULT_REGION).add_auth(req)
        headers = dict(req.headers.items())
    r = urllib.request.Request(url, data=body if method != "GET" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def json_call(endpoint, action, payload, raw_body=None, extra_headers=None):
    headers = {
        "X-Amz-Target": f"AmazonSQS.{action}",
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-query-mode": "true",
    }
    headers.update(extra_headers or {})
    body = raw_body if raw_body is not None else json.dumps(payload).encode()
    return raw_request("POST", endpoint + "/", body, headers)


# ---------------------------------------------------------------------------------------
# MD5 rules (facts 1.8)


def md5_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes per the SQS developer guide algorithm."""
    buf = bytearray()
    for name in sorted(attrs):
        value = attrs[name]
        dt = value["DataType"]
        nb = name.encode("utf-8")
        db = dt.encode("utf-8")
        buf += struct.pack(">I", len(nb)) + nb
        buf += struct.pack(">I", len(db)) + db
        if dt.startswith("Binary"):
            raw = value["BinaryValue"]
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
            buf += b"\x02" + struct.pack(">I", len(raw)) + raw
        else:
            raw = value["StringValue"].encode("utf-8")
            buf += b"\x01" + struct.pack(">I", len(raw)) + raw
    return hashlib.md5(bytes(buf)).hexdigest()


# ---------------------------------------------------------------------------------------
# Errors


def error_of(exc):
    assert isinstance(exc, ClientError), repr(exc)
    err = exc.response.get("Error", {})
    return err.get("Code"), exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), err


def assert_error(excinfo, shape, *, status=None, message=None, json_protocol=True):
    """Asserts the ClientError is SQS error `shape` as botocore reports it.

    JSON (query-compatible): Error.Code is the legacy query code taken from
    x-amzn-query-error, Error.QueryErrorCode is the JSON shape name; HTTP status is the
    legacy one (facts 1.1, 1.5). Query: Error.Code is the legacy query code."""
    exc = excinfo.value if hasattr(excinfo, "value") else excinfo
    code, http_status, err = error_of(exc)
    query_code, legacy_status = QUERY_CODES[shape]
    desc = f"got {exc.response!r}"
    assert code == query_code, desc
    if json_protocol and shape not in ("InvalidParameterValue", "MissingParameter"):
        assert err.get("QueryErrorCode") == shape, desc
    assert http_status == (status or legacy_status), desc
    if message is not None:
        assert err.get("Message") == message, desc
    return err


# ---------------------------------------------------------------------------------------
# Receiving


def receive_all(client, url, expected, *, wait=5, max_polls=10, **kw):
    """Long-polls until `expected` messages were received (or the bounded polls end)."""
    got = []
    for _ in range(max_polls):
        if len(got) >= expected:
            break
        resp = client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, expected - len(got)), WaitTimeSeconds=wait, **kw
        )
        got.extend(resp.get("Messages", []))
    return got


def drain_fifo(client, url, expected, *, wait=2, max_polls=None, **kw):
    """Receives and deletes until `expected` messages came (bounded). A FIFO group stays
    locked while one of its messages is in flight, so each batch is deleted before the
    next receive."""
    got = []
    for _ in range(max_polls or expected + 3):
        if len(got) >= expected:
            break
        resp = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, **kw)
        msgs = resp.get("Messages", [])
        got.extend(msgs)
        if msgs:
            client.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
            )
    return got


def queue_attrs(client, url, *names):
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]


def wait_for(predicate, timeout=10.0, interval=0.2):
    """Polls predicate() (bounded) until truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def load_gz_json(path):
    with gzip.open(path) as f:
        return json.load(f)
