// AWS SDK for JavaScript v3 (@aws-sdk/client-sqs, pinned in package.json) against spoold.
//
// The SDK's own MD5 checks stay ON (the `md5` client option is left at its default; the
// test asserts that): it verifies MD5OfMessageBody on SendMessage, SendMessageBatch and
// ReceiveMessage and throws on a mismatch. The v3 SDK does not check
// MD5OfMessageAttributes (the Java, Go and .NET SDKs do), so this file checks that digest
// itself with the algorithm from the SQS developer guide; any mismatch fails the test.
//
// Run: SPOOLD=/path/to/spoold node --test   (default: <repo>/target/debug/spoold)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  SQSClient,
  CreateQueueCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
} from "@aws-sdk/client-sqs";

const here = dirname(fileURLToPath(import.meta.url));
const SPOOLD = process.env.SPOOLD || join(here, "..", "..", "..", "target", "debug", "spoold");

let daemon;
let dataDir;
let endpoint;
let client;

function startDaemon() {
  return new Promise((resolve, reject) => {
    if (!existsSync(SPOOLD)) {
      reject(new Error(`spoold not found at ${SPOOLD}; build it or set SPOOLD`));
      return;
    }
    dataDir = mkdtempSync(join(tmpdir(), "spool-sqs-node-"));
    const proc = spawn(
      SPOOLD,
      [
        "--listen", "127.0.0.1:0",
        "--sqs-listen", "127.0.0.1:0",
        "--admin-listen", "127.0.0.1:0",
        "--data-dir", dataDir,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    let sqsUrl = null;
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`spoold did not start within 30 s: ${out} ${err}`));
    }, 30000);
    proc.stderr.on("data", (d) => { err = (err + d).slice(-4000); });
    proc.stdout.on("data", (d) => {
      out += d;
      for (const line of out.split("\n")) {
        if (line.startsWith("sqs ")) sqsUrl = line.slice(4).trim();
        if (line.startsWith("listening ") && sqsUrl) {
          clearTimeout(timer);
          resolve({ proc, sqsUrl });
        }
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`spoold exited early (${code}): ${err}`));
    });
  });
}

before(async () => {
  const d = await startDaemon();
  daemon = d.proc;
  endpoint = d.sqsUrl;
  client = new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDSPOOLTEST", secretAccessKey: "spool-test-secret" },
    maxAttempts: 1,
  });
});

after(async () => {
  client?.destroy();
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon.once("exit", r));
    daemon.kill("SIGTERM");
    const t = setTimeout(() => daemon.kill("SIGKILL"), 15000);
    await exited;
    clearTimeout(t);
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const md5 = (data) => createHash("md5").update(data).digest("hex");

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

// MD5OfMessageAttributes per the SQS developer guide.
function md5OfAttributes(attrs) {
  const parts = [];
  for (const name of Object.keys(attrs).sort()) {
    const v = attrs[name];
    const nb = Buffer.from(name, "utf8");
    const db = Buffer.from(v.DataType, "utf8");
    parts.push(u32(nb.length), nb, u32(db.length), db);
    if (v.DataType.startsWith("Binary")) {
      const raw = Buffer.from(v.BinaryValue);
      parts.push(Buffer.from([2]), u32(raw.length), raw);
    } else {
      const raw = Buffer.from(v.StringValue, "utf8");
      parts.push(Buffer.from([1]), u32(raw.length), raw);
    }
  }
  return md5(Buffer.concat(parts));
}

function normalize(attrs) {
  const out = {};
  for (const [k, v] of Object.entries(attrs || {})) {
    out[k] = v.DataType.startsWith("Binary")
      ? { DataType: v.DataType, BinaryValue: Buffer.from(v.BinaryValue).toString("hex") }
      : { DataType: v.DataType, StringValue: v.StringValue };
  }
  return out;
}

const unique = (p) => `${p}-${randomUUID().slice(0, 12)}`;

async function createQueue(prefix, attributes = {}) {
  const r = await client.send(new CreateQueueCommand({ QueueName: unique(prefix), Attributes: attributes }));
  return r.QueueUrl;
}

async function receiveAll(url, n, extra = {}) {
  const got = [];
  for (let i = 0; i < 10 && got.length < n; i++) {
    const r = await client.send(new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: Math.min(10, n - got.length),
      WaitTimeSeconds: 5,
      MessageAttributeNames: ["All"],
      MessageSystemAttributeNames: ["All"],
      ...extra,
    }));
    for (const m of r.Messages || []) {
      assert.equal(m.MD5OfBody, md5(Buffer.from(m.Body, "utf8")), "MD5OfBody");
      if (m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0) {
        assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(m.MessageAttributes), "MD5OfMessageAttributes on receive");
      }
      got.push(m);
    }
  }
  return got;
}

const ATTRS = {
  str: { DataType: "String", StringValue: "héllo wörld 😀" },
  num: { DataType: "Number", StringValue: "12345.678" },
  neg: { DataType: "Number", StringValue: "-1e-5" },
  bin: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 2, 253, 254, 255]) },
  "str.custom": { DataType: "String.custom", StringValue: "custom type" },
  "num.custom": { DataType: "Number.int", StringValue: "7" },
  "bin.custom": { DataType: "Binary.gif", BinaryValue: new Uint8Array([71, 73, 70]) },
};

test("MD5 checks are enabled in the client config", async () => {
  // md5 === false would switch the SDK's body checks off.
  assert.notEqual(client.config.md5, false);
  assert.equal(typeof client.config.md5, "function");
});

test("send and receive with String, Number, Binary and custom attributes", async () => {
  const url = await createQueue("node-attrs");
  const body = "attribute test ✓";
  const sent = await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageAttributes: ATTRS }));
  assert.equal(sent.MD5OfMessageBody, md5(Buffer.from(body, "utf8")));
  assert.equal(sent.MD5OfMessageAttributes, md5OfAttributes(ATTRS));
  const [m] = await receiveAll(url, 1);
  assert.equal(m.Body, body);
  assert.equal(m.MessageId, sent.MessageId);
  assert.deepEqual(normalize(m.MessageAttributes), normalize(ATTRS));
  assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(ATTRS));
  assert.ok(Number(m.Attributes.SentTimestamp) > 1.6e12);
  assert.equal(m.Attributes.ApproximateReceiveCount, "1");
  await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
});

test("unicode bodies round-trip with matching MD5", async () => {
  const url = await createQueue("node-unicode");
  const bodies = [
    "ascii",
    "ünïcödé — ñ",
    "中文 日本語 한국어",
    "astral 😀🎉𝄞 \u{10FFFD}",
    "whitespace \t\n\r ok",
    'markup <a href="x">&amp;</a>',
  ];
  for (const body of bodies) {
    const r = await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    assert.equal(r.MD5OfMessageBody, md5(Buffer.from(body, "utf8")));
  }
  const got = await receiveAll(url, bodies.length);
  assert.deepEqual(got.map((m) => m.Body).sort(), [...bodies].sort());
});

test("batches: send, receive and delete", async () => {
  const url = await createQueue("node-batch");
  const entries = Array.from({ length: 10 }, (_, i) => ({
    Id: `e${i}`,
    MessageBody: `batch body ${i} ✓ ${"x".repeat(i * 100)}`,
    MessageAttributes: {
      idx: { DataType: "Number", StringValue: String(i) },
      tag: { DataType: "String.label", StringValue: `t${i}` },
      raw: { DataType: "Binary", BinaryValue: new Uint8Array([i, 255 - i]) },
    },
  }));
  const r = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
  assert.equal((r.Failed || []).length, 0);
  assert.equal(r.Successful.length, 10);
  for (const s of r.Successful) {
    const e = entries.find((x) => x.Id === s.Id);
    assert.equal(s.MD5OfMessageBody, md5(Buffer.from(e.MessageBody, "utf8")));
    assert.equal(s.MD5OfMessageAttributes, md5OfAttributes(e.MessageAttributes));
  }
  const got = await receiveAll(url, 10);
  assert.equal(got.length, 10);
  assert.deepEqual(got.map((m) => m.Body).sort(), entries.map((e) => e.MessageBody).sort());
  const del = await client.send(new DeleteMessageBatchCommand({
    QueueUrl: url,
    Entries: got.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
  }));
  assert.equal((del.Failed || []).length, 0);
  assert.equal(del.Successful.length, 10);
  const a = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }));
  assert.equal(a.Attributes.ApproximateNumberOfMessages, "0");
  assert.equal(a.Attributes.ApproximateNumberOfMessagesNotVisible, "0");
});

test("FIFO queue: order within a group, dedup and sequence numbers", async () => {
  const name = `${unique("node-fifo")}.fifo`;
  const { QueueUrl: url } = await client.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
  }));
  const seqs = [];
  for (let b = 0; b < 2; b++) {
    const entries = Array.from({ length: 10 }, (_, i) => ({
      Id: `e${i}`,
      MessageBody: `fifo-${String(b * 10 + i).padStart(2, "0")}`,
      MessageGroupId: "g1",
      MessageAttributes: { n: { DataType: "Number", StringValue: String(b * 10 + i) } },
    }));
    const r = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    assert.equal((r.Failed || []).length, 0);
    for (const e of entries) {
      const s = r.Successful.find((x) => x.Id === e.Id);
      assert.match(s.SequenceNumber, /^\d+$/);
      seqs.push(BigInt(s.SequenceNumber));
      assert.equal(s.MD5OfMessageAttributes, md5OfAttributes(e.MessageAttributes));
    }
  }
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], "SequenceNumber increases");
  // content-based duplicate of fifo-00: accepted, not delivered
  const dup = await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "fifo-00", MessageGroupId: "g1" }));
  assert.ok(dup.MessageId);

  const bodies = [];
  for (let i = 0; i < 25 && bodies.length < 20; i++) {
    const r = await client.send(new ReceiveMessageCommand({
      QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2,
      MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"],
    }));
    const msgs = r.Messages || [];
    for (const m of msgs) {
      assert.equal(m.Attributes.MessageGroupId, "g1");
      assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(m.MessageAttributes));
      bodies.push(m.Body);
    }
    if (msgs.length) {
      await client.send(new DeleteMessageBatchCommand({
        QueueUrl: url, Entries: msgs.map((m, j) => ({ Id: `d${j}`, ReceiptHandle: m.ReceiptHandle })),
      }));
    }
  }
  assert.deepEqual(bodies, Array.from({ length: 20 }, (_, i) => `fifo-${String(i).padStart(2, "0")}`));
  const r = await client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
  assert.equal((r.Messages || []).length, 0, "the duplicate was not delivered");
});

test("modeled error: QueueDoesNotExist", async () => {
  await assert.rejects(
    client.send(new GetQueueUrlCommand({ QueueName: unique("node-missing") })),
    (e) => {
      assert.ok(e instanceof QueueDoesNotExist, `${e.name}: ${e.message}`);
      assert.equal(e.$metadata.httpStatusCode, 400);
      return true;
    },
  );
});

test("unicode attribute names round-trip with matching MD5 (issue 17)", async () => {
  const url = await createQueue("node-uniname");
  const attrs = {
    "attr.1øßä": { DataType: "String", StringValue: "Valida" },
    "名前": { DataType: "Number", StringValue: "7" },
  };
  const sent = await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "names", MessageAttributes: attrs }));
  assert.equal(sent.MD5OfMessageAttributes, md5OfAttributes(attrs));
  const [m] = await receiveAll(url, 1);
  assert.deepEqual(normalize(m.MessageAttributes), normalize(attrs));
  await assert.rejects(
    client.send(new SendMessageCommand({
      QueueUrl: url, MessageBody: "x", MessageAttributes: { "a§b": { DataType: "String", StringValue: "v" } },
    })),
    (e) => {
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.name, "InvalidParameterValue", `${e.name}: ${e.message}`);
      return true;
    },
  );
});

test("FIFO batch with an entry lacking MessageGroupId fails the whole call (issue 17)", async () => {
  const name = `${unique("node-fifo-batch")}.fifo`;
  const { QueueUrl: url } = await client.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
  }));
  await assert.rejects(
    client.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [{ Id: "a", MessageBody: "1", MessageGroupId: "g" }, { Id: "b", MessageBody: "2" }],
    })),
    (e) => {
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.name, "InvalidParameterValue", `${e.name}: ${e.message}`);
      assert.equal(e.message, "The request must contain the parameter MessageGroupId.");
      return true;
    },
  );
  const a = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }));
  assert.equal(a.Attributes.ApproximateNumberOfMessages, "0", "nothing was sent");
});
