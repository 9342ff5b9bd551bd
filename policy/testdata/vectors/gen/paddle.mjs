// Generates policy/testdata/vectors/paddle.json: Paddle Billing notifications
// signed with node:crypto as Paddle's docs describe, each judged by the
// official @paddle/paddle-node-sdk (Webhooks.isSignatureValid).
// Run: npm install @paddle/paddle-node-sdk && node paddle.mjs > ../paddle.json
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Paddle } from "@paddle/paddle-node-sdk";

const require = createRequire(import.meta.url);
let dir = dirname(require.resolve("@paddle/paddle-node-sdk"));
while (!dir.endsWith(join("@paddle", "paddle-node-sdk"))) dir = dirname(dir);
const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;

const secrets = {
  current: "pdl_ntfset_01jgexample0current0000000_7bQf3Xk9Lm2Np5Rs8Tv1Wy4Za6Cd",
  old: "pdl_ntfset_01jgexample0old000000000000_Q0o1d2S3e4c5r6e7t8B9e0f1o2r3",
};
const iso = (sec) => new Date(sec * 1000).toISOString();
const h1 = (secret, ts, body) => createHmac("sha256", secrets[secret]).update(`${ts}:${body}`).digest("hex");

// The SDK reads the clock with `new Date()`; pin it to "now".
const RealDate = Date;
function atClock(ms, fn) {
  globalThis.Date = class extends RealDate {
    constructor(...a) { super(...(a.length ? a : [ms])); }
    static now() { return ms; }
  };
  return fn().finally(() => { globalThis.Date = RealDate; });
}

const paddle = new Paddle("pdl_sdbx_apikey_unused");
async function verdict(body, header, nowSec) {
  for (const s of ["current", "old"]) {
    if (await atClock(nowSec * 1000, () => paddle.webhooks.isSignatureValid(body, secrets[s], header))) return "";
  }
  // The SDK answers false for both; tell stale from bad by re-checking at the signed time.
  const ts = Number(/ts=(\d+)/.exec(header)[1]);
  for (const s of ["current", "old"]) {
    if (await atClock(ts * 1000, () => paddle.webhooks.isSignatureValid(body, secrets[s], header))) return "stale";
  }
  return "bad";
}

async function vector(name, { secret = "current", ts, body, header, now = ts + 1, id }) {
  const h = header ?? `ts=${ts};h1=${h1(secret, ts, body)}`;
  return { name, secret, headers: { "Paddle-Signature": h }, body, now: iso(now), want: await verdict(body, h, now), delivery_id: id, timestamp: iso(ts) };
}

const ts = 1735689600; // 2025-01-01T00:00:00Z
const notification = (id) => JSON.stringify({
  event_id: "evt_01jgexample0000000000000001", event_type: "transaction.completed", occurred_at: "2025-01-01T00:00:00.000000Z",
  notification_id: id, data: { id: "txn_01jgexample000000000000001", status: "completed", currency_code: "EUR", details: { totals: { total: "4200" } }, custom_data: { note: "caf\u00e9" } },
});
const b1 = notification("ntf_01jgexample00000000000current");
const b2 = notification("ntf_01jgexample0000000000000old");

const vectors = [
  await vector("notification signed with the current secret", { ts, body: b1, id: "ntf_01jgexample00000000000current" }),
  await vector("notification signed with the old secret", { secret: "old", ts, body: b2, id: "ntf_01jgexample0000000000000old" }),
  // During rotation Paddle sends one h1 per secret. The SDK reads only the last h1, so it is judged with the old secret;
  // the Go verifier, configured [current, old], must match current first.
  await vector("rotation header with two h1 values", {
    ts, body: b2, header: `ts=${ts};h1=${h1("current", ts, b2)};h1=${h1("old", ts, b2)}`, id: "ntf_01jgexample0000000000000old",
  }),
  // Refused by the SDK: the Go verifier must refuse them too.
  await vector("stale by one second past 5 s", { ts, body: b1, now: ts + 6, id: "ntf_01jgexample00000000000current" }),
  await vector("signed over a different body", { ts, body: b1 + "\n", header: `ts=${ts};h1=${h1("current", ts, b1)}`, id: "ntf_01jgexample00000000000current" }),
];

console.log(JSON.stringify({
  source: `Paddle Billing scheme (HMAC-SHA256 of ts + ":" + body, as in the docs' "Verify webhook signatures") signed with node:crypto; npm @paddle/paddle-node-sdk ${version} Webhooks.isSignatureValid (clock fixed to "now", MAX_VALID_TIME_DIFFERENCE = 5 s) decides "want"`,
  secrets, vectors,
}, null, 2));
