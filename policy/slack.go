package policy

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Slack signs "v0:<X-Slack-Request-Timestamp>:<body>" with the app's
// signing secret and sends X-Slack-Signature: v0=<hex>. Slack sends no
// delivery id header (X-Slack-Retry-Num counts attempts, it names none);
// Events API bodies carry event_id, which a retry repeats, so that is the
// delivery id when present. Slash commands and interactivity payloads have
// none, and the signature is the duplicate key.
// https://api.slack.com/authentication/verifying-requests-from-slack
const (
	slackSignatureHeader = "X-Slack-Signature"
	slackTimestampHeader = "X-Slack-Request-Timestamp"
)

type slackVerifier struct {
	secrets   []Secret
	tolerance time.Duration
}

var (
	_ Verifier   = (*slackVerifier)(nil)
	_ Handshaker = (*slackVerifier)(nil)
)

func newSlack(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "slack needs the app's signing secret")
	}
	return &slackVerifier{secrets: s.Secrets, tolerance: s.Tolerance}, nil
}

func (v *slackVerifier) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, slackSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	mac, err := parseSlackSignature(raw)
	if err != nil {
		return Result{}, err
	}
	ts, tsText, err := secondsHeader(r.Header, slackTimestampHeader)
	if err != nil {
		return Result{}, err
	}
	prefix := []byte("v0:" + tsText + ":")
	i, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, prefix, r.Body)
	}, [][]byte{mac})
	if !ok {
		return Result{}, refuse(ErrBadSignature, slackSignatureHeader+" does not match the timestamp and body under any configured signing secret; check the app's signing secret and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(ts, now, v.tolerance, slackTimestampHeader); err != nil {
		return Result{}, err
	}
	return Result{Secret: i, DeliveryID: bodyStringAt(r.Body, "event_id"), Signature: raw, Timestamp: ts}, nil
}

// parseSlackSignature reads "v0=<hex>", the only version Slack has.
func parseSlackSignature(h string) ([]byte, error) {
	hexMAC, ok := strings.CutPrefix(h, "v0=")
	if !ok {
		return nil, refuse(ErrSignatureMalformed, slackSignatureHeader+" must start with v0=; no other version exists")
	}
	mac, ok := sha256Hex(hexMAC)
	if !ok {
		return nil, refuse(ErrSignatureMalformed, slackSignatureHeader+" must be v0= followed by 64 hex digits; the header was truncated or altered")
	}
	return mac, nil
}

// Handshake answers the Events API's url_verification, which Slack signs
// like any event, by echoing its challenge.
func (v *slackVerifier) Handshake(r *Request, _ Result) (bool, *Answer) {
	var msg struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(r.Body, &msg) != nil || msg.Type != "url_verification" {
		return false, nil
	}
	if msg.Challenge == "" {
		return true, nil
	}
	body, err := json.Marshal(struct {
		Challenge string `json:"challenge"`
	}{msg.Challenge})
	if err != nil {
		return true, nil
	}
	return true, &Answer{Status: http.StatusOK, ContentType: "application/json", Body: body}
}
