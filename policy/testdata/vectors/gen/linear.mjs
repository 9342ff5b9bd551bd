// Generates ../linear.json: Linear webhook vectors. Linear's docs
// ("Webhooks" > "Securing webhooks") sign the raw body with HMAC-SHA256 keyed
// with the webhook's signing secret, hex, in Linear-Signature, and put the
// send time in the signed body as webhookTimestamp (Unix milliseconds). The
// official SDK, @linear/sdk, verifies but does not sign, so each body is
// signed with node:crypto and then checked with the SDK's
// LinearWebhookClient.verify() at the vector's time, and refused by it one
// minute and one second later (its tolerance is 60 s, both directions).
//
//   npm install @linear/sdk@98.0.0 && node linear.mjs [out.json]
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../linear.json", import.meta.url);
const secret = "lin_wh_4bR9x2Vq7LmP0sT3yK8nC5dF1gH6jZ";
const client = new LinearWebhookClient(secret);
const realNow = Date.now;

function sdkAccepts(body, signature, atMs) {
  Date.now = () => atMs;
  try {
    return client.verify(Buffer.from(body), signature);
  } catch {
    return false;
  } finally {
    Date.now = realNow;
  }
}

const nowMs = 1735689600123;
const deliveryID = "234d1a4e-b617-4388-90fe-adc3633d6b72";

function vector(name, payload, want) {
  const body = JSON.stringify(payload);
  const signature = createHmac("sha256", secret).update(body).digest("hex");
  const accepted = sdkAccepts(body, signature, nowMs);
  if (want.want_error === undefined) {
    if (!accepted) throw new Error(`${name}: @linear/sdk rejects it`);
    if (sdkAccepts(body, signature, nowMs + 61_000) || sdkAccepts(body, signature, nowMs - 61_000)) throw new Error(`${name}: @linear/sdk tolerance is not 60 s`);
  } else if (accepted) {
    throw new Error(`${name}: @linear/sdk accepts it`);
  }
  return {
    name,
    secret,
    method: "POST",
    url: "https://hooks.example.com/linear",
    headers: { "Linear-Signature": signature, "Linear-Delivery": deliveryID, "Linear-Event": payload.type ?? "Issue" },
    body,
    now: Math.floor(nowMs / 1000),
    ...(want.want_error ? { want_error: want.want_error } : { want: { signature, delivery_id: deliveryID, timestamp_ms: payload.webhookTimestamp } }),
  };
}

const issue = {
  action: "create",
  type: "Issue",
  createdAt: "2025-01-01T00:00:00.123Z",
  data: { id: "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9", identifier: "ENG-42", title: "Überprüfung der Webhooks ✓", teamId: "72b2a2dc-6f4f-4423-9d34-24b5bd10634a" },
  url: "https://linear.app/hooktunnel/issue/ENG-42",
  organizationId: "8f1d5f2c-3e4b-4a6c-9d7e-0a1b2c3d4e5f",
  webhookTimestamp: nowMs,
  webhookId: "000042e3-d123-4980-b49f-8e140eef9329",
};
const { webhookTimestamp: _, ...noTimestamp } = issue;

const vectors = [
  vector("Issue create", issue, {}),
  vector("signed body without webhookTimestamp", noTimestamp, { want_error: "timestamp_missing" }),
  vector("webhookTimestamp is a string", { ...issue, webhookTimestamp: String(nowMs) }, { want_error: "timestamp_missing" }),
];

writeFileSync(out, JSON.stringify({ provider: "linear", source: "Linear docs (linear.app/developers/webhooks#securing-webhooks); node:crypto HMAC-SHA256 hex, each vector checked with @linear/sdk 98.0.0 LinearWebhookClient.verify()", vectors }, null, 2) + "\n");
