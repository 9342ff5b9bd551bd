// Generates ../bitbucket-server.json: Bitbucket Data Center/Server webhook
// vectors. Its docs ("Manage webhooks", "Event payload") say a webhook with a
// secret carries X-Hub-Signature: "sha256=" + hex HMAC-SHA256 of the raw body
// (HmacSHA256 is the default and only documented algorithm) and an
// X-Request-Id UUID per request. Values come from node:crypto, cross-checked
// with `openssl dgst`.
//
//   node bitbucket-server.mjs [out.json]
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../bitbucket-server.json", import.meta.url);

function hubSignature(secret, body) {
  const node = createHmac("sha256", secret).update(body).digest("hex");
  const ssl = execFileSync("openssl", ["dgst", "-sha256", "-hmac", secret], { input: body }).toString().trim().split("= ")[1];
  if (node !== ssl) throw new Error(`node:crypto and openssl disagree: ${node} ${ssl}`);
  return "sha256=" + node;
}

const secret = "hooktunnel-bitbucket-server-secret";
const body = JSON.stringify({
  eventKey: "repo:refs_changed",
  date: "2025-01-01T00:00:00+0000",
  actor: { name: "admin", displayName: "Administrator" },
  repository: { slug: "repository", project: { key: "PROJ" } },
  changes: [{ ref: { id: "refs/heads/main", type: "BRANCH" }, fromHash: "ecddabb624f6f5ba43816f5926e580a5f680a932", toHash: "178864a7d521b6f5e720b386b2c2b0ef8563e0dc", type: "UPDATE" }],
});
const signature = hubSignature(secret, body);
const requestId = "a5bd1a5b-0c19-4e5e-93b9-2c4e6ab0b1d2";

const vectors = [
  {
    name: "repo:refs_changed",
    secret,
    method: "POST",
    url: "https://hooks.example.com/bitbucket-server",
    headers: { "X-Hub-Signature": signature, "X-Event-Key": "repo:refs_changed", "X-Request-Id": requestId },
    body,
    now: 1735689600,
    want: { signature, delivery_id: requestId },
  },
];

writeFileSync(out, JSON.stringify({ provider: "bitbucket-server", source: "Bitbucket Data Center docs (confluence.atlassian.com/bitbucketserver/manage-webhooks, event-payload); node:crypto HMAC-SHA256 cross-checked with openssl dgst", vectors }, null, 2) + "\n");
