package policy

import "time"

// Shopify's signature headers: webhooks', and Events deliveries'.
const (
	shopifySignatureHeader       = "X-Shopify-Hmac-Sha256"
	shopifyEventsSignatureHeader = "Shopify-Hmac-Sha256"
)

// shopify verifies the base64 HMAC-SHA256 of the raw body, keyed with the
// app's client secret, that Shopify sends in X-Shopify-Hmac-Sha256 for
// webhooks and in Shopify-Hmac-Sha256 for Events deliveries.
type shopify struct {
	webhooks, events *macScheme
}

var _ Verifier = (*shopify)(nil)

func newShopify(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	// The webhook id is per delivery and kept across retries; the event id
	// is shared by every subscription the event goes to, so two
	// subscriptions aimed at one route would look like duplicates.
	webhooks := newMACScheme(shopifySignatureHeader, "sha256", macBase64, "", s.Secrets)
	webhooks.idHeaders = []string{"X-Shopify-Webhook-Id", "X-Shopify-Event-Id"}
	events := newMACScheme(shopifyEventsSignatureHeader, "sha256", macBase64, "", s.Secrets)
	events.idHeaders = []string{"Shopify-Webhook-Id", "Shopify-Event-Id"}
	return &shopify{webhooks: webhooks, events: events}, nil
}

func (v *shopify) Verify(r *Request, now time.Time) (Result, error) {
	// Like @shopify/shopify-api, the Events header wins when present.
	switch {
	case r.Header.Get(v.events.header) != "":
		return v.events.Verify(r, now)
	case r.Header.Get(v.webhooks.header) != "":
		return v.webhooks.Verify(r, now)
	}
	return Result{}, refuse(ErrSignatureMissing, "signature header "+v.webhooks.header+" (or "+v.events.header+" for Events) is missing; Shopify signs every HTTPS delivery, so the request came from somewhere else")
}
