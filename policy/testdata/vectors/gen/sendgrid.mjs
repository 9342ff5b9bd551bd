// Generates policy/testdata/vectors/sendgrid.json: the published vectors of
// @sendgrid/eventwebhook's own tests, plus P-256 key pairs made here whose
// signatures (timestamp + body, SHA-256, DER, base64) Node's crypto makes;
// every vector is checked with EventWebhook.verifySignature.
// Run: npm install @sendgrid/eventwebhook && node sendgrid.mjs > ../sendgrid.json
import { createECDH, createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { createRequire } from "node:module";
import eventwebhook from "@sendgrid/eventwebhook";

const require = createRequire(import.meta.url);
const version = require("@sendgrid/eventwebhook/package.json").version;
const ew = new eventwebhook.EventWebhook();

function verifies(publicKey, body, signature, timestamp) {
  return ew.verifySignature(ew.convertPublicKeyToECDSA(publicKey), body, signature, timestamp);
}

// A P-256 key pair from a fixed label, so the keys stay put between runs.
function keyPair(label) {
  const d = createHash("sha256").update(label).digest();
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const b64u = (b) => b.toString("base64url");
  const jwk = { kty: "EC", crv: "P-256", d: b64u(d), x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33)) };
  const priv = createPrivateKey({ key: jwk, format: "jwk" });
  const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
  return { priv, publicKey: spki.toString("base64"), pem: createPublicKey(priv).export({ format: "pem", type: "spki" }) };
}

// From @sendgrid/eventwebhook src/eventwebhook.spec.js.
const published = {
  key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
  signature: "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
  timestamp: "1600112502",
  body: JSON.stringify([{
    email: "hello@world.com", event: "dropped", reason: "Bounced Address",
    sg_event_id: "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
    sg_message_id: "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
    timestamp: 1600112492,
  }]) + "\r\n",
};

const keys = { current: keyPair("hooktunnel sendgrid current"), old: keyPair("hooktunnel sendgrid old") };
const secrets = { published: published.key, current: keys.current.publicKey, old: keys.old.publicKey, current_pem: keys.current.pem };

function vector(name, secret, timestamp, body) {
  const signature = sign("sha256", Buffer.from(timestamp + body, "utf8"), keys[secret].priv).toString("base64");
  return entry(name, secret, timestamp, body, signature);
}

function entry(name, secret, timestamp, body, signature) {
  if (!verifies(secrets[secret], body, signature, timestamp)) throw new Error(`SDK refuses ${name}`);
  if (verifies(secrets[secret], body + "\n", signature, timestamp)) throw new Error(`SDK accepts an edited ${name}`);
  if (secret === "current" && !verifies(secrets.current_pem, body, signature, timestamp)) throw new Error(`SDK refuses ${name} with the PEM key`);
  return {
    name, secret, timestamp,
    headers: { "X-Twilio-Email-Event-Webhook-Signature": signature, "X-Twilio-Email-Event-Webhook-Timestamp": timestamp },
    body, valid: true,
  };
}

const events = JSON.stringify([
  { email: "a@example.com", event: "delivered", sg_event_id: "ZGVsaXZlcmVkLTAtMQ", sg_message_id: "m1.0", timestamp: 1700000000 },
  { email: "b@example.com", event: "open", sg_event_id: "b3Blbi0wLTI", sg_message_id: "m2.0", timestamp: 1700000001, useragent: "Mozilla/5.0 – ü" },
]) + "\r\n";

console.log(JSON.stringify({
  source: `npm @sendgrid/eventwebhook ${version} EventWebhook.verifySignature accepts every vector; "published single event" is from that package's src/eventwebhook.spec.js, the others are signed with Node ${process.version} crypto`,
  secrets,
  vectors: [
    entry("published single event", "published", published.timestamp, published.body, published.signature),
    vector("event batch", "current", "1700000100", events),
    vector("old key during rotation", "old", "1700000100", events),
  ],
}, null, 2));
