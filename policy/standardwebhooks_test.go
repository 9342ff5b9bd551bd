package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStandardWebhooksSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "standard-webhooks", "svix-signature", standardSignatureHeader)
}

func TestSvixSDKVectors(t *testing.T) {
	t.Parallel()
	// The svix alias resolves to the same verifier; the svix-* vector is
	// checked here with its own signature header.
	f := loadSDKVectors(t, "standard-webhooks")
	vec := f.vector(t, "svix-* header names")
	v := sdkVerifier(t, "svix", f.Secrets["current"], f.Secrets["old"])
	res, err := v.Verify(vec.request(t), vec.Now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Signature != vec.Headers["svix-signature"] || res.DeliveryID != vec.DeliveryID || res.Secret != 0 {
		t.Fatalf("Result = %+v", res)
	}
}

func TestStandardWebhooksRefusals(t *testing.T) {
	t.Parallel()
	const sig = standardSignatureHeader
	runSDKRefusals(t, "standard-webhooks", "signed with the old secret", []sdkRefusal{
		{name: "old secret alone matches as index 0", secrets: []string{"whsec_b2xkLXNlY3JldC1iZWZvcmUtcm90YXRpb24="}, want: nil},
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="}, want: ErrBadSignature},
		{name: "current secret only", secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(sig, 8), want: ErrSignatureMalformed},
		{name: "missing signature", edit: sdkDelHeader(sig), want: ErrSignatureMissing},
		{name: "missing id", edit: sdkDelHeader(standardIDHeader), want: ErrSignatureMissing},
		{name: "missing timestamp", edit: sdkDelHeader(standardTimestampHeader), want: ErrTimestampMissing},
		{name: "timestamp not a number", edit: sdkSetHeader(standardTimestampHeader, "yesterday"), want: ErrTimestampMissing},
		{name: "only v1a and v2 entries", edit: sdkSetHeader(sig, "v1a,AAAA v2,AAAA"), want: ErrSignatureMissing},
		// The libraries split entries on " " only: after a tab, the v1
		// entry is part of the v2 one.
		{name: "entries separated by a tab", edit: sdkSetHeaderPart(sig, "v1,", "v2,AAAA\tv1,"), want: ErrSignatureMissing},
		{name: "entries separated by two spaces", edit: sdkSetHeaderPart(sig, "v1,", "v2,AAAA  v1,"), want: nil},
		{name: "id changed", edit: sdkSetHeader(standardIDHeader, "msg_other"), want: ErrBadSignature},
		{name: "timestamp changed", edit: sdkSetHeader(standardTimestampHeader, "1735689601"), want: ErrBadSignature},
		{name: "svix-signature preferred over webhook-signature", edit: sdkSetHeader("svix-signature", "v1,"+strings.Repeat("A", 43)+"="), want: ErrBadSignature},
		{name: "at the 5 min tolerance", clock: sdkAged(5 * time.Minute), want: nil},
		{name: "stale", clock: sdkAged(5*time.Minute + time.Second), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-5*time.Minute - time.Second), want: ErrFutureTimestamp},
	})
}

func TestStandardWebhooksRotationIndex(t *testing.T) {
	t.Parallel()
	f := loadSDKVectors(t, "standard-webhooks")
	vec := f.vector(t, "signed with the old secret")
	// The same secret without the whsec_ prefix and its padding decodes to
	// the same key.
	bare := strings.TrimRight(strings.TrimPrefix(f.Secrets["old"], "whsec_"), "=")
	res, err := sdkVerifier(t, "standard-webhooks", f.Secrets["current"], bare).Verify(vec.request(t), vec.Now)
	if err != nil || res.Secret != 1 {
		t.Fatalf("Verify = %+v, %v; want Secret 1", res, err)
	}
}

func TestStandardWebhooksConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{name: "whsec_ and base64", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ok: true},
		{name: "base64 without prefix", secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ok: true},
		{name: "not base64", secret: "whsec_not base64!"},
		{name: "asymmetric public key", secret: "whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		{name: "prefix only", secret: "whsec_"},
		{name: "unpadded base64, as the SDK accepts", secret: "whsec_b2xkLXNlY3JldA", ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(VerifyConfig{Provider: "svix"}, []Secret{{Ref: "env:SVIX", Value: []byte(tc.secret)}}, 0)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			var fe *FieldError
			if err != nil && (!errors.As(err, &fe) || fe.Field != "secrets[0]") {
				t.Fatalf("err = %v, want a FieldError on secrets[0]", err)
			}
			if key := strings.TrimPrefix(tc.secret, "whsec_"); err != nil && key != "" && strings.Contains(err.Error(), key) {
				t.Fatalf("err = %v shows the secret", err)
			}
		})
	}
}

// Seeds are in testdata/fuzz/FuzzParseStandardWebhooksSignature.
func FuzzParseStandardWebhooksSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		sigs, err := parseStandardSignature(h, standardSignatureHeader)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %v is not a Refusal", err)
			}
			return
		}
		if len(sigs) == 0 {
			t.Fatalf("accepted %q without a v1", h)
		}
		for _, mac := range sigs {
			if len(mac) != 32 {
				t.Fatalf("accepted a %d-byte v1 from %q", len(mac), h)
			}
		}
		// As the libraries read it: entries separated by " " only.
		v1 := 0
		for entry := range strings.SplitSeq(h, " ") {
			if strings.HasPrefix(entry, "v1,") {
				v1++
			}
		}
		if v1 != len(sigs) {
			t.Fatalf("found %d v1 entries in %q, the libraries' split finds %d", len(sigs), h, v1)
		}
	})
}
