package policy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stripe signs "<t>.<body>" with the endpoint's signing secret (whsec_...,
// used as raw bytes) and sends Stripe-Signature: t=<unix>,v1=<hex>[,v1=...].
// While a secret is being rolled, the header carries one v1 per live
// secret; v0 entries are test-mode signatures and are ignored, as the
// official SDKs do. Stripe sends no delivery header: the event id in the
// body is the one that stays the same across retries.
// https://docs.stripe.com/webhooks#verify-manually
const stripeSignatureHeader = "Stripe-Signature"

type stripeVerifier struct {
	secrets   []Secret
	tolerance time.Duration
}

var _ Verifier = (*stripeVerifier)(nil)

func newStripe(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "stripe needs the endpoint's signing secret (whsec_...)")
	}
	for i, sec := range s.Secrets {
		// A pasted API key would never match; say so at start rather than
		// refusing every delivery.
		for _, p := range []string{"sk_", "rk_", "pk_"} {
			if bytes.HasPrefix(sec.Value, []byte(p)) {
				return nil, fieldf(fmt.Sprintf("secrets[%d]", i), "%s is a Stripe API key (%s...); use the webhook endpoint's signing secret (whsec_...)", sec.Ref, p)
			}
		}
	}
	return &stripeVerifier{secrets: s.Secrets, tolerance: s.Tolerance}, nil
}

func (v *stripeVerifier) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, stripeSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	sig, err := parseStripeSignature(raw)
	if err != nil {
		return Result{}, err
	}
	// The SDKs sign the parsed integer, not the text of t=.
	prefix := []byte(strconv.FormatInt(sig.timestamp.Unix(), 10) + ".")
	i, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, prefix, r.Body)
	}, sig.v1)
	if !ok {
		return Result{}, refuse(ErrBadSignature, "no v1 signature in "+stripeSignatureHeader+" matches the body under any configured signing secret; check that the secret is this endpoint's whsec_ and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(sig.timestamp, now, v.tolerance, stripeSignatureHeader); err != nil {
		return Result{}, err
	}
	return Result{Secret: i, DeliveryID: bodyStringAt(r.Body, "id"), Signature: raw, Fingerprint: fp, Timestamp: sig.timestamp}, nil
}

type stripeSignature struct {
	timestamp time.Time
	v1        [][]byte
}

// parseStripeSignature reads "t=<unix>,v1=<hex>[,v1=<hex>...]" as the
// official libraries do (stripe-go's parseSignatureHeader, stripe-node's
// parseHeader): split on "," and then on "=", with no spaces trimmed, so
// " v1=<hex>" is an unknown key and not a signature. Unknown schemes are
// skipped so Stripe can add some. Stricter than the libraries: an item
// that is not exactly one key=value (stripe-go refuses the header too), a
// t= given twice (ambiguous which one was signed) and a v1 that is not 64
// hex digits are refused.
func parseStripeSignature(h string) (stripeSignature, error) {
	var sig stripeSignature
	seenT := false
	for item := range strings.SplitSeq(h, ",") {
		key, val, ok := strings.Cut(item, "=")
		if !ok || strings.Contains(val, "=") {
			return stripeSignature{}, refuse(ErrSignatureMalformed, stripeSignatureHeader+" must be key=value items separated by commas, with no spaces")
		}
		switch key {
		case "t":
			ts, ok := unixSeconds(val)
			if !ok || seenT {
				return stripeSignature{}, refuse(ErrSignatureMalformed, stripeSignatureHeader+" must hold exactly one t=<Unix seconds>")
			}
			sig.timestamp, seenT = ts, true
		case "v1":
			mac, ok := sha256Hex(val)
			if !ok {
				return stripeSignature{}, refuse(ErrSignatureMalformed, "v1 in "+stripeSignatureHeader+" must be 64 hex digits; the header was truncated or altered")
			}
			sig.v1 = append(sig.v1, mac)
		}
	}
	if !seenT {
		return stripeSignature{}, refuse(ErrTimestampMissing, stripeSignatureHeader+" has no t= timestamp")
	}
	if len(sig.v1) == 0 {
		return stripeSignature{}, refuse(ErrSignatureMissing, stripeSignatureHeader+" has no v1 signature; only v1 (HMAC-SHA256) is accepted")
	}
	return sig, nil
}
