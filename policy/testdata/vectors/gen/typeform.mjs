// Generates ../typeform.json: Typeform webhooks with a secret. Typeform's docs
// ("Secure your webhooks") sign the raw body with HMAC-SHA256 keyed with the
// webhook secret and send "sha256=" + base64 digest in Typeform-Signature.
// Typeform publishes no verifier SDK, so values come from node:crypto,
// cross-checked with `openssl dgst -binary | base64`. Typeform sends no
// delivery id header; the signed body's event_id is the id.
//
//   node typeform.mjs [out.json]
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../typeform.json", import.meta.url);

function typeformSignature(secret, body) {
  const node = createHmac("sha256", secret).update(body).digest("base64");
  const raw = execFileSync("openssl", ["dgst", "-sha256", "-hmac", secret, "-binary"], { input: body });
  const ssl = raw.toString("base64");
  if (node !== ssl) throw new Error(`node:crypto and openssl disagree: ${node} ${ssl}`);
  return "sha256=" + node;
}

const secret = "hooktunnel-typeform-secret";
const body = JSON.stringify({
  event_id: "01JGGYJN0Z3K8X4V6W2T9R5Q7M",
  event_type: "form_response",
  form_response: {
    form_id: "lT4Z3j",
    token: "a3a12ec67a1365927098a606107fac15",
    submitted_at: "2025-01-01T00:00:00Z",
    answers: [{ type: "text", text: "Ñandú — ça va ✓", field: { id: "SMEUb7VJz92Q", type: "short_text" } }],
  },
});
const signature = typeformSignature(secret, body);

const vectors = [
  {
    name: "form_response",
    secret,
    method: "POST",
    url: "https://hooks.example.com/typeform",
    headers: { "Typeform-Signature": signature },
    body,
    now: 1735689600,
    want: { signature, delivery_id: "01JGGYJN0Z3K8X4V6W2T9R5Q7M" },
  },
];

writeFileSync(out, JSON.stringify({ provider: "typeform", source: "Typeform docs (typeform.com/developers/webhooks/secure-your-webhooks); node:crypto HMAC-SHA256 base64 cross-checked with openssl dgst", vectors }, null, 2) + "\n");
