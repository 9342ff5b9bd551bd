// Generates policy/testdata/vectors/twilio.json with the official twilio SDK.
// Run: npm install twilio && node twilio.mjs > ../twilio.json
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import querystring from "node:querystring";
import twilio from "twilio";

const require = createRequire(import.meta.url);
const version = require("twilio/package.json").version;
const { getExpectedTwilioSignature, validateRequest, validateRequestWithBody } = twilio;

const secrets = { current: "12345", old: "0ld-auth-token-before-rotation" };
const form = "application/x-www-form-urlencoded";

// Express's urlencoded({extended: false}) parser is node:querystring.
function vector(name, { secret = "current", method = "POST", signedUrl, url = signedUrl, contentType, body = "" }) {
  const token = secrets[secret];
  let sig, valid;
  if (url.includes("bodySHA256")) {
    sig = getExpectedTwilioSignature(token, signedUrl, null);
    valid = validateRequestWithBody(token, sig, url, body);
  } else {
    const isForm = method === "POST" && contentType?.split(";")[0].trim() === form;
    const params = isForm ? querystring.parse(body) : {};
    sig = getExpectedTwilioSignature(token, signedUrl, params);
    valid = validateRequest(token, sig, url, params);
  }
  const headers = { "X-Twilio-Signature": sig };
  if (contentType) headers["Content-Type"] = contentType;
  return { name, secret, method, url, headers, body, valid };
}

const docsBody = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
const docsURL = "https://mycompany.com/myapp.php?foo=1&bar=2";
const json = '{"event":"message.delivered","sid":"SM123"}';
const jsonURL = (base) => `${base}?bodySHA256=${createHash("sha256").update(json).digest("hex")}`;

const vectors = [
  vector("docs example form post", { signedUrl: docsURL, contentType: form, body: docsBody }),
  vector("repeated names are deduplicated and sorted by value", {
    signedUrl: "https://example.com/sms", contentType: form,
    body: "To=%2B15005550006&MediaUrl=b&MediaUrl=a&MediaUrl=b&Body=hi+there",
  }),
  vector("charset parameter on content type", {
    signedUrl: "https://example.com/sms", contentType: form + "; charset=utf-8", body: "Body=caf%C3%A9&From=%2B1555",
  }),
  vector("received with :443 signed without port", {
    signedUrl: "https://example.com/voice?x=1", url: "https://example.com:443/voice?x=1", contentType: form, body: "CallSid=CA1",
  }),
  vector("received without port signed with :443", {
    signedUrl: "https://example.com:443/voice", url: "https://example.com/voice", contentType: form, body: "CallSid=CA1",
  }),
  vector("http received without port signed with :80", {
    signedUrl: "http://example.com:80/voice", url: "http://example.com/voice", contentType: form, body: "CallSid=CA2",
  }),
  vector("get with query only", { method: "GET", signedUrl: "https://example.com/status?CallSid=CA1&CallStatus=completed" }),
  vector("post with other content type signs url only", {
    signedUrl: "https://example.com/raw", contentType: "text/plain", body: "a=1",
  }),
  vector("json body with bodySHA256", { signedUrl: jsonURL("https://example.com/events"), contentType: "application/json", body: json }),
  vector("json body received with port", {
    signedUrl: jsonURL("https://example.com/events"), url: jsonURL("https://example.com:443/events"),
    contentType: "application/json", body: json,
  }),
  vector("query signed in escaped form", {
    signedUrl: "https://example.com/hook?name=O%27Brien", url: "https://example.com/hook?name=O'Brien", contentType: form, body: "A=1",
  }),
  vector("query signed in legacy querystring form", {
    signedUrl: "https://example.com/hook?a=1&a=3&b=x%20y", url: "https://example.com/hook?a=1&b=x+y&a=3", contentType: form, body: "A=1",
  }),
  vector("host signed in lower case", {
    signedUrl: "https://example.com/hook", url: "https://EXAMPLE.com/hook", contentType: form, body: "A=1",
  }),
  vector("old token during rotation", { secret: "old", signedUrl: docsURL, contentType: form, body: docsBody }),
  // Refused by the SDK: kept so the Go verifier is checked to refuse them too.
  vector("query order differs", {
    signedUrl: "https://example.com/hook?b=2&a=1", url: "https://example.com/hook?a=1&b=2", contentType: form, body: "A=1",
  }),
  vector("path differs", { signedUrl: "https://example.com/hook", url: "https://example.com/hook/", contentType: form, body: "A=1" }),
  { ...vector("json body does not match bodySHA256", {
      signedUrl: jsonURL("https://example.com/events"), contentType: "application/json", body: json }),
    body: json + " ", valid: false },
];
// The SDK must agree with the last vector's verdict on the edited body.
if (validateRequestWithBody(secrets.current, vectors.at(-1).headers["X-Twilio-Signature"], vectors.at(-1).url, vectors.at(-1).body)) {
  throw new Error("SDK accepted a body that does not match bodySHA256");
}

console.log(JSON.stringify({
  source: `npm twilio ${version}: webhooks getExpectedTwilioSignature signs, validateRequest / validateRequestWithBody decide "valid"; the docs example signature 0/KCTR6DLpKmkAf8muzZqo1nDgQ= is the one on https://www.twilio.com/docs/usage/security`,
  secrets,
  vectors,
}, null, 2));
