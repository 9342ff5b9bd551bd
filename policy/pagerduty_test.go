package policy

import (
	"errors"
	"testing"
	"time"
)

func TestPagerDutySDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "pagerduty", pagerDutySignatureHeader)
}

func TestPagerDutyRefusals(t *testing.T) {
	t.Parallel()
	const sig = pagerDutySignatureHeader
	runSDKRefusals(t, "pagerduty", "delivery with X-Webhook-Id", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"not-the-subscription-secret"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(sig, 1), want: ErrSignatureMalformed},
		{name: "missing header", edit: sdkDelHeader(sig), want: ErrSignatureMissing},
		{name: "only other versions", edit: sdkSetHeader(sig, "v2="+sdkZeroMAC), want: ErrSignatureMissing},
		{name: "spaces after commas", edit: sdkSetHeaderPart(sig, "v1=", "v1="+sdkZeroMAC+", v1="), want: nil},
		{name: "no timestamp, so any clock", clock: func(sdkVector) time.Time { return time.Unix(0, 0) }, want: nil},
	})
}

func TestPagerDutyDeliveryIDFromBody(t *testing.T) {
	t.Parallel()
	f := loadSDKVectors(t, "pagerduty")
	vec := f.vector(t, "delivery with X-Webhook-Id")
	r := vec.request(t)
	r.Header.Del(pagerDutyIDHeader)
	res, err := f.rotating(t, "pagerduty").Verify(r, time.Time{})
	if err != nil || res.DeliveryID != "5ac64822-4adc-4fda-ade0-410becf0de4f" {
		t.Fatalf("Verify = %+v, %v; want the body's event.id", res, err)
	}
}

// Seeds are in testdata/fuzz/FuzzParsePagerDutySignature.
func FuzzParsePagerDutySignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		sigs, err := parsePagerDutySignature(h)
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
	})
}
