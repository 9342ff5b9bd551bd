package policy

import (
	"errors"
	"testing"
	"time"
)

func TestZoomSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "zoom", zoomSignatureHeader)
}

func TestZoomRefusals(t *testing.T) {
	t.Parallel()
	const sig, ts = zoomSignatureHeader, zoomTimestampHeader
	runSDKRefusals(t, "zoom", "meeting.started", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"d3JvbmdTZWNyZXRUb2tlbkZvclpvb20"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(sig, 5), want: ErrSignatureMalformed},
		{name: "no v0= prefix", edit: sdkSetHeader(sig, sdkZeroMAC), want: ErrSignatureMalformed},
		{name: "missing signature", edit: sdkDelHeader(sig), want: ErrSignatureMissing},
		{name: "missing timestamp", edit: sdkDelHeader(ts), want: ErrTimestampMissing},
		{name: "timestamp changed", edit: sdkSetHeader(ts, "1735689599"), want: ErrBadSignature},
		{name: "at the 5 min tolerance", clock: sdkAged(5 * time.Minute), want: nil},
		{name: "stale", clock: sdkAged(5*time.Minute + time.Second), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-5*time.Minute - time.Second), want: ErrFutureTimestamp},
	})
}

func TestZoomHandshakeEdges(t *testing.T) {
	t.Parallel()
	v := &zoomVerifier{v0Scheme{secrets: []Secret{{Ref: "test", Value: []byte("k")}}}}
	tests := []struct {
		name      string
		body      string
		res       Result
		handshake bool
		answered  bool
	}{
		{name: "validation", body: `{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}`, handshake: true, answered: true},
		{name: "no plainToken is forwarded", body: `{"event":"endpoint.url_validation","payload":{}}`, handshake: true},
		{name: "secret index out of range is forwarded", body: `{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}`, res: Result{Secret: 3}, handshake: true},
		{name: "an event", body: `{"event":"meeting.ended","payload":{"plainToken":"abc"}}`},
		{name: "not JSON", body: `event=endpoint.url_validation`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			isHandshake, answer := v.Handshake(&Request{Body: []byte(tc.body)}, tc.res)
			if isHandshake != tc.handshake || (answer != nil) != tc.answered {
				t.Fatalf("Handshake = %v, %v; want %v, answered %v", isHandshake, answer, tc.handshake, tc.answered)
			}
		})
	}
}

// Seeds are in testdata/fuzz/FuzzParseZoomSignature.
func FuzzParseZoomSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		mac, err := (&v0Scheme{sigHeader: zoomSignatureHeader}).parse(h)
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
