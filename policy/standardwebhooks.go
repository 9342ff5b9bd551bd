package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (and Svix, which it grew out of) sign
// "<webhook-id>.<webhook-timestamp>.<body>" with a secret given as whsec_
// followed by base64; webhook-signature holds space-separated
// "<version>,<base64>" entries, one v1 per live secret during a rotation.
// Svix sends the same headers named svix-*; its SDK prefers those, and so
// does this verifier. Asymmetric v1a entries are skipped.
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
const (
	standardIDHeader        = "webhook-id"
	standardTimestampHeader = "webhook-timestamp"
	standardSignatureHeader = "webhook-signature"
	// svixSignatureHeader is the Svix name of webhook-signature, which
	// standardHeader reads first.
	svixSignatureHeader = "svix-signature"
)

type standardVerifier struct {
	keys      []Secret // the decoded keys, in config order
	tolerance time.Duration
}

var _ Verifier = (*standardVerifier)(nil)

func newStandardWebhooks(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "standard-webhooks needs the endpoint's secret (whsec_...)")
	}
	keys := make([]Secret, len(s.Secrets))
	for i, sec := range s.Secrets {
		key, err := DecodeWebhookSecret(sec.Value)
		if err != nil {
			return nil, fieldf(fmt.Sprintf("secrets[%d]", i), "%s %v", sec.Ref, err)
		}
		keys[i] = Secret{Ref: sec.Ref, Value: key}
	}
	return &standardVerifier{keys: keys, tolerance: s.Tolerance}, nil
}

// standardHeader returns the svix- or webhook- header called suffix, with
// the name it was found under for refusals.
func standardHeader(h http.Header, suffix string) (value, name string) {
	if v := h.Get("svix-" + suffix); v != "" {
		return v, "svix-" + suffix
	}
	return h.Get("webhook-" + suffix), "webhook-" + suffix
}

func (v *standardVerifier) Verify(r *Request, now time.Time) (Result, error) {
	raw, sigName := standardHeader(r.Header, "signature")
	if raw == "" {
		return Result{}, refuse(ErrSignatureMissing, "signature header webhook-signature (or svix-signature) is missing")
	}
	id, _ := standardHeader(r.Header, "id")
	if id == "" {
		return Result{}, refuse(ErrSignatureMissing, "header webhook-id (or svix-id) is missing; it is part of the signed content")
	}
	tsText, tsName := standardHeader(r.Header, "timestamp")
	if tsText == "" {
		return Result{}, refuse(ErrTimestampMissing, "timestamp header webhook-timestamp (or svix-timestamp) is missing")
	}
	ts, ok := unixSeconds(tsText)
	if !ok {
		return Result{}, refuse(ErrTimestampMissing, "timestamp header "+tsName+" must be a Unix time in seconds")
	}
	sigs, err := parseStandardSignature(raw, sigName)
	if err != nil {
		return Result{}, err
	}
	// The SDKs sign the parsed integer, not the header's text.
	prefix := []byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + ".")
	i, fp, ok := matchSecret(v.keys, func(key []byte) []byte {
		return macOf(sha256.New, key, prefix, r.Body)
	}, sigs)
	if !ok {
		return Result{}, refuse(ErrBadSignature, "no v1 signature in "+sigName+" matches the id, timestamp and body under any configured secret; check the secret and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(ts, now, v.tolerance, tsName); err != nil {
		return Result{}, err
	}
	return Result{Secret: i, DeliveryID: id, Signature: raw, Fingerprint: fp, Timestamp: ts}, nil
}

// parseStandardSignature reads space-separated "v1,<base64>" entries and
// skips other versions. Entries are separated by " " only, as the
// official libraries split them (standard-webhooks' Go, svix): a tab or
// other white space is part of an entry, which then cannot match.
func parseStandardSignature(h, name string) ([][]byte, error) {
	var sigs [][]byte
	for entry := range strings.SplitSeq(h, " ") {
		if entry == "" {
			continue // runs of spaces
		}
		version, b64, _ := strings.Cut(entry, ",")
		if version != "v1" {
			continue
		}
		mac, ok := sha256Base64(b64)
		if !ok {
			return nil, refuse(ErrSignatureMalformed, "a v1 entry in "+name+" is not a base64 HMAC-SHA256; the header was truncated or altered")
		}
		sigs = append(sigs, mac)
	}
	if len(sigs) == 0 {
		return nil, refuse(ErrSignatureMissing, name+" has no v1,<base64> signature; only v1 (HMAC-SHA256) is accepted")
	}
	return sigs, nil
}

// DecodeWebhookSecret reads a Standard Webhooks secret: "whsec_" and base64
// (the key the edge signs its own messages with: forward_secret, alerts).
func DecodeWebhookSecret(secret []byte) ([]byte, error) {
	b64 := strings.TrimPrefix(string(secret), "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// The SDKs' decoder also takes the key without its padding.
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) == 0 {
		return nil, errors.New("is not a Standard Webhooks secret: expected whsec_ followed by base64")
	}
	return key, nil
}

// SignStandardWebhook is the webhook-signature value for a message the
// edge sends (to the app, or an alert): "v1," and the base64 HMAC-SHA256
// of "id.timestamp.body".
func SignStandardWebhook(key []byte, id string, ts time.Time, body []byte) string {
	mac := macOf(sha256.New, key, []byte(id+"."+strconv.FormatInt(ts.Unix(), 10)+"."), body)
	return "v1," + base64.StdEncoding.EncodeToString(mac)
}
