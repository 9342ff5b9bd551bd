package policy

import (
	"encoding/json"
	"net/http"
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
	v0Scheme
}

var (
	_ Verifier   = (*slackVerifier)(nil)
	_ Handshaker = (*slackVerifier)(nil)
)

func newSlack(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "slack needs the app's signing secret")
	}
	return &slackVerifier{v0Scheme{sigHeader: slackSignatureHeader, tsHeader: slackTimestampHeader,
		secretName: "signing secret", bodyID: "event_id", secrets: s.Secrets, tolerance: s.Tolerance}}, nil
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
