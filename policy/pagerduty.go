package policy

import (
	"crypto/sha256"
	"strings"
	"time"
)

// PagerDuty v3 webhooks sign the raw body with the subscription's secret
// and send X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...], one v1 per live
// secret during a rotation. No timestamp is signed. X-Webhook-Id names the
// webhook and is repeated on every delivery attempt, so it is the delivery
// id; without it, the event id in the body is.
// https://developer.pagerduty.com/docs/ZG9jOjExMDI5NTkz-verifying-signatures
// and, for X-Webhook-Id, the "At-Least-Once Delivery" section of PagerDuty's
// webhook behavior docs.
const (
	pagerDutySignatureHeader = "X-PagerDuty-Signature"
	pagerDutyIDHeader        = "X-Webhook-Id"
)

type pagerDutyVerifier struct {
	secrets []Secret
}

var _ Verifier = (*pagerDutyVerifier)(nil)

func newPagerDuty(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "pagerduty needs the webhook subscription's secret")
	}
	return &pagerDutyVerifier{secrets: s.Secrets}, nil
}

func (v *pagerDutyVerifier) Verify(r *Request, _ time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, pagerDutySignatureHeader)
	if err != nil {
		return Result{}, err
	}
	sigs, err := parsePagerDutySignature(raw)
	if err != nil {
		return Result{}, err
	}
	i, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, r.Body)
	}, sigs)
	if !ok {
		return Result{}, refuse(ErrBadSignature, "no v1 signature in "+pagerDutySignatureHeader+" matches the body under any configured secret; check the subscription's secret and that nothing rewrites the body before the edge")
	}
	id := r.Header.Get(pagerDutyIDHeader)
	if id == "" {
		id = bodyStringAt(r.Body, "event", "id")
	}
	return Result{Secret: i, DeliveryID: id, Signature: raw, Fingerprint: fp}, nil
}

// parsePagerDutySignature reads comma-separated "v1=<hex>" entries and
// skips other versions.
func parsePagerDutySignature(h string) ([][]byte, error) {
	var sigs [][]byte
	for item := range strings.SplitSeq(h, ",") {
		version, val, _ := strings.Cut(strings.TrimSpace(item), "=")
		if version != "v1" {
			continue
		}
		mac, ok := sha256Hex(val)
		if !ok {
			return nil, refuse(ErrSignatureMalformed, "v1 in "+pagerDutySignatureHeader+" must be 64 hex digits; the header was truncated or altered")
		}
		sigs = append(sigs, mac)
	}
	if len(sigs) == 0 {
		return nil, refuse(ErrSignatureMissing, pagerDutySignatureHeader+" has no v1=<hex> signature; only v1 (HMAC-SHA256) is accepted")
	}
	return sigs, nil
}
