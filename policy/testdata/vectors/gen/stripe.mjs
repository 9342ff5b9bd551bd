// Generates policy/testdata/vectors/stripe.json with the official stripe SDK.
// Run: npm install stripe && node stripe.mjs > ../stripe.json
import Stripe from "stripe";

const version = Stripe.PACKAGE_VERSION;
// The webhook helpers never call the API; the key is only there to construct the client.
const stripe = new Stripe("sk_test_unused");

const secrets = { current: "whsec_5d4c3b2a19f8e7d6c5b4a39281706f5e", old: "whsec_0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0l" };
const ts = 1735689600; // 2025-01-01T00:00:00Z
const iso = (sec) => new Date(sec * 1000).toISOString();

const event = (id, type) => JSON.stringify({
  id, object: "event", api_version: "2024-06-20", created: ts - 2,
  data: { object: { id: "pi_3QexampleA", object: "payment_intent", amount: 2000, currency: "usd", description: "caf\u00e9 \u2615" } },
  livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
}, null, 2);

const header = (body, secret, timestamp = ts) =>
  stripe.webhooks.generateTestHeaderString({ payload: body, secret: secrets[secret], timestamp });
const sigOf = (h) => h.split(",").find((p) => p.startsWith("v1="));

// verdict runs constructEvent with each secret in turn, as a rotating receiver would.
function verdict(body, h, nowSec) {
  const errors = [];
  for (const s of ["current", "old"]) {
    try {
      stripe.webhooks.constructEvent(body, h, secrets[s], undefined, undefined, nowSec * 1000);
      return "";
    } catch (e) { errors.push(e.message); }
  }
  return errors.some((m) => /tolerance/.test(m)) ? "stale" : "bad";
}

function vector(name, { secret = "current", body, headerValue, now = ts + 3, id }) {
  const h = headerValue ?? header(body, secret);
  return {
    name, secret, headers: { "Stripe-Signature": h }, body, now: iso(now),
    want: verdict(body, h, now), delivery_id: id, timestamp: iso(ts),
  };
}

const body1 = event("evt_1QexampleCurrent", "payment_intent.succeeded");
const body2 = event("evt_1QexampleOld", "charge.refunded");
const both = `t=${ts},${sigOf(header(body2, "current"))},${sigOf(header(body2, "old"))},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39`;

const vectors = [
  vector("event signed with the current secret", { body: body1, id: "evt_1QexampleCurrent" }),
  vector("event signed with the old secret", { secret: "old", body: body2, id: "evt_1QexampleOld" }),
  vector("rotation header with both v1 signatures and a v0", { body: body2, headerValue: both, id: "evt_1QexampleOld" }),
  // Refused by the SDK: the Go verifier must refuse them too.
  vector("stale by one second past 300 s", { body: body1, now: ts + 301, id: "evt_1QexampleCurrent" }),
  vector("signed over a different body", { body: body1 + " ", headerValue: header(body1, "current"), id: "evt_1QexampleCurrent" }),
];

console.log(JSON.stringify({
  source: `npm stripe ${version}: stripe.webhooks.generateTestHeaderString signs, stripe.webhooks.constructEvent (default tolerance, receivedAt = now) decides "want"`,
  secrets, vectors,
}, null, 2));
