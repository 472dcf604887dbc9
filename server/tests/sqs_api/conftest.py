"""Fixtures: one spoold per test session (plus fresh ones where isolation is needed),
boto3 clients for the JSON 1.0 and the query protocol."""

import os

# No shared config/credential files: every client gets explicit dummy credentials.
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)

import pytest  # noqa: E402

import sqs_helpers as h  # noqa: E402


@pytest.fixture(scope="session")
def daemon():
    d = h.Daemon()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def fresh_daemon():
    """A daemon of its own, for tests that need exact counts or special flags."""
    started = []

    def start(*extra_args, data_dir=None):
        d = h.Daemon(extra_args=extra_args, data_dir=data_dir)
        started.append(d)
        return d

    try:
        yield start
    finally:
        for d in started:
            d.stop()


@pytest.fixture(scope="session")
def endpoint(daemon):
    return daemon.sqs_url


@pytest.fixture(scope="session")
def sqs(endpoint):
    """boto3 SQS client: AWS JSON 1.0 (the current default)."""
    client = h.json_client(endpoint)
    assert client.meta.service_model.protocol == "json"
    return client


@pytest.fixture(scope="session")
def query_model_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("query-model"))


@pytest.fixture(scope="session")
def sqs_query(endpoint, query_model_dir):
    """boto3 SQS client speaking the legacy query protocol (form bodies, XML answers)."""
    return h.query_client(endpoint, query_model_dir)


@pytest.fixture
def make_queue(sqs):
    """Creates a uniquely named queue; returns its URL."""

    def make(prefix="q", fifo=False, attributes=None, tags=None):
        name = h.unique(prefix) + (".fifo" if fifo else "")
        attrs = dict(attributes or {})
        if fifo:
            attrs.setdefault("FifoQueue", "true")
        kw = {"QueueName": name, "Attributes": attrs}
        if tags:
            kw["tags"] = tags
        return sqs.create_queue(**kw)["QueueUrl"]

    return make


def queue_arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def arn_of(sqs):
    return lambda url: queue_arn(sqs, url)
