// Generates ../shopify.json: Shopify webhook vectors from @shopify/shopify-api,
// Shopify's official Node library. Each body is signed with the library's own
// test helper getHmac (base64 HMAC-SHA256 of the raw body keyed with the app's
// client secret) and accepted by shopify.webhooks.validate() before it is
// written. Both header sets are covered: classic webhooks (X-Shopify-*) and
// Events deliveries (Shopify-*, no X- prefix).
//
//   npm install @shopify/shopify-api@13.1.0 && node shopify.mjs [out.json]
import "@shopify/shopify-api/adapters/web-api";
import { shopifyApi, ApiVersion } from "@shopify/shopify-api";
import { getHmac } from "@shopify/shopify-api/test-helpers";
import { writeFileSync } from "node:fs";

const out = process.argv[2] ?? new URL("../shopify.json", import.meta.url);
const secret = "hooktunnel-shopify-client-secret";
const shopify = shopifyApi({
  apiKey: "hooktunnel",
  apiSecretKey: secret,
  scopes: ["read_orders"],
  hostName: "hooks.example.com",
  apiVersion: ApiVersion.January25,
  isEmbeddedApp: false,
  logger: { level: 0 },
});

async function vector(name, headerNames, body) {
  const hmac = getHmac(body, secret);
  const headers = {
    [headerNames.hmac]: hmac,
    [headerNames.topic]: "orders/create",
    [headerNames.domain]: "hooktunnel-test.myshopify.com",
    [headerNames.apiVersion]: "2025-01",
    [headerNames.webhookId]: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    [headerNames.eventId]: "98880550-7158-44d4-b7cd-2c97c8a091b5",
  };
  const rawRequest = new Request("https://hooks.example.com/shopify", { method: "POST", headers, body });
  const res = await shopify.webhooks.validate({ rawBody: body, rawRequest });
  if (!res.valid) throw new Error(`${name}: shopify-api rejects its own vector: ${JSON.stringify(res)}`);
  return {
    name,
    secret,
    method: "POST",
    url: "https://hooks.example.com/shopify",
    headers,
    body,
    now: 1735689600,
    want: { signature: hmac, delivery_id: headers[headerNames.webhookId] },
  };
}

const body = JSON.stringify({
  id: 820982911946154500,
  email: "jon@example.com",
  total_price: "398.00",
  currency: "EUR",
  line_items: [{ title: "Crème brûlée torch", quantity: 1 }],
});

const vectors = [
  await vector("orders/create, classic headers", { hmac: "X-Shopify-Hmac-Sha256", topic: "X-Shopify-Topic", domain: "X-Shopify-Shop-Domain", apiVersion: "X-Shopify-API-Version", webhookId: "X-Shopify-Webhook-Id", eventId: "X-Shopify-Event-Id" }, body),
  await vector("orders/create, Events headers", { hmac: "Shopify-Hmac-Sha256", topic: "Shopify-Topic", domain: "Shopify-Shop-Domain", apiVersion: "Shopify-API-Version", webhookId: "Shopify-Webhook-Id", eventId: "Shopify-Event-Id" }, body),
];

writeFileSync(out, JSON.stringify({ provider: "shopify", source: "@shopify/shopify-api 13.1.0 (npm): test-helpers getHmac, accepted by webhooks.validate()", vectors }, null, 2) + "\n");
