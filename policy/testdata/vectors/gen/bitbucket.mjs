// Generates ../bitbucket.json: Bitbucket Cloud webhook vectors. Bitbucket
// publishes no signing SDK; its docs ("Manage webhooks", "Secure webhooks")
// say X-Hub-Signature is "sha256=" + hex HMAC-SHA256 of the raw body keyed
// with the webhook secret. Each value is computed with node:crypto and
// cross-checked with `openssl dgst`.
//
//   node bitbucket.mjs [out.json]
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../bitbucket.json", import.meta.url);

function hubSignature(secret, body) {
  const node = createHmac("sha256", secret).update(body).digest("hex");
  const ssl = execFileSync("openssl", ["dgst", "-sha256", "-hmac", secret], { input: body }).toString().trim().split("= ")[1];
  if (node !== ssl) throw new Error(`node:crypto and openssl disagree: ${node} ${ssl}`);
  return "sha256=" + node;
}

const secret = "hooktunnel-bitbucket-secret";
const body = JSON.stringify({
  push: { changes: [{ new: { type: "branch", name: "main", target: { hash: "709d658dc5b6d6afcd46049c2f332ee3f515a67d" } } }] },
  repository: { type: "repository", full_name: "team_name/repo_name", uuid: "{b8ad1d0c-f1e2-4b4f-8d0c-7f4c6b6e3a90}" },
  actor: { type: "user", display_name: "Émilie Dupré" },
});
const signature = hubSignature(secret, body);
const requestUUID = "0c9d6b38-4bb4-4f3d-9c77-2b6f2f6a1e55";

const vectors = [
  {
    name: "repo:push",
    secret,
    method: "POST",
    url: "https://hooks.example.com/bitbucket",
    headers: {
      "X-Hub-Signature": signature,
      "X-Event-Key": "repo:push",
      "X-Hook-UUID": "{c9a4a1b2-5e0f-4c47-9d3e-1f2a3b4c5d6e}",
      "X-Request-UUID": requestUUID,
      "X-Attempt-Number": "1",
    },
    body,
    now: 1735689600,
    want: { signature, delivery_id: requestUUID },
  },
];

writeFileSync(out, JSON.stringify({ provider: "bitbucket", source: "Bitbucket Cloud docs (support.atlassian.com/bitbucket-cloud/docs/manage-webhooks, event-payloads); node:crypto HMAC-SHA256 cross-checked with openssl dgst", vectors }, null, 2) + "\n");
