package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// Pieces shared by the timestamped HMAC-SHA256 schemes (Stripe, Standard
// Webhooks, Slack, Paddle, HubSpot, Zoom, Twitch, PagerDuty).

// sha256Hex decodes a hex HMAC-SHA256 digest. Anything else cannot match,
// so it is refused as malformed before any MAC is computed.
func sha256Hex(s string) ([]byte, bool) {
	if len(s) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// sha256Base64 decodes a base64 (standard alphabet, padded) HMAC-SHA256 digest.
func sha256Base64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil && len(b) == sha256.Size
}

// secondsHeader reads a Unix-seconds timestamp header, keeping its text
// because most schemes sign the text as sent.
func secondsHeader(h http.Header, name string) (time.Time, string, error) {
	raw := h.Get(name)
	if raw == "" {
		return time.Time{}, "", refuse(ErrTimestampMissing, "timestamp header "+name+" is missing")
	}
	ts, ok := unixSeconds(raw)
	if !ok {
		return time.Time{}, "", refuse(ErrTimestampMissing, "timestamp header "+name+" must be a Unix time in seconds")
	}
	return ts, raw, nil
}

// bodyStringAt returns the string at path in a JSON object body
// ("event", "id"), or "" when the body is not JSON or the value is not a
// string. Only verified bodies are read, so only real senders pay for the
// parse.
func bodyStringAt(body []byte, path ...string) string {
	raw := json.RawMessage(body)
	for _, key := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return ""
		}
		raw = obj[key]
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
