package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

const (
	sendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	sendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// sendGrid verifies the SendGrid Event Webhook: an ECDSA P-256 signature
// (SHA-256, ASN.1 DER, base64) of the timestamp header followed by the body.
// The configured "secrets" are verification public keys as SendGrid shows
// them (base64 DER SubjectPublicKeyInfo) or PEM. SendGrid's SDK applies no
// timestamp tolerance, so freshness is checked only when a route sets one.
type sendGrid struct {
	keys      []*ecdsa.PublicKey
	tolerance time.Duration
}

var _ Verifier = (*sendGrid)(nil)

func newSendGrid(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, errors.New("sendgrid: needs at least one verification key")
	}
	v := &sendGrid{keys: make([]*ecdsa.PublicKey, len(s.Secrets)), tolerance: s.Tolerance}
	for i, sec := range s.Secrets {
		key, err := parseSendGridKey(sec.Value)
		if err != nil {
			return nil, fmt.Errorf("sendgrid: secrets[%d] (%s): %w", i, sec.Ref, err)
		}
		v.keys[i] = key
	}
	return v, nil
}

// parseSendGridKey reads a P-256 public key from base64 DER or PEM.
func parseSendGridKey(value []byte) (*ecdsa.PublicKey, error) {
	var der []byte
	if block, _ := pem.Decode(value); block != nil {
		der = block.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(value)))
		if err != nil {
			return nil, errors.New("the verification key is neither PEM nor base64; paste it as SendGrid shows it")
		}
		der = b
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("the verification key is not a DER SubjectPublicKeyInfo public key")
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("the verification key is not an ECDSA P-256 public key")
	}
	return key, nil
}

func (v *sendGrid) Verify(r *Request, now time.Time) (Result, error) {
	sig, ts, raw, err := parseSendGridHeaders(r.Header)
	if err != nil {
		return Result{}, err
	}
	h := sha256.New()
	h.Write([]byte(raw))
	h.Write(r.Body)
	digest := h.Sum(nil)
	index := -1
	for i, key := range v.keys {
		if ecdsa.VerifyASN1(key, digest, sig) {
			index = i
			break
		}
	}
	if index < 0 {
		return Result{}, refuse(ErrBadSignature, sendGridSignatureHeader+" does not match "+sendGridTimestampHeader+" and the body under any configured verification key")
	}
	if err := checkFreshness(ts, now, v.tolerance, sendGridTimestampHeader); err != nil {
		return Result{}, err
	}
	// An ECDSA signature is malleable ((r, s) and (r, n-s) both verify), so
	// the signed digest, not the signature, identifies the message.
	return Result{Secret: index, Signature: r.Header.Get(sendGridSignatureHeader), Fingerprint: digest, Timestamp: ts}, nil
}

// parseSendGridHeaders returns the DER signature, checked to be one, and
// the timestamp as a time and as the signed text.
func parseSendGridHeaders(h http.Header) (sig []byte, ts time.Time, raw string, err error) {
	text, err := requireHeader(h, sendGridSignatureHeader)
	if err != nil {
		return nil, time.Time{}, "", err
	}
	sig, err = base64.StdEncoding.DecodeString(text)
	var rs struct{ R, S *big.Int }
	if err == nil {
		var rest []byte
		rest, err = asn1.Unmarshal(sig, &rs)
		if err == nil && len(rest) > 0 {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		return nil, time.Time{}, "", refuse(ErrSignatureMalformed, sendGridSignatureHeader+" must be the base64 of an ASN.1 DER ECDSA signature")
	}
	raw = h.Get(sendGridTimestampHeader)
	if raw == "" {
		return nil, time.Time{}, "", refuse(ErrTimestampMissing, "timestamp header "+sendGridTimestampHeader+" is missing")
	}
	ts, ok := unixSeconds(raw)
	if !ok {
		return nil, time.Time{}, "", refuse(ErrTimestampMissing, "timestamp header "+sendGridTimestampHeader+" must be a Unix time in seconds")
	}
	return sig, ts, raw, nil
}
