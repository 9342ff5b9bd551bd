package policy

import (
	"strings"
	"testing"
	"time"
)

func buildLinear(s []Secret) (Verifier, error) {
	tol, _ := DefaultTolerance("linear")
	return newLinear(VerifierSpec{Secrets: s, Tolerance: tol})
}

func TestLinearToleranceIsTheSDKs(t *testing.T) {
	t.Parallel()
	// @linear/sdk refuses |now - webhookTimestamp| > 60 s; gen/linear.mjs
	// checks that before writing the vectors.
	if tol, _ := DefaultTolerance("linear"); tol != time.Minute {
		t.Fatalf("linear tolerance = %v, want 1m", tol)
	}
}

func TestLinear(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "linear")
	v := f.vector(t, "Issue create")
	cases := append(macBaseCases(v, "Linear-Signature", "not-the-linear-secret"), macFreshnessCases(v, time.Minute)...)
	cases = append(cases,
		// Only the signed body's time is trusted, as in the SDK.
		macCase{name: "Linear-Timestamp header is ignored", edit: setHeader("Linear-Timestamp", "1")},
		macCase{name: "upper-case hex", edit: setHeader("Linear-Signature", strings.ToUpper(v.Headers["Linear-Signature"]))},
		macCase{name: "sha256= prefix added", edit: setHeader("Linear-Signature", "sha256="+v.Headers["Linear-Signature"]), wantErr: ErrSignatureMalformed},
	)
	runMACCases(t, v, buildLinear, cases)

	for _, name := range []string{"signed body without webhookTimestamp", "webhookTimestamp is a string"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runErrorVector(t, f.vector(t, name), buildLinear)
		})
	}
}

func TestParseLinearTimestamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want time.Time
		err  error
	}{
		{name: "milliseconds", body: `{"webhookTimestamp":1735689600123}`, want: time.UnixMilli(1735689600123)},
		{name: "fraction of a millisecond", body: `{"webhookTimestamp":1735689600123.9}`, want: time.UnixMilli(1735689600123)},
		{name: "key is case-sensitive", body: `{"WebhookTimestamp":1735689600123}`, err: ErrTimestampMissing},
		{name: "null", body: `{"webhookTimestamp":null}`, err: ErrTimestampMissing},
		{name: "negative", body: `{"webhookTimestamp":-1}`, err: ErrTimestampMissing},
		{name: "huge", body: `{"webhookTimestamp":1e300}`, err: ErrTimestampMissing},
		{name: "not an object", body: `[1735689600123]`, err: ErrTimestampMissing},
		{name: "empty body", body: ``, err: ErrTimestampMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseLinearTimestamp([]byte(tc.body))
			if tc.err != nil {
				checkRefusal(t, err, tc.err, nil)
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseLinearTimestamp(f *testing.F) {
	f.Add([]byte(`{"webhookTimestamp":1735689600123}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := parseLinearTimestamp(body)
		if err == nil && ts.Before(time.Unix(0, 0)) {
			t.Fatalf("accepted a timestamp before 1970: %v", ts)
		}
	})
}
