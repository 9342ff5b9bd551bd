package edge

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/relay"
)

// refusal is the short JSON body of every response the edge makes itself.
type refusal struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// writeRefusal sends a refusal with status; extra headers (Allow,
// Retry-After) must be set before.
func writeRefusal(w http.ResponseWriter, status int, code outcome.Code, message, requestID string) {
	body, _ := json.Marshal(refusal{Error: string(code), Message: message, RequestID: requestID})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// refusalOf chooses the HTTP status and code of a refusal: the edge's own
// sender-body errors here, policy's sentinel errors by outcome.Of.
func refusalOf(err error) (int, outcome.Code) {
	switch {
	case errors.Is(err, errBodyRead):
		return http.StatusBadRequest, outcome.CodeBodyRead
	case errors.Is(err, errBodyMalformed):
		return http.StatusBadRequest, outcome.CodeBodyMalformed
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, outcome.CodeBodyTimeout
	}
	return outcome.Of(err)
}

// relayRefusal is what the sender is told when the relay got no answer
// from the tunnel's app; retryAfter, when set, goes in Retry-After.
func relayRefusal(err error, tunnel string) (status int, code outcome.Code, message, retryAfter string) {
	var be *relay.BodyError
	switch {
	case errors.As(err, &be):
		refusal := readFailed(be.Err)
		status, code = refusalOf(refusal)
		return status, code, refusal.Error(), ""
	case errors.Is(err, relay.ErrNoAgent):
		return http.StatusServiceUnavailable, outcome.CodeTunnelOffline, "no agent is connected for tunnel " + tunnel + "; retry later", retryAfterOffline
	}
	return http.StatusBadGateway, outcome.CodeAgentLost, "the agent's connection ended before the app answered", ""
}

// retryAfterOffline is the Retry-After, in seconds, of an offline tunnel.
const retryAfterOffline = "5"
