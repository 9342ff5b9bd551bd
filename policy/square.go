package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

const squareSignatureHeader = "X-Square-Hmacsha256-Signature"

// squareSHA1Header is Square's older HMAC-SHA1 signature, still sent
// beside the SHA-256 one and not accepted.
const squareSHA1Header = "X-Square-Signature"

// square verifies x-square-hmacsha256-signature: base64 HMAC-SHA256, keyed
// with the subscription's signature key, of the notification URL followed
// by the body.
type square struct {
	secrets []Secret
}

var _ Verifier = (*square)(nil)

func newSquare(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, errors.New("square: needs at least one signature key")
	}
	return &square{secrets: s.Secrets}, nil
}

func (v *square) Verify(r *Request, _ time.Time) (Result, error) {
	header, err := requireHeader(r.Header, squareSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	sig, err := parseSquareSignature(header)
	if err != nil {
		return Result{}, err
	}
	if r.URL == nil {
		return Result{}, refuse(ErrBadSignature, "the request URL is unknown, so "+squareSignatureHeader+" cannot be checked")
	}
	u := *r.URL
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	signedURL := []byte(u.String())
	index, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, signedURL, r.Body)
	}, [][]byte{sig})
	if !ok {
		return Result{}, refuse(ErrBadSignature, squareSignatureHeader+" does not match the notification URL and body signed with any configured signature key; check that the subscription's notification URL is exactly the URL this endpoint receives")
	}
	return Result{Secret: index, DeliveryID: squareEventID(r.Body), Signature: header, Fingerprint: fp}, nil
}

// parseSquareSignature decodes the header strictly: the SDK compares the
// base64 text, so only the canonical spelling may match.
func parseSquareSignature(header string) ([]byte, error) {
	sig, err := base64.StdEncoding.Strict().DecodeString(header)
	if err != nil || len(sig) != sha256.Size {
		return nil, refuse(ErrSignatureMalformed, squareSignatureHeader+" must be the base64 of a 32-byte HMAC-SHA256")
	}
	return sig, nil
}

// squareEventID is the body's event_id, the same on every retry of an
// event; empty when the body has none.
func squareEventID(body []byte) string {
	var event struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(body, &event) != nil {
		return ""
	}
	return event.EventID
}
