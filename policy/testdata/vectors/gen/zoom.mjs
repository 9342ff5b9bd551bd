// Generates policy/testdata/vectors/zoom.json: events signed with node:crypto
// as Zoom's docs describe ("v0:" + timestamp + ":" + body), each judged by
// Zoom's official SDK @zoom/rivet, whose receiver also produces the
// endpoint.url_validation answer.
// Run: npm install @zoom/rivet && node zoom.mjs > ../zoom.json
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { AwsLambdaReceiver } from "@zoom/rivet/meetings";

const require = createRequire(import.meta.url);
let dir = dirname(require.resolve("@zoom/rivet/meetings"));
while (!dir.endsWith(join("@zoom", "rivet"))) dir = dirname(dir);
const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
console.debug = () => {}; // the receiver logs every event

const secrets = { current: "Zm9vYmFyQ3VycmVudFNlY3JldFRva2Vu", old: "b2xkU2VjcmV0VG9rZW5CZWZvcmVSb3Rh" };
const iso = (sec) => new Date(sec * 1000).toISOString();
const sign = (secret, ts, body) => "v0=" + createHmac("sha256", secrets[secret]).update(`v0:${ts}:${body}`).digest("hex");

// The receiver answers 200 only when the signature matches; it checks no timestamp.
async function judge(secret, body, headers) {
  const receiver = new AwsLambdaReceiver({ webhooksSecretToken: secrets[secret] });
  receiver.init({ eventEmitter: { emit: async () => {} } });
  return receiver.start()({ body, headers, isBase64Encoded: false }, {});
}

async function vector(name, { secret = "current", ts, body, signature, now = ts + 1 }) {
  const headers = { "x-zm-signature": signature ?? sign(secret, ts, body), "x-zm-request-timestamp": String(ts) };
  let want = "bad", answer;
  for (const s of ["current", "old"]) {
    const res = await judge(s, body, headers);
    if (res.statusCode !== 200) continue;
    want = "";
    if (JSON.parse(body).event === "endpoint.url_validation") {
      answer = { status: 200, content_type: res.headers["Content-Type"], body: res.body };
    }
    break;
  }
  const v = { name, secret, headers, body, now: iso(now), want, delivery_id: "", timestamp: iso(ts) };
  if (answer) v.answer = answer;
  return v;
}

const ts = 1735689600; // 2025-01-01T00:00:00Z
// Rivet verifies JSON.stringify(JSON.parse(body)), so bodies are compact JSON as Zoom sends them.
const started = JSON.stringify({
  event: "meeting.started", event_ts: ts * 1000 - 5,
  payload: { account_id: "AAAAAABBBB", object: { id: "1234567890", uuid: "4444AAAiAAAAAiAiAiiAii==", host_id: "x1yCzABCDEfg23HiJKl4mN", topic: "Caf\u00e9 sync", type: 2, start_time: "2025-01-01T00:00:00Z", timezone: "UTC", duration: 60 } },
});
const validation = (token) => JSON.stringify({ payload: { plainToken: token }, event_ts: ts * 1000 - 3, event: "endpoint.url_validation" });

const vectors = [
  await vector("meeting.started", { ts, body: started }),
  await vector("endpoint.url_validation answered with the current secret", { ts, body: validation("qgg8vlvZRS6UYooatFL8Aw") }),
  await vector("signed with the old secret", { secret: "old", ts, body: started }),
  await vector("endpoint.url_validation signed with the old secret is answered with it", { secret: "old", ts, body: validation("Vb0a7Rf8Qd2k4mN1pX3z6w") }),
  // Refused by the SDK: the Go verifier must refuse it too.
  await vector("signature over another timestamp", { ts, body: started, signature: sign("current", ts - 1, started) }),
];

console.log(JSON.stringify({
  source: `Zoom docs ("Verify webhook events": HMAC-SHA256 hex of v0:{x-zm-request-timestamp}:{body}) signed with node:crypto; npm @zoom/rivet ${version} AwsLambdaReceiver decides "want" and produces "answer" for endpoint.url_validation (Rivet checks no timestamp; the 5 min tolerance is the docs' recommendation)`,
  secrets, vectors,
}, null, 2));
