// Generates ../gitlab.json: GitLab webhook vectors for both of GitLab's schemes.
//
// Signing token (GitLab MR !230944, "Add webhook HMAC signing token"): the
// token is "whsec_" + base64 of a 32-byte key, and GitLab sends Standard
// Webhooks headers: webhook-id (equal to Idempotency-Key), webhook-timestamp
// (Unix seconds) and webhook-signature "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>". GitLab's own test server verifies them with the
// standardwebhooks library, which is what signs and checks them here.
//
// Secret token (docs.gitlab.com, "Webhooks" > "Validate payloads by using a
// secret token"): X-Gitlab-Token carries the token itself; nothing is signed.
//
//   npm install standardwebhooks@1.1.1 && node gitlab.mjs [out.json]
import { Webhook } from "standardwebhooks";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../gitlab.json", import.meta.url);
const now = 1735689600;
const url = "https://hooks.example.com/gitlab";
const signingToken = "whsec_" + Buffer.from("hooktunnel-gitlab-signing-key-32").toString("base64");
const wh = new Webhook(signingToken);
const idempotencyKey = "f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const body = JSON.stringify({
  object_kind: "push",
  event_name: "push",
  before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
  after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  ref: "refs/heads/main",
  user_name: "Jöhn Smïth",
  project: { id: 15, path_with_namespace: "mike/diaspora" },
  total_commits_count: 1,
});

function signed(name, extra = "") {
  const v1 = wh.sign(idempotencyKey, new Date(now * 1000), body);
  const signature = extra + v1;
  const headers = {
    "webhook-id": idempotencyKey,
    "webhook-timestamp": String(now),
    "webhook-signature": signature,
    "Idempotency-Key": idempotencyKey,
    "X-Gitlab-Event": "Push Hook",
    "X-Gitlab-Webhook-UUID": "3e5c5c7a-9b7e-4d2f-a1c4-8f0e2d6b9a13",
    "X-Gitlab-Event-UUID": "7a4e2b1c-0d3f-4e5a-9b8c-6d1e2f3a4b5c",
    "X-Gitlab-Instance": "https://gitlab.com",
  };
  const realNow = Date.now;
  Date.now = () => now * 1000;
  try {
    wh.verify(body, headers);
  } finally {
    Date.now = realNow;
  }
  return {
    name,
    source: "standardwebhooks 1.1.1 Webhook.sign(), checked with Webhook.verify()",
    secret: signingToken,
    method: "POST",
    url,
    headers,
    body,
    now,
    // The matching entry is the duplicate key, not the whole list.
    want: { signature: v1, delivery_id: idempotencyKey, timestamp_ms: now * 1000 },
  };
}

const token = "hooktunnel-gitlab-secret-token";
const vectors = [
  signed("signing token, push hook"),
  signed("signing token, other versions listed first", "v1a,c29tZSBhc3ltbWV0cmljIHNpZ25hdHVyZQ== v2,AAAA "),
  {
    name: "secret token, push hook",
    source: "docs.gitlab.com/user/project/integrations/webhooks (secret token, delivery headers)",
    secret: token,
    method: "POST",
    url,
    headers: {
      "X-Gitlab-Token": token,
      "Idempotency-Key": idempotencyKey,
      "X-Gitlab-Event": "Push Hook",
      "X-Gitlab-Webhook-UUID": "3e5c5c7a-9b7e-4d2f-a1c4-8f0e2d6b9a13",
      "X-Gitlab-Event-UUID": "7a4e2b1c-0d3f-4e5a-9b8c-6d1e2f3a4b5c",
    },
    body,
    now,
    want: { signature: "", delivery_id: idempotencyKey },
  },
];

writeFileSync(out, JSON.stringify({ provider: "gitlab", source: "standardwebhooks 1.1.1 (npm) for GitLab's signing token; GitLab docs for the X-Gitlab-Token secret token", vectors }, null, 2) + "\n");
