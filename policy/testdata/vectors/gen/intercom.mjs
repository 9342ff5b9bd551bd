// Generates ../intercom.json: Intercom webhook notifications. Intercom's docs
// ("Webhooks" > "Signed notifications") sign each notification with the
// app's client secret: X-Hub-Signature is "sha1=" + hex HMAC-SHA1 of the raw
// body. Intercom's SDKs have no verifier, so values come from node:crypto,
// cross-checked with `openssl dgst`. The notification id in the signed body
// ("notif_...") is the delivery id; retries carry the same id.
//
//   node intercom.mjs [out.json]
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../intercom.json", import.meta.url);

function hubSignature(secret, body) {
  const node = createHmac("sha1", secret).update(body).digest("hex");
  const ssl = execFileSync("openssl", ["dgst", "-sha1", "-hmac", secret], { input: body }).toString().trim().split("= ")[1];
  if (node !== ssl) throw new Error(`node:crypto and openssl disagree: ${node} ${ssl}`);
  return "sha1=" + node;
}

const secret = "3c1e0d6f-0f5a-4d55-9f4c-6f8e2b7a9c10";
const notification = {
  type: "notification_event",
  app_id: "abc12def",
  data: { type: "notification_event_data", item: { type: "conversation", id: "147", title: "Où est ma commande ?" } },
  links: {},
  id: "notif_ccd8a4d2-c5a6-4c1e-9f2d-8b1a2e3f4c5d",
  topic: "conversation.user.created",
  delivery_status: "pending",
  delivery_attempts: 1,
  delivered_at: 0,
  first_sent_at: 1735689600,
  created_at: 1735689599,
  self: null,
};
const body = JSON.stringify(notification);
const signature = hubSignature(secret, body);

const ping = JSON.stringify({ type: "notification_event", app_id: "abc12def", data: { type: "notification_event_data", item: { type: "ping", message: "something something interzen" } }, topic: "ping", id: "notif_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" });
const pingSignature = hubSignature(secret, ping);

const vectors = [
  {
    name: "conversation.user.created",
    secret,
    method: "POST",
    url: "https://hooks.example.com/intercom",
    headers: { "X-Hub-Signature": signature },
    body,
    now: 1735689600,
    want: { signature, delivery_id: notification.id },
  },
  {
    name: "ping",
    secret,
    method: "POST",
    url: "https://hooks.example.com/intercom",
    headers: { "X-Hub-Signature": pingSignature },
    body: ping,
    now: 1735689600,
    want: { signature: pingSignature, delivery_id: "notif_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" },
  },
];

writeFileSync(out, JSON.stringify({ provider: "intercom", source: "Intercom docs (developers.intercom.com, Webhooks > Signed notifications); node:crypto HMAC-SHA1 cross-checked with openssl dgst", vectors }, null, 2) + "\n");
