package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// Zoom signs "v0:<x-zm-request-timestamp>:<body>" with the app's secret
// token and sends x-zm-signature: v0=<hex>. It validates the endpoint with
// a signed endpoint.url_validation event that must be answered with the
// plainToken and its HMAC under the same secret token. Zoom documents no
// delivery id header, so the signature is the duplicate key.
// https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
const (
	zoomSignatureHeader = "x-zm-signature"
	zoomTimestampHeader = "x-zm-request-timestamp"
)

type zoomVerifier struct {
	v0Scheme
}

var (
	_ Verifier   = (*zoomVerifier)(nil)
	_ Handshaker = (*zoomVerifier)(nil)
)

func newZoom(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "zoom needs the app's secret token")
	}
	return &zoomVerifier{v0Scheme{sigHeader: zoomSignatureHeader, tsHeader: zoomTimestampHeader,
		secretName: "secret token", bodyID: "", secrets: s.Secrets, tolerance: s.Tolerance}}, nil
}

// Handshake answers endpoint.url_validation with the HMAC of plainToken
// under the secret token that verified the request, so a validation during
// a secret rotation is answered with the secret Zoom is using.
func (v *zoomVerifier) Handshake(r *Request, res Result) (bool, *Answer) {
	var msg struct {
		Event   string `json:"event"`
		Payload struct {
			PlainToken string `json:"plainToken"`
		} `json:"payload"`
	}
	if json.Unmarshal(r.Body, &msg) != nil || msg.Event != "endpoint.url_validation" {
		return false, nil
	}
	if msg.Payload.PlainToken == "" || res.Secret < 0 || res.Secret >= len(v.secrets) {
		return true, nil
	}
	mac := macOf(sha256.New, v.secrets[res.Secret].Value, []byte(msg.Payload.PlainToken))
	body, err := json.Marshal(struct {
		PlainToken     string `json:"plainToken"`
		EncryptedToken string `json:"encryptedToken"`
	}{msg.Payload.PlainToken, hex.EncodeToString(mac)})
	if err != nil {
		return true, nil
	}
	return true, &Answer{Status: http.StatusOK, ContentType: "application/json", Body: body}
}
