// Generates policy/testdata/vectors/pagerduty.json. The first vector is the
// one in PagerDuty's own go-pagerduty webhookv3 tests; the others are signed
// and judged with the JavaScript sample of PagerDuty's "Verifying Signatures"
// docs (HMAC-SHA256 of the raw body, hex, "v1=" entries joined with ",").
// Run: node pagerduty.mjs > ../pagerduty.json
import { createHmac } from "node:crypto";

// current is the secret of go-pagerduty's webhookv3 tests.
const secrets = { current: "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK", old: "0ldPagerDutySecretBeforeRotation+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };

// The docs' PagerDutyVerifier.verify.
const verify = (key, version, payload, signatures) => {
  const signature = createHmac("sha256", key).update(payload).digest("hex");
  return signatures.split(",").indexOf(version + "=" + signature) > -1;
};
const sign = (secret, body) => "v1=" + createHmac("sha256", secrets[secret]).update(body).digest("hex");

function vector(name, { secret = "current", body, signature = sign(secret, body), webhookId, id }) {
  const headers = { "X-PagerDuty-Signature": signature, "Content-Type": "application/json" };
  if (webhookId) {
    headers["X-Webhook-Id"] = webhookId;
    headers["X-Webhook-Subscription"] = "PY1OGF6";
  }
  const ok = ["current", "old"].some((s) => verify(secrets[s], "v1", body, signature));
  return { name, secret, headers, body, want: ok ? "" : "bad", delivery_id: id };
}

// go-pagerduty webhookv3/webhookv3_test.go: defaultBody and its "valid" signature.
const goBody = `{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}`;
const goSig = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd";
if (sign("current", goBody) !== goSig) throw new Error("node:crypto disagrees with go-pagerduty's test vector");

const body = JSON.stringify({ event: {
  id: "5ac64822-4adc-4fda-ade0-410becf0de4f", event_type: "incident.annotated", resource_type: "incident", occurred_at: "2025-01-01T00:00:00.000Z",
  agent: null, client: null, data: { id: "P2LA89X", type: "incident_note", content: "Caf\u00e9 is down \u2615", trimmed: false },
} });

const vectors = [
  vector("go-pagerduty test vector without X-Webhook-Id", { body: goBody, signature: goSig, id: "01BWDWL3NYY7LUFPZCC28QUCMK" }),
  vector("delivery with X-Webhook-Id", { body, webhookId: "01FJHPN9SDRJ3HCVFBWV9ZA4CB", id: "01FJHPN9SDRJ3HCVFBWV9ZA4CB" }),
  vector("rotation header with both signatures", { body, signature: `${sign("current", body)},${sign("old", body)}`, webhookId: "01FJHPN9SDRJ3HCVFBWV9ZA4CC", id: "01FJHPN9SDRJ3HCVFBWV9ZA4CC" }),
  vector("signed with the old secret", { secret: "old", body, webhookId: "01FJHPN9SDRJ3HCVFBWV9ZA4CD", id: "01FJHPN9SDRJ3HCVFBWV9ZA4CD" }),
  // Refused by the docs' algorithm: the Go verifier must refuse it too (go-pagerduty's "mismatch" case).
  vector("go-pagerduty mismatch vector", { body: goBody, signature: "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5", id: "01BWDWL3NYY7LUFPZCC28QUCMK" }),
];

console.log(JSON.stringify({
  source: "go-pagerduty webhookv3/webhookv3_test.go (first and last vectors); PagerDuty developer docs \"Verifying Signatures\" JavaScript sample, run with node:crypto, signs the others and decides \"want\"",
  secrets, vectors,
}, null, 2));
