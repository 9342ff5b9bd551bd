package policy

import (
	"encoding/base64"
	"encoding/hex"
	"testing"
)

func buildShopify(s []Secret) (Verifier, error) { return newShopify(VerifierSpec{Secrets: s}) }

func TestShopify(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "shopify")
	for _, tc := range []struct{ vector, hmac, eventID string }{
		{"orders/create, classic headers", "X-Shopify-Hmac-Sha256", "X-Shopify-Event-Id"},
		{"orders/create, Events headers", "Shopify-Hmac-Sha256", "Shopify-Event-Id"},
	} {
		v := f.vector(t, tc.vector)
		digest, err := base64.StdEncoding.DecodeString(v.Headers[tc.hmac])
		if err != nil {
			t.Fatal(err)
		}
		t.Run(tc.vector, func(t *testing.T) {
			t.Parallel()
			runMACCases(t, v, buildShopify, append(macBaseCases(v, tc.hmac, "not-the-client-secret"),
				macCase{name: "the same digest in hex", edit: setHeader(tc.hmac, hex.EncodeToString(digest)), wantErr: ErrSignatureMalformed},
				// The event id is shared by every subscription, so it must
				// not be the duplicate key while a webhook id is present.
				macCase{name: "event id differs", edit: setHeader(tc.eventID, "another-event")},
			))
		})
	}
}

func TestNewShopifyNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newShopify(VerifierSpec{}); err == nil {
		t.Fatal("newShopify without secrets: want an error")
	}
}
