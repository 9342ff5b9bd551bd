// Generates ../atlassian.json: Jira/Confluence Cloud admin webhooks with a
// secret. Atlassian's docs (developer.atlassian.com/cloud/jira/platform/webhooks,
// "Secure admin webhooks") follow WebSub: X-Hub-Signature is
// "method=signature", method "sha256", hex HMAC-SHA256 of the raw body; the
// delivery is identified by X-Atlassian-Webhook-Identifier, unchanged across
// retries. Atlassian publishes no signing SDK, so values come from
// node:crypto, cross-checked with `openssl dgst`.
//
//   node atlassian.mjs [out.json]
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../atlassian.json", import.meta.url);

function hubSignature(secret, body) {
  const node = createHmac("sha256", secret).update(body).digest("hex");
  const ssl = execFileSync("openssl", ["dgst", "-sha256", "-hmac", secret], { input: body }).toString().trim().split("= ")[1];
  if (node !== ssl) throw new Error(`node:crypto and openssl disagree: ${node} ${ssl}`);
  return "sha256=" + node;
}

const secret = "Xk2pQ9vR4tY7wZ1aB3cD5eF8gH0jK6mN";
const body = JSON.stringify({
  timestamp: 1735689600000,
  webhookEvent: "jira:issue_created",
  issue_event_type_name: "issue_created",
  user: { accountId: "5b10a2844c20165700ede21g", displayName: "Mia Krystof" },
  issue: { id: "10002", key: "TEST-3", fields: { summary: "Ça marche — déploiement bloqué" } },
});
const signature = hubSignature(secret, body);
const identifier = "3196-e1f2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8";

const vectors = [
  {
    name: "jira:issue_created",
    secret,
    method: "POST",
    url: "https://hooks.example.com/jira",
    headers: {
      "X-Hub-Signature": signature,
      "X-Atlassian-Webhook-Identifier": identifier,
      "X-Atlassian-Webhook-Flow": "Primary",
    },
    body,
    now: 1735689600,
    want: { signature, delivery_id: identifier },
  },
];

writeFileSync(out, JSON.stringify({ provider: "atlassian", source: "Atlassian docs (developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks); node:crypto HMAC-SHA256 cross-checked with openssl dgst", vectors }, null, 2) + "\n");
