package edge

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/relay"
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

func TestRelayRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   outcome.Code
	}{
		{"no agent", relay.ErrNoAgent, http.StatusServiceUnavailable, outcome.CodeTunnelOffline},
		{"every agent failed to open a stream", fmt.Errorf("%w: open stream: closed", relay.ErrNoAgent), http.StatusServiceUnavailable, outcome.CodeTunnelOffline},
		{"agent lost", fmt.Errorf("%w: stream reset", relay.ErrAgentLost), http.StatusBadGateway, outcome.CodeAgentLost},
		{"body too large", &relay.BodyError{Err: &http.MaxBytesError{Limit: 10}}, http.StatusRequestEntityTooLarge, outcome.CodeBodyTooLarge},
		{"body cut off", &relay.BodyError{Err: io.ErrUnexpectedEOF}, http.StatusBadRequest, outcome.CodeBodyRead},
		{"body too slow", &relay.BodyError{Err: errBodyTimeout}, http.StatusRequestTimeout, outcome.CodeBodyTimeout},
		{"anything else", errors.New("surprise"), http.StatusBadGateway, outcome.CodeAgentLost},
	}
	for _, tc := range tests {
		status, code, message, retryAfter := relayRefusal(tc.err, "demo")
		if status != tc.status || code != tc.code || message == "" || (retryAfter != "") != (code == outcome.CodeTunnelOffline) {
			t.Errorf("%s: relayRefusal = %d, %q, %q; want %d, %q", tc.name, status, code, message, tc.status, tc.code)
		}
	}
}
