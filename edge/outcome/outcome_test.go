package outcome

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hooktunnel/hooktunnel/policy"
)

// TestOf pins the status and the code, as they go on the wire, of every
// sentinel error policy refuses with, bare, in a Refusal and wrapped.
func TestOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"malformed capture", policy.ErrMalformedRequest, 400, "bad_request"},
		{"no route", policy.ErrNoRoute, 404, "no_route"},
		{"method", policy.ErrMethodNotAllowed, 405, "method_not_allowed"},
		{"path", policy.ErrBadPath, 400, "bad_path"},
		{"signature missing", policy.ErrSignatureMissing, 401, "signature_missing"},
		{"signature malformed", policy.ErrSignatureMalformed, 401, "signature_malformed"},
		{"bad signature", policy.ErrBadSignature, 401, "bad_signature"},
		{"stale", policy.ErrStaleTimestamp, 401, "stale_timestamp"},
		{"future", policy.ErrFutureTimestamp, 401, "future_timestamp"},
		{"no timestamp", policy.ErrTimestampMissing, 401, "timestamp_missing"},
		{"token missing", policy.ErrTokenMissing, 401, "token_missing"},
		{"bad token", policy.ErrBadToken, 401, "bad_token"},
		{"address", policy.ErrIPNotAllowed, 403, "ip_not_allowed"},
		{"rate", policy.ErrRateLimited, 429, "rate_limited"},
		{"body", policy.ErrBodyTooLarge, 413, "body_too_large"},
		{"duplicate", policy.ErrDuplicate, 200, "duplicate"},
		{"in flight", policy.ErrInFlight, 409, "in_flight"},
		{"filtered", policy.ErrFiltered, 200, "filtered"},
		{"filter failed", policy.ErrFilterFailed, 200, "filter_failed"},
		{"no sentinel", errors.New("something else"), 403, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, err := range []error{
				tc.err,
				&policy.Refusal{Kind: tc.err, Detail: "detail"},
				fmt.Errorf("context: %w", &policy.Refusal{Kind: tc.err, Detail: "detail"}),
			} {
				status, code := Of(err)
				if status != tc.status || string(code) != tc.code {
					t.Errorf("Of(%v) = %d, %q; want %d, %q", err, status, code, tc.status, tc.code)
				}
			}
		})
	}
}

// TestOfCoversPolicyRefusals checks the table has no sentinel twice,
// so which one wins never depends on its order.
func TestOfCoversPolicyRefusals(t *testing.T) {
	t.Parallel()
	seen := map[error]bool{}
	for _, o := range policyOutcomes {
		if seen[o.err] {
			t.Errorf("%v is mapped twice", o.err)
		}
		seen[o.err] = true
		if o.code == CodeRefused || o.status < 200 || o.status > 599 {
			t.Errorf("%v maps to %d %q", o.err, o.status, o.code)
		}
	}
}

func TestSignatureFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code Code
		want bool
	}{
		{"signature_missing", true}, {"bad_signature", true}, {"signature_malformed", true},
		{"stale_timestamp", true}, {"future_timestamp", true}, {"timestamp_missing", true},
		{"token_missing", true}, {"bad_token", true},
		{"ip_not_allowed", false}, {"rate_limited", false}, {"filtered", false}, {"", false},
	}
	for _, tc := range tests {
		if got := tc.code.SignatureFailure(); got != tc.want {
			t.Errorf("Code(%q).SignatureFailure() = %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	want := []string{"forwarded", "queued", "refused", "duplicate", "answered", "filtered"}
	got := Decisions()
	if len(got) != len(want) {
		t.Fatalf("Decisions() = %v, want %v", got, want)
	}
	for i, d := range got {
		if string(d) != want[i] || !d.Valid() {
			t.Errorf("Decisions()[%d] = %q (valid %v), want %q", i, d, d.Valid(), want[i])
		}
	}
	for _, d := range []Decision{Dead, "", "Forwarded"} {
		if d.Valid() {
			t.Errorf("%q is valid, want not: not a decision on arrival", d)
		}
	}
}
