package edge

import (
	"fmt"
	"io"
	"testing"

	"github.com/hooktunnel/hooktunnel/policy"
)

// TestRefusalOf pins the codes of the edge's own sender-body errors and
// that policy's errors get outcome.Of's.
func TestRefusalOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"body cut off", readFailed(io.ErrUnexpectedEOF), 400, "body_incomplete"},
		{"body malformed", fmt.Errorf("read: %w", errBodyMalformed), 400, "body_malformed"},
		{"body too slow", fmt.Errorf("read: %w", errBodyTimeout), 408, "body_timeout"},
		{"policy's", &policy.Refusal{Kind: policy.ErrBadSignature}, 401, "bad_signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, code := refusalOf(tc.err)
			if status != tc.status || string(code) != tc.code {
				t.Errorf("refusalOf = %d, %q; want %d, %q", status, code, tc.status, tc.code)
			}
		})
	}
}
