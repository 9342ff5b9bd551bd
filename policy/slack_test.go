package policy

import (
	"errors"
	"testing"
	"time"
)

func TestSlackSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "slack", slackSignatureHeader)
}

func TestSlackRefusals(t *testing.T) {
	t.Parallel()
	const sig, ts = slackSignatureHeader, slackTimestampHeader
	runSDKRefusals(t, "slack", "events api event_callback", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"00000000000000000000000000000000"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(sig, 1), want: ErrSignatureMalformed},
		{name: "other version", edit: sdkSetHeader(sig, "v1="+sdkZeroMAC), want: ErrSignatureMalformed},
		{name: "missing signature", edit: sdkDelHeader(sig), want: ErrSignatureMissing},
		{name: "missing timestamp", edit: sdkDelHeader(ts), want: ErrTimestampMissing},
		{name: "timestamp in milliseconds is another signed text", edit: sdkSetHeader(ts, "1735689600000"), want: ErrBadSignature},
		{name: "timestamp changed", edit: sdkSetHeader(ts, "1735689601"), want: ErrBadSignature},
		{name: "at the 5 min tolerance", clock: sdkAged(5 * time.Minute), want: nil},
		{name: "stale", clock: sdkAged(5*time.Minute + time.Second), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-5*time.Minute - time.Second), want: ErrFutureTimestamp},
	})
}

func TestSlackHandshakeWithoutChallenge(t *testing.T) {
	t.Parallel()
	v := &slackVerifier{}
	isHandshake, answer := v.Handshake(&Request{Body: []byte(`{"type":"url_verification"}`)}, Result{})
	if !isHandshake || answer != nil {
		t.Fatalf("Handshake = %v, %v; want a handshake the edge forwards", isHandshake, answer)
	}
	if isHandshake, _ := v.Handshake(&Request{Body: []byte("token=x&command=%2Fdeploy")}, Result{}); isHandshake {
		t.Fatal("a slash command is not a handshake")
	}
}

// Seeds are in testdata/fuzz/FuzzParseSlackSignature.
func FuzzParseSlackSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		mac, err := (&v0Scheme{sigHeader: slackSignatureHeader}).parse(h)
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
