// Generates policy/testdata/vectors/teams.json the way Microsoft's outgoing
// webhook sample (OfficeDev/msteams-samples-outgoing-webhook-nodejs app.js)
// computes the Authorization header: "HMAC " + base64(HMAC-SHA256(body))
// keyed with the base64-decoded security token.
// Run: node teams.mjs > ../teams.json
import { createHmac } from "node:crypto";

const secrets = {
  // The sample's own example token.
  current: "+ZaRRMC8+mpnfGaGsBOmkIFt98bttL5YQRq3p2tXgcE=",
  old: Buffer.from("hooktunnel: an older teams token").toString("base64"),
};

function sign(token, body) {
  return "HMAC " + createHmac("sha256", Buffer.from(token, "base64")).update(Buffer.from(body, "utf8")).digest("base64");
}

// An outgoing webhook activity as shown in Microsoft's docs, trimmed.
const body = JSON.stringify({
  type: "message",
  id: "1485983408511",
  timestamp: "2017-02-01T21:10:07.437Z",
  serviceUrl: "https://smba.trafficmanager.net/amer-client-ss.msg/",
  channelId: "msteams",
  from: { id: "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB25ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw", name: "Tim Jones" },
  conversation: { id: "19:253b1f341670408fb6fe51050b6e5ceb@thread.skype;messageid=1485983194839" },
  text: "<at>Sample Outgoing Webhook</at> Hello – naïve café",
});

function vector(name, secret, b) {
  return { name, secret, headers: { Authorization: sign(secrets[secret], b) }, body: b };
}

console.log(JSON.stringify({
  source: `Node ${process.version} crypto, computed as in Microsoft's sample OfficeDev/msteams-samples-outgoing-webhook-nodejs app.js (secret "current" is that sample's token)`,
  secrets,
  vectors: [
    vector("outgoing webhook message", "current", body),
    vector("old token during rotation", "old", body),
  ],
}, null, 2));
