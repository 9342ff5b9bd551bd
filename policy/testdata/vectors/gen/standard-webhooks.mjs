// Generates policy/testdata/vectors/standard-webhooks.json with the official
// standardwebhooks and svix SDKs.
// Run: npm install standardwebhooks svix && node standard-webhooks.mjs > ../standard-webhooks.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Webhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";

const require = createRequire(import.meta.url);
const versionOf = (pkg) => {
  let dir = dirname(require.resolve(pkg));
  while (!dir.endsWith(join("node_modules", pkg))) dir = dirname(dir);
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
};

// current is the secret of the svix SDK's own test suite (src/webhook.test.ts).
const secrets = { current: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", old: "whsec_b2xkLXNlY3JldC1iZWZvcmUtcm90YXRpb24=" };
const iso = (sec) => new Date(sec * 1000).toISOString();

// verify runs the SDK at a fixed clock, with each secret in turn as a rotating receiver would.
function verdict(Sdk, body, headers, nowSec) {
  const realNow = Date.now;
  Date.now = () => nowSec * 1000;
  const errors = [];
  try {
    for (const s of ["current", "old"]) {
      try { new Sdk(secrets[s]).verify(body, headers); return ""; } catch (e) { errors.push(e.message); }
    }
  } finally { Date.now = realNow; }
  if (errors.some((m) => /too old/.test(m))) return "stale";
  if (errors.some((m) => /too new/.test(m))) return "future";
  return "bad";
}

function vector(name, { secret = "current", id, ts, body, names = "webhook", sigs = (s) => s, now = ts + 2, sdk = Webhook }) {
  const signature = sigs(new Webhook(secrets[secret]).sign(id, new Date(ts * 1000), body));
  const headers = { [`${names}-id`]: id, [`${names}-timestamp`]: String(ts), [`${names}-signature`]: signature };
  return { name, secret, headers, body, now: iso(now), want: verdict(sdk, body, headers, now), delivery_id: id, timestamp: iso(ts) };
}

// The svix test suite's "sign function works" vector, checked here so the fixture holds the published value.
const fixed = { id: "msg_p5jXN8AQM9LWM0D4loKWxJek", ts: 1614265330, body: '{"test": 2432232314}' };
const fixedSig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
if (new Webhook(secrets.current).sign(fixed.id, new Date(fixed.ts * 1000), fixed.body) !== fixedSig) {
  throw new Error("standardwebhooks no longer reproduces the svix test-suite vector");
}

const ts = 1735689600; // 2025-01-01T00:00:00Z
const body = JSON.stringify({ type: "invoice.paid", timestamp: "2025-01-01T00:00:00Z", data: { id: "inv_01", amount: 4200, note: "caf\u00e9" } });
const other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

const vectors = [
  vector("svix test-suite vector", { ...fixed }),
  vector("svix-* header names", { id: "msg_2a", ts, body, names: "svix", sdk: SvixWebhook }),
  vector("signed with the old secret", { secret: "old", id: "msg_2b", ts, body }),
  vector("several signatures, other versions ignored", {
    id: "msg_2c", ts, body, sigs: (s) => `v1a,${other.slice(3)} v2,${other.slice(3)} ${other} ${s}`,
  }),
  vector("empty body", { id: "msg_2d", ts, body: "" }),
  // Refused by the SDK: the Go verifier must refuse them too.
  vector("stale by one second past 5 min", { id: "msg_2e", ts, body, now: ts + 301 }),
  vector("future by one second past 5 min", { id: "msg_2f", ts, body, now: ts - 301 }),
  { ...vector("id differs from the signed one", { id: "msg_2g", ts, body }),
    headers: { "webhook-id": "msg_2h", "webhook-timestamp": String(ts), "webhook-signature": new Webhook(secrets.current).sign("msg_2g", new Date(ts * 1000), body) },
    want: "bad", delivery_id: "msg_2h" },
];
const last = vectors.at(-1);
if (verdict(Webhook, last.body, last.headers, ts + 2) !== "bad") throw new Error("SDK accepted a changed webhook-id");

console.log(JSON.stringify({
  source: `npm standardwebhooks ${versionOf("standardwebhooks")} and svix ${versionOf("svix")}: Webhook.sign signs, Webhook.verify (Date.now fixed to "now") decides "want"; the first vector is the svix test suite's "sign function works" case`,
  secrets, vectors,
}, null, 2));
