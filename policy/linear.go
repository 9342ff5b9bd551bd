package policy

import (
	"encoding/json"
	"math"
	"time"
)

// linearTimestampField is where Linear puts the send time: inside the
// signed body, in Unix milliseconds, so it cannot be changed in transit.
const linearTimestampField = "webhookTimestamp"

const linearSignatureHeader = "Linear-Signature"

// linear verifies Linear-Signature: hex HMAC-SHA256 of the raw body, keyed
// with the webhook's signing secret, then the body's webhookTimestamp
// against the tolerance (60 s in @linear/sdk).
type linear struct {
	mac       *macScheme
	tolerance time.Duration
}

var _ Verifier = (*linear)(nil)

func newLinear(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(linearSignatureHeader, "sha256", macHex, "", s.Secrets)
	m.idHeaders = []string{"Linear-Delivery"}
	return &linear{mac: m, tolerance: s.Tolerance}, nil
}

func (v *linear) Verify(r *Request, now time.Time) (Result, error) {
	res, err := v.mac.Verify(r, now)
	if err != nil {
		return Result{}, err
	}
	ts, err := parseLinearTimestamp(r.Body)
	if err != nil {
		return Result{}, err
	}
	if err := checkFreshness(ts, now, v.tolerance, "the body's "+linearTimestampField); err != nil {
		return Result{}, err
	}
	res.Timestamp = ts
	return res, nil
}

// parseLinearTimestamp reads webhookTimestamp, which like the SDK we accept
// only as a JSON number: a string would be a body Linear did not send.
func parseLinearTimestamp(body []byte) (time.Time, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return time.Time{}, refuse(ErrTimestampMissing, "the body is not a JSON object, so it has no "+linearTimestampField)
	}
	raw, ok := fields[linearTimestampField]
	if !ok || string(raw) == "null" {
		return time.Time{}, refuse(ErrTimestampMissing, "the body has no "+linearTimestampField)
	}
	var ms float64
	// The upper bound keeps the conversion to int64 defined.
	if err := json.Unmarshal(raw, &ms); err != nil || ms < 0 || ms > math.MaxInt64/2 {
		return time.Time{}, refuse(ErrTimestampMissing, linearTimestampField+" in the body is not a number of Unix milliseconds")
	}
	return time.UnixMilli(int64(ms)), nil
}
