package outcome

import (
	"errors"
	"net/http"

	"github.com/hooktunnel/hooktunnel/policy"
)

// policyOutcomes maps policy's sentinel errors to their HTTP status and
// code; the first one an error wraps wins.
var policyOutcomes = []struct {
	err    error
	status int
	code   Code
}{
	{policy.ErrMalformedRequest, http.StatusBadRequest, CodeBadRequest},
	{policy.ErrNoRoute, http.StatusNotFound, CodeNoRoute},
	{policy.ErrMethodNotAllowed, http.StatusMethodNotAllowed, CodeMethodNotAllow},
	{policy.ErrBadPath, http.StatusBadRequest, CodeBadPath},
	{policy.ErrSignatureMissing, http.StatusUnauthorized, CodeSignatureMissing},
	{policy.ErrSignatureMalformed, http.StatusUnauthorized, CodeMalformedSig},
	{policy.ErrBadSignature, http.StatusUnauthorized, CodeBadSignature},
	{policy.ErrStaleTimestamp, http.StatusUnauthorized, CodeStaleTimestamp},
	{policy.ErrFutureTimestamp, http.StatusUnauthorized, CodeFutureTimestamp},
	{policy.ErrTimestampMissing, http.StatusUnauthorized, CodeNoTimestamp},
	{policy.ErrTokenMissing, http.StatusUnauthorized, CodeTokenMissing},
	{policy.ErrBadToken, http.StatusUnauthorized, CodeBadToken},
	{policy.ErrIPNotAllowed, http.StatusForbidden, CodeIPNotAllowed},
	{policy.ErrRateLimited, http.StatusTooManyRequests, CodeRateLimited},
	{policy.ErrBodyTooLarge, http.StatusRequestEntityTooLarge, CodeBodyTooLarge},
	{policy.ErrDuplicate, http.StatusOK, CodeDuplicate},
	// Another copy is being forwarded: not this one, and not lost either
	// if that one fails, since the sender retries a 409.
	{policy.ErrInFlight, http.StatusConflict, CodeInFlight},
	// Acknowledged unless the route's on_mismatch says reject (the edge's
	// exchange.filtered chooses).
	{policy.ErrFiltered, http.StatusOK, CodeFiltered},
	{policy.ErrFilterFailed, http.StatusOK, CodeFilterFailed},
}

// Of is the HTTP status and the code of a refusal by policy: the one place
// policy's sentinel errors are mapped to them. An error that wraps none
// is 403 CodeRefused.
func Of(err error) (int, Code) {
	for _, o := range policyOutcomes {
		if errors.Is(err, o.err) {
			return o.status, o.code
		}
	}
	return http.StatusForbidden, CodeRefused
}
