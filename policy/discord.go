package policy

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

const (
	discordSignatureHeader = "X-Signature-Ed25519"
	discordTimestampHeader = "X-Signature-Timestamp"
)

// discord verifies a Discord interactions request: an Ed25519 signature, in
// hex, of the timestamp header followed by the body. The configured
// "secrets" are the application's public keys in hex. Discord's SDK applies
// no timestamp tolerance, so freshness is checked only when a route sets one.
type discord struct {
	keys      []ed25519.PublicKey
	tolerance time.Duration
}

var (
	_ Verifier   = (*discord)(nil)
	_ Handshaker = (*discord)(nil)
)

func newDiscord(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, errors.New("discord: needs at least one application public key")
	}
	d := &discord{keys: make([]ed25519.PublicKey, len(s.Secrets)), tolerance: s.Tolerance}
	for i, sec := range s.Secrets {
		key, err := hex.DecodeString(string(sec.Value))
		if err != nil || len(key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("discord: secrets[%d] (%s) must be the application's public key: 64 hex digits (32 bytes)", i, sec.Ref)
		}
		d.keys[i] = key
	}
	return d, nil
}

func (v *discord) Verify(r *Request, now time.Time) (Result, error) {
	sig, ts, raw, err := parseDiscordHeaders(r.Header)
	if err != nil {
		return Result{}, err
	}
	message := make([]byte, 0, len(raw)+len(r.Body))
	message = append(append(message, raw...), r.Body...)
	index := -1
	for i, key := range v.keys {
		if ed25519.Verify(key, message, sig) {
			index = i
			break
		}
	}
	if index < 0 {
		return Result{}, refuse(ErrBadSignature, discordSignatureHeader+" does not match "+discordTimestampHeader+" and the body under any configured application public key")
	}
	if err := checkFreshness(ts, now, v.tolerance, discordTimestampHeader); err != nil {
		return Result{}, err
	}
	fp := sha256.Sum256(message)
	return Result{Secret: index, Signature: r.Header.Get(discordSignatureHeader), Fingerprint: fp[:], Timestamp: ts}, nil
}

// parseDiscordHeaders returns the decoded signature and the timestamp, both
// as a time and as the raw text that was signed.
func parseDiscordHeaders(h http.Header) (sig []byte, ts time.Time, raw string, err error) {
	sigHex, err := requireHeader(h, discordSignatureHeader)
	if err != nil {
		return nil, time.Time{}, "", err
	}
	sig, err = hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, time.Time{}, "", refuse(ErrSignatureMalformed, discordSignatureHeader+" must be 128 hex digits (a 64-byte Ed25519 signature)")
	}
	raw = h.Get(discordTimestampHeader)
	if raw == "" {
		return nil, time.Time{}, "", refuse(ErrTimestampMissing, "timestamp header "+discordTimestampHeader+" is missing")
	}
	ts, ok := unixSeconds(raw)
	if !ok {
		return nil, time.Time{}, "", refuse(ErrTimestampMissing, "timestamp header "+discordTimestampHeader+" must be a Unix time in seconds")
	}
	return sig, ts, raw, nil
}

// Handshake reports a PING (interaction type 1), which Discord sends to
// check the endpoint, and answers it with a PONG (type 1).
func (v *discord) Handshake(r *Request, _ Result) (bool, *Answer) {
	var interaction struct {
		Type int `json:"type"`
	}
	if json.Unmarshal(r.Body, &interaction) != nil || interaction.Type != 1 {
		return false, nil
	}
	return true, &Answer{Status: http.StatusOK, ContentType: "application/json", Body: []byte(`{"type":1}`)}
}
