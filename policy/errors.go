package policy

import "errors"

// Sentinel errors. Every refusal policy returns wraps exactly one of them, so
// the edge can choose the HTTP status and the stable error code with errors.Is.
var (
	ErrNoRoute          = errors.New("policy: no route matches")
	ErrMethodNotAllowed = errors.New("policy: method not allowed")
	ErrBadPath          = errors.New("policy: path is not canonical")

	ErrSignatureMissing   = errors.New("policy: signature is missing")
	ErrSignatureMalformed = errors.New("policy: signature is malformed")
	ErrBadSignature       = errors.New("policy: signature does not match")
	ErrTimestampMissing   = errors.New("policy: timestamp is missing")
	ErrStaleTimestamp     = errors.New("policy: timestamp is too old")
	ErrFutureTimestamp    = errors.New("policy: timestamp is in the future")

	ErrIPNotAllowed = errors.New("policy: source address not allowed")
	ErrTokenMissing = errors.New("policy: URL token is missing")
	ErrBadToken     = errors.New("policy: URL token does not match")
	ErrRateLimited  = errors.New("policy: rate limit exceeded")
	ErrBodyTooLarge = errors.New("policy: body too large")
	// ErrDuplicate is not a refusal of the sender: the delivery was already
	// accepted, so the edge acknowledges it without forwarding it again.
	ErrDuplicate = errors.New("policy: delivery already accepted")
	// ErrInFlight is a copy of a delivery another copy of which is being
	// forwarded now: it is not forwarded too, and the sender should retry
	// later, when the first copy's outcome is known.
	ErrInFlight = errors.New("policy: delivery is being forwarded")
)

// Refusal is a refusal with a sentence for the sender that says what to fix.
// Its message never holds a secret or an expected signature.
type Refusal struct {
	Kind   error  // one of the sentinel errors above
	Detail string // e.g. "signature header X-Hub-Signature-256 is missing"
}

func (e *Refusal) Error() string { return e.Detail }
func (e *Refusal) Unwrap() error { return e.Kind }

// refuse builds a Refusal of kind with a human detail.
func refuse(kind error, detail string) error {
	return &Refusal{Kind: kind, Detail: detail}
}
