// Generates policy/testdata/vectors/hubspot.json with the official
// @hubspot/api-client Signature helper (signature v3).
// Run: npm install @hubspot/api-client && node hubspot.mjs > ../hubspot.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import hubspot from "@hubspot/api-client";

const require = createRequire(import.meta.url);
let dir = dirname(require.resolve("@hubspot/api-client"));
while (!dir.endsWith(join("@hubspot", "api-client"))) dir = dirname(dir);
const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
const { Signature } = hubspot;

// current is the client secret of HubSpot's documented examples.
const secrets = { current: "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", old: "0ld00000-0000-0000-0000-000000000000" };
const iso = (ms) => new Date(ms).toISOString();

// HubSpot's docs: before signing, decode these URL-encoded characters in the
// URI. The SDK signs the string it is given, so the decoding is done here.
const decoded = { "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";" };
const decodeURI = (u) => u.replace(/%[0-9A-Fa-f]{2}/g, (m) => decoded[m.toUpperCase()] ?? m);

function verdict(options, nowMs) {
  const realNow = Date.now;
  Date.now = () => nowMs;
  const errors = [];
  try {
    for (const s of ["current", "old"]) {
      try {
        if (Signature.isValid({ ...options, clientSecret: secrets[s], signatureVersion: "v3" })) return "";
        errors.push("mismatch");
      } catch (e) { errors.push(e.message); }
    }
  } finally { Date.now = realNow; }
  return errors.some((m) => /Timestamp/.test(m)) ? "stale" : "bad";
}

function vector(name, { secret = "current", method = "POST", url, body = "", ts, now = ts + 2000, signedUrl = decodeURI(url) }) {
  const signature = Signature.getSignature(method, "v3", { clientSecret: secrets[secret], url: signedUrl, requestBody: body, timestamp: ts });
  const headers = { "X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": String(ts) };
  return {
    name, secret, method, url, signed_url: signedUrl, headers, body, now: iso(now),
    want: verdict({ method, url: signedUrl, requestBody: body, timestamp: ts, signature }, now), delivery_id: "", timestamp: iso(ts),
  };
}

const ts = 1735689600123; // 2025-01-01T00:00:00.123Z, in milliseconds as HubSpot sends it
const body = JSON.stringify([{ eventId: 1, subscriptionId: 12345, portalId: 62515, occurredAt: ts - 1000, subscriptionType: "contact.creation", attemptNumber: 0, objectId: 123, changeSource: "CRM", changeFlag: "NEW", appId: 54321 }]);

const vectors = [
  vector("webhook batch", { url: "https://hooks.example.com/t/hubspot/events", body, ts }),
  vector("encoded characters in the query are signed decoded", {
    url: "https://hooks.example.com/t/hubspot/events?email=jane%40example.com&next=%2Fcrm%3Fa%3D1&tag=%28vip%29%2A%21&k=a%3Bb%2Cc%24%27&sp=a%20b%26c%3D", body, ts,
  }),
  vector("lower-case escapes are decoded too", { url: "https://hooks.example.com/t/hubspot/events?email=jane%40example.com&next=%2fcrm%3a1", body, ts }),
  vector("GET without a body", { method: "GET", url: "https://hooks.example.com/t/hubspot/card?userId=1&portalId=62515", ts }),
  vector("signed with the old secret", { secret: "old", url: "https://hooks.example.com/t/hubspot/events", body, ts }),
  // Refused by the SDK: the Go verifier must refuse it too.
  vector("stale by one ms past 5 min", { url: "https://hooks.example.com/t/hubspot/events", body, ts, now: ts + 300001 }),
];

console.log(JSON.stringify({
  source: `npm @hubspot/api-client ${version}: Signature.getSignature(v3) signs the URI decoded as HubSpot's "Validating requests" docs require (%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B), Signature.isValid (Date.now fixed to "now") decides "want" against "signed_url"; "url" is the URL as received`,
  secrets, vectors,
}, null, 2));
