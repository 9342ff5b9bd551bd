package edge

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

// The codes the delivery path (forward.go, queue.go, hold.go, api.go)
// names, by the names it knows them by, until it uses outcome's itself.
// The codes it sends in Hooktunnel-Error or compares with a journal
// reason are strings there.
const (
	codeQueueFull     = outcome.CodeQueueFull
	codeTunnelOffline = string(outcome.CodeTunnelOffline)
	codeAgentLost     = string(outcome.CodeAgentLost)
	codeBodyRead      = string(outcome.CodeBodyRead)
	codeBodyMalformed = string(outcome.CodeBodyMalformed)
	codeBodyTimeout   = string(outcome.CodeBodyTimeout)
	codeBodyTooLarge  = string(outcome.CodeBodyTooLarge)
)

// refusal is the short JSON body of every response the edge makes itself.
type refusal struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// writeRefusal sends a refusal with status; extra headers (Allow,
// Retry-After) must be set before. The code is an outcome.Code, or a
// string where the delivery path still holds one.
func writeRefusal[C outcome.Code | string](w http.ResponseWriter, status int, code C, message, requestID string) {
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

// policyStatus is refusalOf with the code as a string, for the delivery
// path, which sends it in Hooktunnel-Error too.
func policyStatus(err error) (int, string) {
	status, code := refusalOf(err)
	return status, string(code)
}
