// Generates ../hmac.json: vectors for hooktunnel's generic "hmac" provider,
// whose scheme is described entirely by the route's verify config. Each
// signature is computed twice, independently of the Go code: with
// node:crypto and with `openssl dgst`, and the two must agree.
//
//   node hmac.mjs [out.json]
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../hmac.json", import.meta.url);

function mac(algorithm, encoding, secret, content) {
  const node = createHmac(algorithm, secret).update(content).digest(encoding);
  const raw = execFileSync("openssl", ["dgst", "-" + algorithm, "-hmac", secret, "-binary"], { input: content });
  const ssl = raw.toString(encoding);
  if (node !== ssl) throw new Error(`node:crypto and openssl disagree: ${node} ${ssl}`);
  return node;
}

const now = 1735689600;
const body = JSON.stringify({ id: "evt_7Qm2", type: "invoice.paid", amount: 4200, note: "Grüße ✓" });
const vectors = [];

{
  const secret = "hooktunnel-generic-default";
  const sig = mac("sha256", "hex", secret, body);
  vectors.push({
    name: "defaults: sha256, hex, body only",
    config: { provider: "hmac", header: "X-Signature" },
    secret, method: "POST", url: "https://hooks.example.com/generic", headers: { "X-Signature": sig }, body, now,
    want: { signature: sig },
  });
}
{
  const secret = "hooktunnel-generic-timestamped";
  const ts = String(now);
  const sig = "sha512=" + mac("sha512", "base64", secret, `${ts}.${body}`);
  vectors.push({
    name: "sha512, base64, prefix, timestamp and id headers",
    config: { provider: "hmac", header: "X-Webhook-Signature", algorithm: "sha512", encoding: "base64", prefix: "sha512=", template: "{timestamp}.{body}", timestamp_header: "X-Webhook-Timestamp", id_header: "X-Webhook-Id" },
    secret, method: "POST", url: "https://hooks.example.com/generic", headers: { "X-Webhook-Signature": sig, "X-Webhook-Timestamp": ts, "X-Webhook-Id": "msg_2b9f0c1e" }, body, now,
    want: { signature: sig, delivery_id: "msg_2b9f0c1e", timestamp_ms: now * 1000 },
  });
}
{
  const secret = "hooktunnel-generic-request-line";
  const url = "https://hooks.example.com/generic/orders?shop=acme&lang=fr%C3%A9";
  const content = `POST\n${url}\nacct_42\n${body}`;
  const sig = "v1=" + mac("sha1", "hex", secret, content);
  vectors.push({
    name: "sha1, method, url and a header in the signed content",
    config: { provider: "hmac", header: "X-Request-Signature", algorithm: "sha1", prefix: "v1=", template: "{method}\n{url}\n{header:X-Account}\n{body}" },
    secret, method: "POST", url, headers: { "X-Request-Signature": sig, "X-Account": "acct_42" }, body, now,
    want: { signature: sig },
  });
}

writeFileSync(out, JSON.stringify({ provider: "hmac", source: "node:crypto createHmac, cross-checked with openssl dgst -hmac (OpenSSL 3.0)", vectors }, null, 2) + "\n");
