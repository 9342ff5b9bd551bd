// Generates policy/testdata/vectors/discord.json: Ed25519 key pairs from
// fixed seeds, signatures over timestamp+body made with Node's crypto, each
// checked with the official discord-interactions verifyKey.
// Run: npm install discord-interactions && node discord.mjs > ../discord.json
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { createRequire } from "node:module";
import { verifyKey } from "discord-interactions";

const require = createRequire(import.meta.url);
const version = require("discord-interactions/package.json").version;

// A PKCS#8 Ed25519 private key is this prefix and the 32-byte seed.
function keyPair(label) {
  const seed = createHash("sha256").update(label).digest();
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
  return { priv, publicHex: spki.subarray(-32).toString("hex") };
}

const keys = { current: keyPair("hooktunnel discord current"), old: keyPair("hooktunnel discord old") };

async function vector(name, secret, timestamp, body) {
  const { priv, publicHex } = keys[secret];
  const signature = sign(null, Buffer.from(timestamp + body, "utf8"), priv).toString("hex");
  if (!(await verifyKey(body, signature, timestamp, publicHex))) throw new Error(`verifyKey refuses ${name}`);
  if (await verifyKey(body + "\n", signature, timestamp, publicHex)) throw new Error(`verifyKey accepts an edited ${name}`);
  return {
    name, secret, timestamp,
    headers: { "X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp },
    body, valid: true,
  };
}

const ping = '{"application_id":"1234567890","id":"9876543210","token":"aW50ZXJhY3Rpb24","type":1,"version":1}';
const command = JSON.stringify({
  application_id: "1234567890", id: "1189012345678901234", token: "aW50ZXJhY3Rpb24", type: 2, version: 1,
  data: { id: "771825006014889984", name: "blep", type: 1, options: [{ name: "animal", type: 3, value: "🦊 fox" }] },
});

console.log(JSON.stringify({
  source: `Node ${process.version} crypto sign (Ed25519), each vector accepted by npm discord-interactions ${version} verifyKey`,
  secrets: { current: keys.current.publicHex, old: keys.old.publicHex },
  vectors: [
    await vector("ping", "current", "1700000000", ping),
    await vector("application command", "current", "1700000123", command),
    await vector("old key during rotation", "old", "1700000000", command),
  ],
}, null, 2));
