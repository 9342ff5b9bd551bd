package tunnel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// An agent authenticates on the websocket upgrade itself: its request
// carries "Authorization: Bearer <token>", and the edge answers 401 before
// any websocket or yamux session exists unless the token is one it knows.
// Nothing an unauthenticated peer sends is buffered beyond the HTTP
// request head.

// Authorize decides whether the agent token of an upgrade request may
// open a session; a non-nil error refuses it. It runs before the upgrade.
type Authorize func(r *http.Request, token string) error

// Errors of the upgrade's authentication.
var (
	// ErrUnauthorized is returned by Accept when the upgrade request was
	// answered 401: no token, a malformed one, or one authorize refused.
	ErrUnauthorized = errors.New("tunnel: the upgrade request carries no token the edge accepts")
	// ErrNoBearerToken is an upgrade request without a usable
	// "Authorization: Bearer <token>" header.
	ErrNoBearerToken = errors.New("tunnel: no Authorization: Bearer token")
	// ErrInvalidToken is a token Dial cannot send (see ValidToken).
	ErrInvalidToken = errors.New("tunnel: the token is empty, longer than 512 bytes, or has spaces or non-ASCII characters")
	// ErrTokenMismatch is a Hello whose token is not the upgrade's.
	ErrTokenMismatch = errors.New("tunnel: the hello's token differs from the upgrade request's")
)

// maxTokenLen bounds an agent token; the edge only hashes it.
const maxTokenLen = 512

// badTokenMessage is what an agent is told when its token is refused.
const badTokenMessage = "the token is not valid on this edge (unknown or revoked)"

// ValidToken reports whether token can travel as a bearer token: 1 to 512
// visible ASCII characters, no spaces.
func ValidToken(token string) bool {
	if len(token) == 0 || len(token) > maxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// BearerToken returns the token of the request's one Authorization header,
// which must be "Bearer" (any case), one space, and a ValidToken (RFC 6750
// §2.1, with any visible character allowed in the token).
func BearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	if len(values) != 1 {
		return "", ErrNoBearerToken
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !ValidToken(token) {
		return "", ErrNoBearerToken
	}
	return token, nil
}

// authorizeUpgrade runs authorize on r's bearer token. On refusal it
// answers 401 with a short JSON body and returns ErrUnauthorized; a nil
// authorize refuses every token.
func authorizeUpgrade(w http.ResponseWriter, r *http.Request, authorize Authorize) (string, error) {
	token, err := BearerToken(r.Header)
	message := badTokenMessage
	if err != nil {
		message = "the upgrade request has no Authorization: Bearer token (is the agent older than the edge?)"
	} else if authorize == nil {
		err = errors.New("tunnel: no authorizer")
	} else {
		err = authorize(r, token)
	}
	if err == nil {
		return token, nil
	}
	body, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{RefusedBadToken, message})
	hdr := w.Header()
	hdr.Set("WWW-Authenticate", `Bearer realm="hooktunnel"`)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)+1))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Connection", "close") // what a refused peer sends next is not read
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(append(body, '\n'))
	return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
}
