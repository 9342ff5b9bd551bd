package policy

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSendGrid(t *testing.T) {
	t.Parallel()
	f := loadKeyFixture(t, "sendgrid")
	published, current, old, pemKey := f.Secrets["published"], f.Secrets["current"], f.Secrets["old"], f.Secrets["current_pem"]
	signedAt := time.Unix(1700000100, 0)
	const base = "event batch"
	tests := []struct {
		name       string
		vector     string
		secrets    []string
		tolerance  time.Duration
		now        time.Time
		mutate     func(r *Request)
		wantErr    error
		wantSecret int
	}{
		{name: "published SDK vector", vector: "published single event", secrets: []string{published}, now: time.Unix(1600112502, 0)},
		{name: "generated vector", vector: base, secrets: []string{current}, now: signedAt},
		{name: "PEM key", vector: base, secrets: []string{pemKey}, now: signedAt},
		{name: "no tolerance by default, so an old request passes", vector: base, secrets: []string{current}, now: signedAt.Add(48 * time.Hour)},
		{name: "stale with route tolerance", vector: base, secrets: []string{current}, tolerance: 10 * time.Minute,
			now: signedAt.Add(11 * time.Minute), wantErr: ErrStaleTimestamp},
		{name: "future with route tolerance", vector: base, secrets: []string{current}, tolerance: 10 * time.Minute,
			now: signedAt.Add(-11 * time.Minute), wantErr: ErrFutureTimestamp},
		{name: "body tampered by one byte", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Body[4] ^= 1 }, wantErr: ErrBadSignature},
		{name: "body with trailing newline", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "published body without its CRLF", vector: "published single event", secrets: []string{published}, now: time.Unix(1600112502, 0),
			mutate: func(r *Request) { r.Body = r.Body[:len(r.Body)-2] }, wantErr: ErrBadSignature},
		{name: "timestamp changed", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", "1700000101") }, wantErr: ErrBadSignature},
		{name: "wrong key", vector: base, secrets: []string{published}, now: signedAt, wantErr: ErrBadSignature},
		{name: "old key during rotation", vector: "old key during rotation", secrets: []string{current, old}, now: signedAt, wantSecret: 1},
		{name: "truncated signature", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) {
				sig := r.Header.Get("X-Twilio-Email-Event-Webhook-Signature")
				raw, _ := base64.StdEncoding.DecodeString(sig)
				r.Header.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(raw[:len(raw)-1]))
			}, wantErr: ErrSignatureMalformed},
		{name: "signature not base64", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Twilio-Email-Event-Webhook-Signature", "MEUC!") }, wantErr: ErrSignatureMalformed},
		{name: "missing signature", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Del("X-Twilio-Email-Event-Webhook-Signature") }, wantErr: ErrSignatureMissing},
		{name: "missing timestamp", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Del("X-Twilio-Email-Event-Webhook-Timestamp") }, wantErr: ErrTimestampMissing},
		{name: "timestamp not a number", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", "1.7e9") }, wantErr: ErrTimestampMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ver, err := NewVerifier(VerifyConfig{Provider: "sendgrid"}, rotationSecrets(tc.secrets...), tc.tolerance)
			if err != nil {
				t.Fatal(err)
			}
			r := f.request(t, tc.vector)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			res, err := ver.Verify(r, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			wantTS, _ := unixSeconds(r.Header.Get("X-Twilio-Email-Event-Webhook-Timestamp"))
			if res.Secret != tc.wantSecret || res.Signature != r.Header.Get("X-Twilio-Email-Event-Webhook-Signature") || !res.Timestamp.Equal(wantTS) || len(res.Fingerprint) == 0 {
				t.Errorf("Result = %+v, want secret %d, timestamp %v", res, tc.wantSecret, wantTS)
			}
		})
	}
}

func TestNewSendGridConfig(t *testing.T) {
	t.Parallel()
	f := loadKeyFixture(t, "sendgrid")
	// Valid SubjectPublicKeyInfo keys of the wrong kind, made with Node's
	// crypto.generateKeyPairSync.
	const (
		p384       = "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAER6uLo3+yKgEUy37U+iEVKRXzroRVn0c3XUO5fgTEZfO1U/wireLdVqXpOQltc+fUxxw0P7NKo2RSUOUdNsDZjCdaEFxgwEDBwDMV9ebjaOqmBgYBY04MYaHuP88wK3hy"
		ed25519Key = "MCowBQYDK2VwAyEAf+snbUv+k+xGBWrmQJFMDgoqxASIJwc9fQaNygtQ9fQ="
		rsaKey     = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDDZHBGIewVF0YW/qvNIefMIbqv9pXotLzW5HVYBe7axmd0Yvwzuf+H5rLqCXglAxAJPFBnNFFlgJL83OFrAVWywROUMXIJCR3uchI8yRx+UFyIKYBMS+sXEtE9acTv3gBCodV/Cl0fdhlw0bxeyic1VXsb0s1yHSYLxlLgZ+skSwIDAQAB"
	)
	tests := []struct {
		name    string
		secrets []string
		wantErr string // a phrase of the error, empty for none
	}{
		{name: "base64 DER", secrets: []string{f.Secrets["current"]}},
		{name: "base64 DER with surrounding newline", secrets: []string{"\n" + f.Secrets["current"] + "\n"}},
		{name: "PEM", secrets: []string{f.Secrets["current_pem"]}},
		{name: "several keys", secrets: []string{f.Secrets["current"], f.Secrets["old"]}},
		{name: "not base64", secrets: []string{"verification key!"}, wantErr: "neither PEM nor base64"},
		{name: "base64 but not a key", secrets: []string{base64.StdEncoding.EncodeToString([]byte("hello"))}, wantErr: "not a DER"},
		{name: "P-384 key", secrets: []string{p384}, wantErr: "not an ECDSA P-256"},
		{name: "Ed25519 key", secrets: []string{ed25519Key}, wantErr: "not an ECDSA P-256"},
		{name: "RSA key", secrets: []string{rsaKey}, wantErr: "not an ECDSA P-256"},
		{name: "second key bad", secrets: []string{f.Secrets["current"], "api-key"}, wantErr: "secrets[1]"},
		{name: "no key", wantErr: "at least one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newSendGrid(VerifierSpec{Secrets: rotationSecrets(tc.secrets...)})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("newSendGrid = %v, want error with %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseSendGridHeaders must never panic; what it accepts is the
// timestamp text as sent and a non-empty signature.
func FuzzParseSendGridHeaders(f *testing.F) {
	f.Add("MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=", "1600112502")
	f.Fuzz(func(t *testing.T, sig, ts string) {
		h := http.Header{"X-Twilio-Email-Event-Webhook-Signature": {sig}, "X-Twilio-Email-Event-Webhook-Timestamp": {ts}}
		der, _, raw, err := parseSendGridHeaders(h)
		if err == nil && (len(der) == 0 || raw != ts || strings.TrimSpace(sig) == "") {
			t.Fatalf("accepted %q, %q as %x, %q", sig, ts, der, raw)
		}
	})
}
