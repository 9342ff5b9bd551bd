package policy

import (
	"crypto/sha256"
	"strings"
	"time"
)

// v0Scheme is the scheme Slack introduced and Zoom copied: the header
// holds "v0=" and the hex HMAC-SHA256 of "v0:<timestamp>:<body>", the
// timestamp (Unix seconds) in a header of its own.
type v0Scheme struct {
	sigHeader, tsHeader string
	secretName          string // "signing secret", for refusals
	bodyID              string // JSON field of the body naming the delivery, "" if none
	secrets             []Secret
	tolerance           time.Duration
}

func (v *v0Scheme) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, v.sigHeader)
	if err != nil {
		return Result{}, err
	}
	mac, err := v.parse(raw)
	if err != nil {
		return Result{}, err
	}
	ts, tsText, err := secondsHeader(r.Header, v.tsHeader)
	if err != nil {
		return Result{}, err
	}
	prefix := []byte("v0:" + tsText + ":")
	i, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, prefix, r.Body)
	}, [][]byte{mac})
	if !ok {
		return Result{}, refuse(ErrBadSignature, v.sigHeader+" does not match the timestamp and body under any configured "+v.secretName+"; check the app's "+v.secretName+" and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(ts, now, v.tolerance, v.tsHeader); err != nil {
		return Result{}, err
	}
	res := Result{Secret: i, Signature: raw, Fingerprint: fp, Timestamp: ts}
	if v.bodyID != "" {
		res.DeliveryID = bodyStringAt(r.Body, v.bodyID)
	}
	return res, nil
}

// parse reads "v0=<hex>", the only version either provider has.
func (v *v0Scheme) parse(h string) ([]byte, error) {
	hexMAC, ok := strings.CutPrefix(h, "v0=")
	if !ok {
		return nil, refuse(ErrSignatureMalformed, v.sigHeader+" must start with v0=; no other version exists")
	}
	mac, ok := sha256Hex(hexMAC)
	if !ok {
		return nil, refuse(ErrSignatureMalformed, v.sigHeader+" must be v0= followed by 64 hex digits; the header was truncated or altered")
	}
	return mac, nil
}
