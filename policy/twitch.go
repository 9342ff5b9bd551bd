package policy

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Twitch EventSub signs message id + timestamp + body with the secret given
// when subscribing and sends Twitch-Eventsub-Message-Signature:
// sha256=<hex>. The timestamp is RFC 3339 with nanoseconds; the docs refuse
// messages older than 10 minutes. A resent notification keeps its message
// id, which is the delivery id. A new subscription is confirmed by a signed
// webhook_callback_verification whose challenge must be echoed as text.
// https://dev.twitch.tv/docs/eventsub/handling-webhook-events/
const (
	twitchIDHeader        = "Twitch-Eventsub-Message-Id"
	twitchTimestampHeader = "Twitch-Eventsub-Message-Timestamp"
	twitchSignatureHeader = "Twitch-Eventsub-Message-Signature"
	twitchTypeHeader      = "Twitch-Eventsub-Message-Type"
)

type twitchVerifier struct {
	secrets   []Secret
	tolerance time.Duration
}

var (
	_ Verifier   = (*twitchVerifier)(nil)
	_ Handshaker = (*twitchVerifier)(nil)
)

func newTwitch(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "twitch needs the secret given when creating the EventSub subscription")
	}
	for i, sec := range s.Secrets {
		// Twitch refuses any other secret when subscribing, so one here
		// can never match.
		if len(sec.Value) < 10 || len(sec.Value) > 100 || !twitchASCII(sec.Value) {
			return nil, fieldf(fmt.Sprintf("secrets[%d]", i), "%s is not a Twitch EventSub secret: it must be 10 to 100 ASCII characters", sec.Ref)
		}
	}
	return &twitchVerifier{secrets: s.Secrets, tolerance: s.Tolerance}, nil
}

func twitchASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func (v *twitchVerifier) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, twitchSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	mac, err := parseTwitchSignature(raw)
	if err != nil {
		return Result{}, err
	}
	id := r.Header.Get(twitchIDHeader)
	if id == "" {
		return Result{}, refuse(ErrSignatureMissing, "header "+twitchIDHeader+" is missing; it is part of the signed content")
	}
	tsText := r.Header.Get(twitchTimestampHeader)
	if tsText == "" {
		return Result{}, refuse(ErrTimestampMissing, "timestamp header "+twitchTimestampHeader+" is missing")
	}
	ts, err := time.Parse(time.RFC3339Nano, tsText)
	if err != nil {
		return Result{}, refuse(ErrTimestampMissing, "timestamp header "+twitchTimestampHeader+" must be an RFC 3339 time")
	}
	prefix := []byte(id + tsText)
	i, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, prefix, r.Body)
	}, [][]byte{mac})
	if !ok {
		return Result{}, refuse(ErrBadSignature, twitchSignatureHeader+" does not match the message id, timestamp and body under any configured secret; check the subscription's secret and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(ts, now, v.tolerance, twitchTimestampHeader); err != nil {
		return Result{}, err
	}
	return Result{Secret: i, DeliveryID: id, Signature: raw, Fingerprint: fp, Timestamp: ts}, nil
}

// parseTwitchSignature reads "sha256=<hex>".
func parseTwitchSignature(h string) ([]byte, error) {
	hexMAC, ok := strings.CutPrefix(h, "sha256=")
	if !ok {
		return nil, refuse(ErrSignatureMalformed, twitchSignatureHeader+" must start with sha256=")
	}
	mac, ok := sha256Hex(hexMAC)
	if !ok {
		return nil, refuse(ErrSignatureMalformed, twitchSignatureHeader+" must be sha256= followed by 64 hex digits; the header was truncated or altered")
	}
	return mac, nil
}

// Handshake answers webhook_callback_verification with its challenge as
// text/plain; revocations and notifications are ordinary messages.
func (v *twitchVerifier) Handshake(r *Request, _ Result) (bool, *Answer) {
	if r.Header.Get(twitchTypeHeader) != "webhook_callback_verification" {
		return false, nil
	}
	var msg struct {
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(r.Body, &msg) != nil || msg.Challenge == "" {
		return true, nil
	}
	return true, &Answer{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(msg.Challenge)}
}
