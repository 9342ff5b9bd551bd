package policy

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"
)

// Paddle Billing signs "<ts>:<body>" with the notification destination's
// secret key and sends Paddle-Signature: ts=<unix>;h1=<hex>, with one h1 per
// live secret while a secret is being rotated. The official Node SDK allows
// 5 s between ts and now. The notification_id in the body names the
// delivery to this destination and stays the same across retries.
// https://developer.paddle.com/webhooks/signature-verification
const paddleSignatureHeader = "Paddle-Signature"

type paddleVerifier struct {
	secrets   []Secret
	tolerance time.Duration
}

var _ Verifier = (*paddleVerifier)(nil)

func newPaddle(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "paddle needs the notification destination's secret key (pdl_ntfset_...)")
	}
	return &paddleVerifier{secrets: s.Secrets, tolerance: s.Tolerance}, nil
}

func (v *paddleVerifier) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, paddleSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	sig, err := parsePaddleSignature(raw)
	if err != nil {
		return Result{}, err
	}
	// The SDK signs the parsed integer, not the text of ts=.
	prefix := []byte(strconv.FormatInt(sig.timestamp.Unix(), 10) + ":")
	i, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, prefix, r.Body)
	}, sig.h1)
	if !ok {
		return Result{}, refuse(ErrBadSignature, "no h1 in "+paddleSignatureHeader+" matches the body under any configured secret key; check the notification destination's secret and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(sig.timestamp, now, v.tolerance, paddleSignatureHeader); err != nil {
		return Result{}, err
	}
	return Result{Secret: i, DeliveryID: bodyStringAt(r.Body, "notification_id"), Signature: raw, Fingerprint: fp, Timestamp: sig.timestamp}, nil
}

type paddleSignature struct {
	timestamp time.Time
	h1        [][]byte
}

// parsePaddleSignature reads "ts=<unix>;h1=<hex>[;h1=<hex>...]" as
// Paddle's SDKs do (paddle-node-sdk splits on ";" and "=" and compares the
// keys exactly; paddle-go-sdk matches ^ts=(\d+);h1=(\w+)$): no spaces are
// trimmed, so " h1=<hex>" is an unknown key. Unknown keys are skipped so
// Paddle can add schemes; a second ts= is refused because it is ambiguous
// which one was signed.
func parsePaddleSignature(h string) (paddleSignature, error) {
	var sig paddleSignature
	seenTS := false
	for item := range strings.SplitSeq(h, ";") {
		key, val, _ := strings.Cut(item, "=")
		switch key {
		case "ts":
			ts, ok := unixSeconds(val)
			if !ok || seenTS {
				return paddleSignature{}, refuse(ErrSignatureMalformed, paddleSignatureHeader+" must hold exactly one ts=<Unix seconds>")
			}
			sig.timestamp, seenTS = ts, true
		case "h1":
			mac, ok := sha256Hex(val)
			if !ok {
				return paddleSignature{}, refuse(ErrSignatureMalformed, "h1 in "+paddleSignatureHeader+" must be 64 hex digits; the header was truncated or altered")
			}
			sig.h1 = append(sig.h1, mac)
		}
	}
	if !seenTS {
		return paddleSignature{}, refuse(ErrTimestampMissing, paddleSignatureHeader+" has no ts= timestamp")
	}
	if len(sig.h1) == 0 {
		return paddleSignature{}, refuse(ErrSignatureMissing, paddleSignatureHeader+" has no h1 signature; only h1 (HMAC-SHA256) is accepted")
	}
	return sig, nil
}
