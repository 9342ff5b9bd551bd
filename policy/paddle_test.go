package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPaddleSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "paddle", paddleSignatureHeader)
}

func TestPaddleRefusals(t *testing.T) {
	t.Parallel()
	const h = paddleSignatureHeader
	runSDKRefusals(t, "paddle", "notification signed with the current secret", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"pdl_ntfset_01jgexample0wrong0000000000_000000000000000000000000000"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(h, 3), want: ErrSignatureMalformed},
		{name: "missing header", edit: sdkDelHeader(h), want: ErrSignatureMissing},
		{name: "no ts=", edit: sdkSetHeader(h, "h1="+sdkZeroMAC), want: ErrTimestampMissing},
		{name: "no h1=", edit: sdkSetHeader(h, "ts=1735689600"), want: ErrSignatureMissing},
		{name: "two ts=", edit: sdkSetHeader(h, "ts=1735689600;ts=1735689600;h1="+sdkZeroMAC), want: ErrSignatureMalformed},
		{name: "timestamp changed", edit: sdkSetHeaderPart(h, "ts=1735689600", "ts=1735689601"), want: ErrBadSignature},
		// paddle-node-sdk compares the keys exactly; paddle-go-sdk's
		// pattern ^ts=(\d+);h1=(\w+)$ has no room for spaces.
		{name: "space after the semicolon", edit: sdkSetHeaderPart(h, ";h1=", "; h1="), want: ErrSignatureMissing},
		{name: "space after ts=", edit: sdkSetHeaderPart(h, "ts=", "ts= "), want: ErrSignatureMalformed},
		{name: "at the SDK's 5 s tolerance", clock: sdkAged(5 * time.Second), want: nil},
		{name: "stale", clock: sdkAged(6 * time.Second), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-6 * time.Second), want: ErrFutureTimestamp},
	})
}

func TestPaddleDefaultTolerance(t *testing.T) {
	t.Parallel()
	// @paddle/paddle-node-sdk WebhooksValidator.MAX_VALID_TIME_DIFFERENCE.
	if d, _ := DefaultTolerance("paddle"); d != 5*time.Second {
		t.Fatalf("DefaultTolerance(paddle) = %v, want 5s", d)
	}
}

// Seeds are in testdata/fuzz/FuzzParsePaddleSignature.
func FuzzParsePaddleSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		sig, err := parsePaddleSignature(h)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %v is not a Refusal", err)
			}
			return
		}
		if len(sig.h1) == 0 || sig.timestamp.Unix() < 0 {
			t.Fatalf("accepted %q without an h1 or with a negative time", h)
		}
		for _, mac := range sig.h1 {
			if len(mac) != 32 {
				t.Fatalf("accepted a %d-byte h1 from %q", len(mac), h)
			}
		}
		// As paddle-node-sdk reads it: keys compared as sent.
		h1 := 0
		for item := range strings.SplitSeq(h, ";") {
			if key, _, _ := strings.Cut(item, "="); key == "h1" {
				h1++
			}
		}
		if h1 != len(sig.h1) {
			t.Fatalf("found %d h1 signatures in %q, the SDK's split finds %d", len(sig.h1), h, h1)
		}
	})
}
