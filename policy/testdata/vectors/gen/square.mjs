// Generates policy/testdata/vectors/square.json with the official square SDK.
// Run: npm install square && node square.mjs > ../square.json
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { WebhooksHelper } from "square";

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(require.resolve("square").replace(/index\.js$/, "package.json"), "utf8"));

// Square's published test notification, from the SDKs' own tests
// (square/square-java-sdk WebhooksHelperTest.java): key, URL and body give
// the signature below.
const docs = {
  key: "Ibxx_5AKakO-3qeNVR61Dw",
  url: "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9",
  body: '{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}',
  signature: "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
};

// The same test's body with characters JSON encoders like to escape.
const escaped = {
  key: "signature-key",
  url: "https://webhook.site/webhooks",
  body: '{"data":{"type":"webhooks","id":">id<"}}',
  signature: "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=",
};

const secrets = { current: docs.key, old: "0ld-square-signature-key", escaped: escaped.key };

async function vector(name, { secret = "current", url, body }) {
  const key = secrets[secret];
  // The SDK only verifies; sign with Node's crypto as its docs describe.
  const signature = createHmac("sha256", key).update(url + body, "utf8").digest("base64");
  const valid = await WebhooksHelper.verifySignature({ requestBody: body, signatureHeader: signature, signatureKey: key, notificationUrl: url });
  if (!valid) throw new Error(`SDK refuses ${name}`);
  return { name, secret, url, headers: { "X-Square-Hmacsha256-Signature": signature }, body, valid };
}

for (const ex of [docs, escaped]) {
  if (!(await WebhooksHelper.verifySignature({ requestBody: ex.body, signatureHeader: ex.signature, signatureKey: ex.key, notificationUrl: ex.url }))) {
    throw new Error("SDK refuses a published example");
  }
}
const vectors = [
  { name: "published test notification", secret: "current", url: docs.url, headers: { "X-Square-Hmacsha256-Signature": docs.signature }, body: docs.body, valid: true },
  { name: "published escaped body", secret: "escaped", url: escaped.url, headers: { "X-Square-Hmacsha256-Signature": escaped.signature }, body: escaped.body, valid: true },
  await vector("url with query", {
    url: "https://hooks.example.com/square?route=payments",
    body: '{"merchant_id":"M1","type":"payment.updated","event_id":"6a8f5f28-54a1-4eb0-a98a-3111513fd4fc","data":{}}',
  }),
  await vector("old key during rotation", { secret: "old", url: docs.url, body: docs.body }),
];

console.log(JSON.stringify({
  source: `npm square ${pkg.version}: WebhooksHelper.verifySignature accepts every vector; the "published" ones are the values in square/square-java-sdk src/test/java/com/squareup/square/utilities/WebhooksHelperTest.java`,
  secrets,
  vectors,
}, null, 2));
