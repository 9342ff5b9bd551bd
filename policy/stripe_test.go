package policy

import (
	"errors"
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
	})
}
