package policy

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDiscord(t *testing.T) {
	t.Parallel()
	f := loadKeyFixture(t, "discord")
	current, old := f.Secrets["current"], f.Secrets["old"]
	signedAt := time.Unix(1700000123, 0)
	const base = "application command"
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
		{name: "valid SDK vector", vector: base, secrets: []string{current}, now: signedAt},
		{name: "no tolerance by default, so an old request passes", vector: base, secrets: []string{current}, now: signedAt.Add(24 * time.Hour)},
		{name: "within route tolerance", vector: base, secrets: []string{current}, tolerance: 5 * time.Minute, now: signedAt.Add(4 * time.Minute)},
		{name: "stale with route tolerance", vector: base, secrets: []string{current}, tolerance: 5 * time.Minute,
			now: signedAt.Add(6 * time.Minute), wantErr: ErrStaleTimestamp},
		{name: "future with route tolerance", vector: base, secrets: []string{current}, tolerance: 5 * time.Minute,
			now: signedAt.Add(-6 * time.Minute), wantErr: ErrFutureTimestamp},
		{name: "body tampered by one byte", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Body[5] ^= 1 }, wantErr: ErrBadSignature},
		{name: "body with trailing newline", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "timestamp changed", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Signature-Timestamp", "1700000124") }, wantErr: ErrBadSignature},
		{name: "wrong public key", vector: base, secrets: []string{old}, now: signedAt, wantErr: ErrBadSignature},
		{name: "old key during rotation", vector: "old key during rotation", secrets: []string{current, old},
			now: time.Unix(1700000000, 0), wantSecret: 1},
		{name: "truncated signature", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Signature-Ed25519", r.Header.Get("X-Signature-Ed25519")[:126]) }, wantErr: ErrSignatureMalformed},
		{name: "signature not hex", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Signature-Ed25519", strings.Repeat("zz", 64)) }, wantErr: ErrSignatureMalformed},
		{name: "missing signature", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Del("X-Signature-Ed25519") }, wantErr: ErrSignatureMissing},
		{name: "missing timestamp", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Del("X-Signature-Timestamp") }, wantErr: ErrTimestampMissing},
		{name: "timestamp not a number", vector: base, secrets: []string{current}, now: signedAt,
			mutate: func(r *Request) { r.Header.Set("X-Signature-Timestamp", "yesterday") }, wantErr: ErrTimestampMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ver, err := NewVerifier(VerifyConfig{Provider: "discord"}, rotationSecrets(tc.secrets...), tc.tolerance)
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
			wantTS := time.Unix(1700000123, 0)
			if tc.vector != base {
				wantTS = time.Unix(1700000000, 0)
			}
			if res.Secret != tc.wantSecret || res.Signature != r.Header.Get("X-Signature-Ed25519") || !res.Timestamp.Equal(wantTS) || len(res.Fingerprint) == 0 {
				t.Errorf("Result = %+v, want secret %d, timestamp %v", res, tc.wantSecret, wantTS)
			}
		})
	}
}

func TestDiscordHandshake(t *testing.T) {
	t.Parallel()
	f := loadKeyFixture(t, "discord")
	ver, err := newDiscord(VerifierSpec{Secrets: rotationSecrets(f.Secrets["current"])})
	if err != nil {
		t.Fatal(err)
	}
	hs := ver.(Handshaker)
	tests := []struct {
		name, vector string
		wantHS       bool
	}{
		{name: "ping is answered with pong", vector: "ping", wantHS: true},
		{name: "command is forwarded", vector: "application command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := f.request(t, tc.vector)
			res, err := ver.Verify(r, time.Unix(1700000000, 0))
			if err != nil {
				t.Fatal(err)
			}
			isHS, answer := hs.Handshake(r, res)
			if isHS != tc.wantHS || (answer != nil) != tc.wantHS {
				t.Fatalf("Handshake = %v, %+v; want handshake %v", isHS, answer, tc.wantHS)
			}
			if answer != nil && (answer.Status != http.StatusOK || answer.ContentType != "application/json" || string(answer.Body) != `{"type":1}`) {
				t.Errorf("answer = %d %s %s", answer.Status, answer.ContentType, answer.Body)
			}
		})
	}
}

func TestNewDiscordConfig(t *testing.T) {
	t.Parallel()
	f := loadKeyFixture(t, "discord")
	tests := []struct {
		name    string
		secrets []string
		wantErr bool
	}{
		{name: "hex public keys", secrets: []string{f.Secrets["current"], f.Secrets["old"]}},
		{name: "upper-case hex", secrets: []string{strings.ToUpper(f.Secrets["current"])}},
		{name: "short key", secrets: []string{f.Secrets["current"][:62]}, wantErr: true},
		{name: "long key", secrets: []string{f.Secrets["current"] + "00"}, wantErr: true},
		{name: "not hex", secrets: []string{strings.Repeat("g", 64)}, wantErr: true},
		{name: "second key bad", secrets: []string{f.Secrets["current"], "bot-token"}, wantErr: true},
		{name: "no key", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := newDiscord(VerifierSpec{Secrets: rotationSecrets(tc.secrets...)}); (err != nil) != tc.wantErr {
				t.Fatalf("newDiscord = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseDiscordHeaders must never panic; what it accepts is a 64-byte
// signature and the timestamp text as sent.
func FuzzParseDiscordHeaders(f *testing.F) {
	f.Add(strings.Repeat("ab", 64), "1700000000")
	f.Fuzz(func(t *testing.T, sigHex, ts string) {
		h := http.Header{"X-Signature-Ed25519": {sigHex}, "X-Signature-Timestamp": {ts}}
		sig, _, raw, err := parseDiscordHeaders(h)
		if err == nil && (len(sig) != 64 || raw != ts) {
			t.Fatalf("accepted %q, %q as %x, %q", sigHex, ts, sig, raw)
		}
	})
}
