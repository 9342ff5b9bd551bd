package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestTeams(t *testing.T) {
	t.Parallel()
	f := loadKeyFixture(t, "teams")
	current, old := f.Secrets["current"], f.Secrets["old"]
	const base = "outgoing webhook message"
	tests := []signatureCase{
		{name: "valid sample vector", vector: base, secrets: []string{current}},
		{name: "lower-case scheme", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("Authorization", "hmac "+r.Header.Get("Authorization")[5:]) }},
		{name: "body tampered by one byte", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Body[3] ^= 1 }, wantErr: ErrBadSignature},
		{name: "body with trailing newline", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "wrong token", vector: base, secrets: []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, wantErr: ErrBadSignature},
		{name: "token used as text instead of decoded", vector: base, secrets: []string{"K1phUlJNQzgrbXBuZkdhR3NCT21rSUZ0OThidHRMNVlRUnEzcDJ0WGdjRT0="}, wantErr: ErrBadSignature},
		{name: "old token during rotation", vector: "old token during rotation", secrets: []string{current, old}, wantSecret: 1},
		{name: "new token during rotation", vector: base, secrets: []string{current, old}},
		{name: "truncated signature", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("Authorization", r.Header.Get("Authorization")[:30]) }, wantErr: ErrSignatureMalformed},
		{name: "bearer scheme", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("Authorization", "Bearer "+r.Header.Get("Authorization")[5:]) }, wantErr: ErrSignatureMalformed},
		{name: "no scheme", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("Authorization", r.Header.Get("Authorization")[5:]) }, wantErr: ErrSignatureMalformed},
		{name: "missing authorization", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Del("Authorization") }, wantErr: ErrSignatureMissing},
	}
	newTeamsVerifier := func(s VerifierSpec) (Verifier, error) {
		return NewVerifier(VerifyConfig{Provider: "teams"}, s.Secrets, 0)
	}
	runSignatureCases(t, tests, newTeamsVerifier, f.request, "Authorization", current)
}

func TestNewTeamsConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		wantErr bool
	}{
		{name: "padded base64", secrets: []string{"+ZaRRMC8+mpnfGaGsBOmkIFt98bttL5YQRq3p2tXgcE="}},
		{name: "unpadded base64", secrets: []string{"+ZaRRMC8+mpnfGaGsBOmkIFt98bttL5YQRq3p2tXgcE"}},
		{name: "not base64", secrets: []string{"not a token!"}, wantErr: true},
		{name: "second token not base64", secrets: []string{"+ZaRRMC8+mpnfGaGsBOmkIFt98bttL5YQRq3p2tXgcE=", "s3cr3t?"}, wantErr: true},
		{name: "no token", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newTeams(VerifierSpec{Secrets: rotationSecrets(tc.secrets...)})
			if (err != nil) != tc.wantErr {
				t.Fatalf("newTeams = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && len(tc.secrets) > 0 && strings.Contains(err.Error(), tc.secrets[len(tc.secrets)-1]) {
				t.Errorf("config error %q holds the secret", err)
			}
		})
	}
}

// FuzzParseTeamsAuthorization must never panic, and what it accepts is
// always a 32-byte MAC.
func FuzzParseTeamsAuthorization(f *testing.F) {
	f.Add("HMAC dW7giQDOXcGBqKOjzWwMwRXE//6kPGxoBKcejO/RoeQ=")
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := parseTeamsAuthorization(header)
		if err == nil && len(sig) != 32 {
			t.Fatalf("accepted %q as a %d-byte signature", header, len(sig))
		}
		if err != nil && !errors.Is(err, ErrSignatureMalformed) {
			t.Fatalf("refusal of %q is %v", header, err)
		}
	})
}
