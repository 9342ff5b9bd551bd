package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStripeSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "stripe", stripeSignatureHeader)
}

func TestStripeRefusals(t *testing.T) {
	t.Parallel()
	const h = stripeSignatureHeader
	runSDKRefusals(t, "stripe", "event signed with the current secret", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"whsec_not-this-endpoints-secret"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(h, 2), want: ErrSignatureMalformed},
		{name: "missing header", edit: sdkDelHeader(h), want: ErrSignatureMissing},
		{name: "no t=", edit: sdkSetHeader(h, "v1="+sdkZeroMAC), want: ErrTimestampMissing},
		{name: "no v1=", edit: sdkSetHeader(h, "t=1735689600,v0="+sdkZeroMAC), want: ErrSignatureMissing},
		{name: "two t=", edit: sdkSetHeader(h, "t=1735689600,t=1735689601,v1="+sdkZeroMAC), want: ErrSignatureMalformed},
		{name: "timestamp moved", edit: sdkSetHeaderPart(h, "t=1735689600", "t=1735689601"), want: ErrBadSignature},
		// stripe-go and stripe-node split on "," and "=" and trim nothing:
		// " v1" is an unknown key, so no signature is found.
		{name: "space after the comma", edit: sdkSetHeaderPart(h, ",v1=", ", v1="), want: ErrSignatureMissing},
		{name: "space before the equals sign", edit: sdkSetHeaderPart(h, ",v1=", ",v1 ="), want: ErrSignatureMissing},
		{name: "space after t=", edit: sdkSetHeaderPart(h, "t=", "t= "), want: ErrSignatureMalformed},
		{name: "space before the comma", edit: sdkSetHeaderPart(h, ",v1=", " ,v1="), want: ErrSignatureMalformed},
		{name: "tab after the comma", edit: sdkSetHeaderPart(h, ",v1=", ",\tv1="), want: ErrSignatureMissing},
		// stripe-go refuses the whole header for an item that is not one key=value.
		{name: "item without =", edit: sdkSetHeaderPart(h, ",v1=", ",v0,v1="), want: ErrSignatureMalformed},
		{name: "item with two =", edit: sdkSetHeaderPart(h, ",v1=", ",v0=a=b,v1="), want: ErrSignatureMalformed},
		{name: "trailing comma", edit: sdkSetHeader(h, "t=1735689600,v1="+sdkZeroMAC+","), want: ErrSignatureMalformed},
		// Both libraries read t= with a sign (strconv.ParseInt, parseInt) and sign the number.
		{name: "plus-signed t= as the libraries parse it", edit: sdkSetHeaderPart(h, "t=", "t=+"), want: nil},
		{name: "at the 300 s tolerance", clock: sdkAged(300 * time.Second), want: nil},
		{name: "stale", clock: sdkAged(301 * time.Second), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-301 * time.Second), want: ErrFutureTimestamp},
	})
}

func TestStripeConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{name: "signing secret", secret: "whsec_abc", ok: true},
		{name: "secret key", secret: "sk_live_abc"},
		{name: "restricted key", secret: "rk_test_abc"},
		{name: "publishable key", secret: "pk_test_abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(VerifyConfig{Provider: "stripe"}, []Secret{{Ref: "env:STRIPE", Value: []byte(tc.secret)}}, 0)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			var fe *FieldError
			if err != nil && (!errors.As(err, &fe) || fe.Field != "secrets[0]") {
				t.Fatalf("err = %v, want a FieldError on secrets[0]", err)
			}
		})
	}
	if _, err := newStripe(VerifierSpec{Tolerance: time.Minute}); err == nil {
		t.Fatal("no secrets accepted")
	}
}

// Seeds are in testdata/fuzz/FuzzParseStripeSignature.
func FuzzParseStripeSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		sig, err := parseStripeSignature(h)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %v is not a Refusal", err)
			}
			return
		}
		if len(sig.v1) == 0 || sig.timestamp.Unix() < 0 {
			t.Fatalf("accepted %q without a v1 or with a negative time", h)
		}
		for _, mac := range sig.v1 {
			if len(mac) != 32 {
				t.Fatalf("accepted a %d-byte v1 from %q", len(mac), h)
			}
		}
		// As stripe-go reads it: key=value items, keys compared as sent.
		v1 := 0
		for item := range strings.SplitSeq(h, ",") {
			parts := strings.Split(item, "=")
			if len(parts) != 2 {
				t.Fatalf("accepted %q with an item %q that is not one key=value", h, item)
			}
			if parts[0] == "v1" {
				v1++
			}
		}
		if v1 != len(sig.v1) {
			t.Fatalf("found %d v1 signatures in %q, stripe-go finds %d", len(sig.v1), h, v1)
		}
	})
}
