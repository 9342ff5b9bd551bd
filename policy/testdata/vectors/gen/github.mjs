// Generates ../github.json: GitHub webhook vectors from GitHub's documented
// example and from @octokit/webhooks-methods, GitHub's official signing library.
//
//   npm install @octokit/webhooks-methods@6.0.0 && node github.mjs [out.json]
import { sign, verify } from "@octokit/webhooks-methods";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../github.json", import.meta.url);
const url = "https://hooks.example.com/github";
const now = 1735689600; // 2025-01-01T00:00:00Z; the scheme signs no time

// GitHub docs, "Validating webhook deliveries", "Testing the webhook payload validation".
const docsSecret = "It's a Secret to Everybody";
const docsBody = "Hello, World!";
const docsSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const docsSigned = await sign(docsSecret, docsBody);
if (docsSigned !== docsSignature) throw new Error(`octokit disagrees with the docs: ${docsSigned}`);

const pushSecret = "hooktunnel-github-secret";
const pushBody = JSON.stringify({
  ref: "refs/heads/main",
  before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  after: "59b20b8d5c6ff8d09518454d4dd8b7d30f095ab5",
  repository: { id: 17273051, full_name: "octo-org/octo-repo" },
  pusher: { name: "octocat", email: "octocat@github.com" },
  head_commit: { message: "Ünïcödé commit ✓" },
});
const pushSignature = await sign(pushSecret, pushBody);
if (!(await verify(pushSecret, pushBody, pushSignature))) throw new Error("octokit rejects its own signature");

// GitHub still sends X-Hub-Signature (HMAC-SHA1) for old receivers; a
// request that carries only that must be refused even when it is valid.
const sha1Signature = "sha1=" + createHmac("sha1", pushSecret).update(pushBody).digest("hex");

const vectors = [
  {
    name: "github docs example",
    source: "docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries (test values), checked with @octokit/webhooks-methods 6.0.0 sign()",
    secret: docsSecret,
    method: "POST",
    url,
    headers: { "X-Hub-Signature-256": docsSignature, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Event": "ping" },
    body: docsBody,
    now,
    want: { signature: docsSignature, delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958" },
  },
  {
    name: "push event signed by octokit",
    source: "@octokit/webhooks-methods 6.0.0 sign(), verified with its verify()",
    secret: pushSecret,
    method: "POST",
    url,
    headers: { "X-Hub-Signature-256": pushSignature, "X-Hub-Signature": sha1Signature, "X-GitHub-Delivery": "b7e4c2a0-1d2f-11f0-8a1b-0e5e4a9c7f21", "X-GitHub-Event": "push" },
    body: pushBody,
    now,
    want: { signature: pushSignature, delivery_id: "b7e4c2a0-1d2f-11f0-8a1b-0e5e4a9c7f21" },
  },
  {
    name: "only the SHA-1 header",
    source: "node:crypto createHmac('sha1') over the body, as GitHub computes X-Hub-Signature",
    secret: pushSecret,
    method: "POST",
    url,
    headers: { "X-Hub-Signature": sha1Signature, "X-GitHub-Delivery": "b7e4c2a0-1d2f-11f0-8a1b-0e5e4a9c7f21" },
    body: pushBody,
    now,
    want_error: "signature_missing",
  },
];

writeFileSync(out, JSON.stringify({ provider: "github", source: "GitHub docs test values and @octokit/webhooks-methods 6.0.0 (npm)", vectors }, null, 2) + "\n");
