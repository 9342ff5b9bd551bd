package edge

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hooktunnel/hooktunnel/policy"
)

// Stable error codes of refusals, for senders and for the journal.
const (
	codeUnknownHost     = "unknown_host"
	codeUnknownTunnel   = "unknown_tunnel"
	codeNoRoute         = "no_route"
	codeMethodNotAllow  = "method_not_allowed"
	codeBadPath         = "bad_path"
	codeTunnelOffline   = "tunnel_offline"
	codeAgentLost       = "agent_disconnected"
	codeBadGateway      = "bad_gateway"
	codeUnauthorized    = "unauthorized"
	codeShuttingDown    = "shutting_down"
	codeInvalidSigHdr   = "signature_missing"
	codeBadSignature    = "bad_signature"
	codeMalformedSig    = "signature_malformed"
	codeStaleTimestamp  = "stale_timestamp"
	codeFutureTimestamp = "future_timestamp"
	codeNoTimestamp     = "timestamp_missing"
	codeTokenMissing    = "token_missing"
	codeBadToken        = "bad_token"
	codeIPNotAllowed    = "ip_not_allowed"
	codeRateLimited     = "rate_limited"
	codeBodyTooLarge    = "body_too_large"
	codeBodyRead        = "body_incomplete"
	codeBodyMalformed   = "body_malformed"
	codeBodyTimeout     = "body_timeout"
	codeTooManyFromIP   = "too_many_requests_from_ip"
	codeDuplicate       = "duplicate"
	codeInFlight        = "in_flight"
	codeQueueFull       = "queue_full"
	codeFiltered        = "filtered"
	codeFilterFailed    = "filter_failed"
)

// refusal is the short JSON body of every response the edge makes itself.
type refusal struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// writeRefusal sends a refusal with status; extra headers (Allow,
// Retry-After) must be set before.
func writeRefusal(w http.ResponseWriter, status int, code, message, requestID string) {
	body, _ := json.Marshal(refusal{Error: code, Message: message, RequestID: requestID})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// policyStatus chooses the HTTP status and code of a policy refusal. It is
// the one place that maps policy's sentinel errors to HTTP.
func policyStatus(err error) (int, string) {
	switch {
	case errors.Is(err, policy.ErrNoRoute):
		return http.StatusNotFound, codeNoRoute
	case errors.Is(err, policy.ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed, codeMethodNotAllow
	case errors.Is(err, policy.ErrBadPath):
		return http.StatusBadRequest, codeBadPath
	case errors.Is(err, policy.ErrSignatureMissing):
		return http.StatusUnauthorized, codeInvalidSigHdr
	case errors.Is(err, policy.ErrSignatureMalformed):
		return http.StatusUnauthorized, codeMalformedSig
	case errors.Is(err, policy.ErrBadSignature):
		return http.StatusUnauthorized, codeBadSignature
	case errors.Is(err, policy.ErrStaleTimestamp):
		return http.StatusUnauthorized, codeStaleTimestamp
	case errors.Is(err, policy.ErrFutureTimestamp):
		return http.StatusUnauthorized, codeFutureTimestamp
	case errors.Is(err, policy.ErrTimestampMissing):
		return http.StatusUnauthorized, codeNoTimestamp
	case errors.Is(err, policy.ErrTokenMissing):
		return http.StatusUnauthorized, codeTokenMissing
	case errors.Is(err, policy.ErrBadToken):
		return http.StatusUnauthorized, codeBadToken
	case errors.Is(err, policy.ErrIPNotAllowed):
		return http.StatusForbidden, codeIPNotAllowed
	case errors.Is(err, policy.ErrRateLimited):
		return http.StatusTooManyRequests, codeRateLimited
	case errors.Is(err, policy.ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, codeBodyTooLarge
	case errors.Is(err, errBodyRead):
		return http.StatusBadRequest, codeBodyRead
	case errors.Is(err, errBodyMalformed):
		return http.StatusBadRequest, codeBodyMalformed
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, codeBodyTimeout
	case errors.Is(err, policy.ErrDuplicate):
		return http.StatusOK, codeDuplicate
	case errors.Is(err, policy.ErrInFlight):
		// Another copy is being forwarded: not this one, and not lost
		// either if that one fails, since the sender retries a 409.
		return http.StatusConflict, codeInFlight
	case errors.Is(err, policy.ErrFiltered):
		// Acknowledged unless the route's on_mismatch says reject; see
		// exchange.filtered.
		return http.StatusOK, codeFiltered
	case errors.Is(err, policy.ErrFilterFailed):
		return http.StatusOK, codeFilterFailed
	}
	return http.StatusForbidden, "refused"
}
