// Generates policy/testdata/vectors/twitch.json. Twitch publishes no webhook
// SDK; the signatures follow the sample in Twitch's docs ("Verifying the event
// message": HMAC-SHA256 of message id + timestamp + raw body, hex, prefixed
// "sha256="), computed with node:crypto, and "want" follows the docs' rules
// (signature must match; a timestamp older than 10 minutes is refused).
// Run: node twitch.mjs > ../twitch.json
import { createHmac, timingSafeEqual } from "node:crypto";

// Twitch requires secrets of 10 to 100 ASCII characters.
const secrets = { current: "s3cRe7-curr3nt-tw1tch-5ecret", old: "0ld-tw1tch-5ecret-bef0re-r0tati0n" };
const HMAC_PREFIX = "sha256=";
const TEN_MINUTES = 600_000;

// As in the docs' Node.js sample.
const getHmacMessage = (id, ts, body) => id + ts + body;
const getHmac = (secret, message) => createHmac("sha256", secret).update(message).digest("hex");
const verifyMessage = (hmac, verifySignature) => timingSafeEqual(Buffer.from(hmac), Buffer.from(verifySignature));

function verdict(headers, body, nowMs) {
  const message = getHmacMessage(headers["Twitch-Eventsub-Message-Id"], headers["Twitch-Eventsub-Message-Timestamp"], body);
  const sig = headers["Twitch-Eventsub-Message-Signature"];
  const ok = ["current", "old"].some((s) => {
    const want = HMAC_PREFIX + getHmac(secrets[s], message);
    return want.length === sig.length && verifyMessage(want, sig);
  });
  if (!ok) return "bad";
  const age = nowMs - Date.parse(headers["Twitch-Eventsub-Message-Timestamp"]);
  return age > TEN_MINUTES ? "stale" : age < -TEN_MINUTES ? "future" : "";
}

function vector(name, { secret = "current", id, ts, type, body, now = Date.parse(ts) + 1500, signedId = id, answer }) {
  const headers = {
    "Twitch-Eventsub-Message-Id": id,
    "Twitch-Eventsub-Message-Retry": "0",
    "Twitch-Eventsub-Message-Type": type,
    "Twitch-Eventsub-Message-Signature": HMAC_PREFIX + getHmac(secrets[secret], getHmacMessage(signedId, ts, body)),
    "Twitch-Eventsub-Message-Timestamp": ts,
    "Twitch-Eventsub-Subscription-Type": "channel.follow",
    "Twitch-Eventsub-Subscription-Version": "2",
  };
  const v = { name, secret, headers, body, now: new Date(now).toISOString(), want: verdict(headers, body, now), delivery_id: id, timestamp: ts };
  if (answer) v.answer = answer;
  return v;
}

const ts = "2025-01-01T00:00:00.123456789Z"; // RFC3339 with nanoseconds, as Twitch sends it
const subscription = {
  id: "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", status: "enabled", type: "channel.follow", version: "2", cost: 0,
  condition: { broadcaster_user_id: "12826", moderator_user_id: "12826" },
  transport: { method: "webhook", callback: "https://hooks.example.com/t/twitch/eventsub" }, created_at: "2024-12-31T23:59:00.634234626Z",
};
const notification = JSON.stringify({
  subscription,
  event: { user_id: "1337", user_login: "awesome_user", user_name: "Awesome_User", broadcaster_user_id: "12826", broadcaster_user_login: "twitch", broadcaster_user_name: "Twitch", followed_at: "2024-12-31T23:59:59.999999999Z" },
});
const challenge = "pogchamp-kappa-360noscope-vohiyo";
const verification = JSON.stringify({ challenge, subscription: { ...subscription, status: "webhook_callback_verification_pending" } });
const revocation = JSON.stringify({ subscription: { ...subscription, status: "authorization_revoked" } });

const vectors = [
  vector("notification", { id: "befa7b53-d79d-478f-86b9-120f112b044e", ts, type: "notification", body: notification }),
  vector("webhook_callback_verification", {
    id: "e76c6bd4-55c9-4987-8304-da1588d8988b", ts, type: "webhook_callback_verification", body: verification,
    answer: { status: 200, content_type: "text/plain", body: challenge },
  }),
  vector("revocation", { id: "84c1e79a-2a4b-4c13-ba0b-4312293e9308", ts, type: "revocation", body: revocation }),
  vector("signed with the old secret", { secret: "old", id: "0b7f7b8e-6d4c-4c2b-9d0e-3d3b1f3c2a11", ts, type: "notification", body: notification }),
  // Refused by the docs' rules: the Go verifier must refuse them too.
  vector("older than 10 minutes", { id: "5c4f1a2b-0000-4000-8000-000000000001", ts, type: "notification", body: notification, now: Date.parse(ts) + TEN_MINUTES + 1000 }),
  vector("message id differs from the signed one", { id: "5c4f1a2b-0000-4000-8000-000000000002", signedId: "5c4f1a2b-0000-4000-8000-000000000003", ts, type: "notification", body: notification }),
];

console.log(JSON.stringify({
  source: `Twitch docs (dev.twitch.tv/docs/eventsub/handling-webhook-events, "Verifying the event message" Node.js sample) computed with node:crypto on Node.js ${process.versions.node}; Twitch has no official webhook SDK`,
  secrets, vectors,
}, null, 2));
