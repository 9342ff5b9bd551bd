// Generates policy/testdata/vectors/slack.json: Slack's documented example
// plus vectors signed with node:crypto as Slack's docs describe, every one
// judged by the official @slack/bolt verifySlackRequest.
// Run: npm install @slack/bolt && node slack.mjs > ../slack.json
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import bolt from "@slack/bolt";

const require = createRequire(import.meta.url);
const boltVersion = JSON.parse(readFileSync(join(dirname(require.resolve("@slack/bolt")), "..", "package.json"), "utf8")).version;

// current is the signing secret of the worked example in Slack's docs.
const secrets = { current: "8f742231b10e8888abcd99yyyzzz85a5", old: "0ld5ecret0f0ther4pp00000000000aa" };
const iso = (sec) => new Date(sec * 1000).toISOString();
const sign = (secret, ts, body) => "v0=" + createHmac("sha256", secrets[secret]).update(`v0:${ts}:${body}`).digest("hex");

function verdict(body, headers, nowSec) {
  const errors = [];
  for (const s of ["current", "old"]) {
    try {
      bolt.verifySlackRequest({ signingSecret: secrets[s], body, headers, nowMilliseconds: nowSec * 1000 });
      return "";
    } catch (e) { errors.push(e.message); }
  }
  return errors.some((m) => /stale/.test(m)) ? "stale" : "bad";
}

function vector(name, { secret = "current", ts, body, signature, now = ts + 60, id = "", answer }) {
  const headers = {
    "x-slack-signature": signature ?? sign(secret, ts, body),
    "x-slack-request-timestamp": String(ts),
  };
  const v = { name, secret, headers, body, now: iso(now), want: verdict(body, headers, now), delivery_id: id, timestamp: iso(ts) };
  if (answer) v.answer = answer;
  return v;
}

// https://api.slack.com/authentication/verifying-requests-from-slack, "Validating a request".
const docs = {
  ts: 1531420618,
  body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
  signature: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
};
if (sign("current", docs.ts, docs.body) !== docs.signature) throw new Error("node:crypto disagrees with Slack's documented example");

const ts = 1735689600; // 2025-01-01T00:00:00Z
const eventBody = JSON.stringify({
  token: "XXYYZZ", team_id: "T1DC2JH3J", api_app_id: "A0KRD7HC3", type: "event_callback", event_id: "Ev08MFMKH6", event_time: ts - 1,
  event: { type: "app_mention", user: "U2CERLKJA", text: "<@U0LAN0Z89> caf\u00e9?", ts: "1735689599.000200", channel: "C2147483705" },
});
const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
const verification = JSON.stringify({ token: "Jhj5dZrVaK7ZwHHjRyZWjbDl", challenge, type: "url_verification" });

const vectors = [
  vector("documented example (slash command form body)", { ...docs }),
  vector("events api event_callback", { ts, body: eventBody, id: "Ev08MFMKH6" }),
  vector("url_verification handshake", {
    ts, body: verification,
    answer: { status: 200, content_type: "application/json", body: JSON.stringify({ challenge }) },
  }),
  vector("signed with the old secret", { secret: "old", ts, body: eventBody, id: "Ev08MFMKH6" }),
  // Refused by the SDK: the Go verifier must refuse them too.
  vector("stale by one second past 5 min", { ts, body: eventBody, now: ts + 301, id: "Ev08MFMKH6" }),
  vector("documented signature over another timestamp", { ...docs, ts: docs.ts + 1 }),
];

console.log(JSON.stringify({
  source: `Slack docs (api.slack.com/authentication/verifying-requests-from-slack) worked example; other vectors signed with node:crypto as documented; npm @slack/bolt ${boltVersion} verifySlackRequest (nowMilliseconds = now) decides "want"`,
  secrets, vectors,
}, null, 2));
