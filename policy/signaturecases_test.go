package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// rotationSecrets are the secrets a verifier holds, in order, as a route's
// rotation list would give them.
func rotationSecrets(values ...string) []Secret {
	s := make([]Secret, len(values))
	for i, v := range values {
		s[i] = Secret{Ref: "test", Value: []byte(v)}
	}
	return s
}

// signatureCase is one row of a provider's signature table: a stored
// vector, the secrets the verifier holds, a change to the request, and what
// Verify must say.
type signatureCase struct {
	name       string
	vector     string
	secrets    []string
	mutate     func(r *Request)
	wantErr    error
	wantSecret int
	wantID     string
}

// runSignatureCases verifies each case's request (built from its vector)
// with a verifier made by newVerifier. A refusal must be the wanted error
// and must not hold secret; an acceptance must name the wanted secret and
// delivery id, and carry the request's sigHeader as its signature.
func runSignatureCases(t *testing.T, cases []signatureCase, newVerifier func(VerifierSpec) (Verifier, error),
	request func(t *testing.T, vector string) *Request, sigHeader, secret string) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ver, err := newVerifier(VerifierSpec{Secrets: rotationSecrets(tc.secrets...)})
			if err != nil {
				t.Fatal(err)
			}
			r := request(t, tc.vector)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			res, err := ver.Verify(r, time.Now())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("refusal %q holds the secret", err)
				}
				return
			}
			if res.Secret != tc.wantSecret || res.DeliveryID != tc.wantID || res.Signature != r.Header.Get(sigHeader) || len(res.Fingerprint) == 0 {
				t.Errorf("Result = %+v, want secret %d, id %q", res, tc.wantSecret, tc.wantID)
			}
		})
	}
}
