package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTwitchSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "twitch", twitchSignatureHeader)
}

func TestTwitchRefusals(t *testing.T) {
	t.Parallel()
	const sig, ts, id = twitchSignatureHeader, twitchTimestampHeader, twitchIDHeader
	runSDKRefusals(t, "twitch", "notification", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"n0t-the-subscripti0n-secret"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(sig, 2), want: ErrSignatureMalformed},
		{name: "other algorithm", edit: sdkSetHeader(sig, "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709"), want: ErrSignatureMalformed},
		{name: "missing signature", edit: sdkDelHeader(sig), want: ErrSignatureMissing},
		{name: "missing message id", edit: sdkDelHeader(id), want: ErrSignatureMissing},
		{name: "missing timestamp", edit: sdkDelHeader(ts), want: ErrTimestampMissing},
		{name: "timestamp not RFC 3339", edit: sdkSetHeader(ts, "1735689600"), want: ErrTimestampMissing},
		{name: "timestamp reformatted", edit: sdkSetHeader(ts, "2025-01-01T00:00:00.123456789+00:00"), want: ErrBadSignature},
		{name: "message id changed", edit: sdkSetHeader(id, "befa7b53-d79d-478f-86b9-120f112b044f"), want: ErrBadSignature},
		{name: "at the 10 min tolerance", clock: sdkAged(10 * time.Minute), want: nil},
		{name: "stale", clock: sdkAged(10*time.Minute + time.Millisecond), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-10*time.Minute - time.Millisecond), want: ErrFutureTimestamp},
	})
}

func TestTwitchConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{name: "10 characters", secret: "0123456789", ok: true},
		{name: "100 characters", secret: strings.Repeat("x", 100), ok: true},
		{name: "9 characters", secret: "012345678"},
		{name: "101 characters", secret: strings.Repeat("x", 101)},
		{name: "not ASCII", secret: "caf\u00e9-secret-12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(VerifyConfig{Provider: "twitch"}, []Secret{{Ref: "env:TWITCH", Value: []byte(tc.secret)}}, 0)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("err = %v shows the secret", err)
			}
		})
	}
}

func TestTwitchHandshakeWithoutChallenge(t *testing.T) {
	t.Parallel()
	r := &Request{Header: map[string][]string{twitchTypeHeader: {"webhook_callback_verification"}}, Body: []byte(`{"subscription":{}}`)}
	isHandshake, answer := (&twitchVerifier{}).Handshake(r, Result{})
	if !isHandshake || answer != nil {
		t.Fatalf("Handshake = %v, %v; want a handshake the edge forwards", isHandshake, answer)
	}
}

// Seeds are in testdata/fuzz/FuzzParseTwitchSignature.
func FuzzParseTwitchSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		mac, err := parseTwitchSignature(h)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %v is not a Refusal", err)
			}
			return
		}
		if len(mac) != 32 {
			t.Fatalf("accepted a %d-byte signature from %q", len(mac), h)
		}
	})
}
