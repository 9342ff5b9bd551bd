package policy

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func buildTypeform(s []Secret) (Verifier, error) { return newTypeform(VerifierSpec{Secrets: s}) }

func TestTypeform(t *testing.T) {
	t.Parallel()
	v := loadMACFixture(t, "typeform").vector(t, "form_response")
	sig := v.Headers["Typeform-Signature"]
	digest, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "sha256="))
	if err != nil {
		t.Fatal(err)
	}
	runMACCases(t, v, buildTypeform, append(macBaseCases(v, "Typeform-Signature", "not-the-typeform-secret"),
		macCase{name: "the same digest in hex", edit: setHeader("Typeform-Signature", "sha256="+hex.EncodeToString(digest)), wantErr: ErrSignatureMalformed},
		macCase{name: "sha256= prefix missing", edit: setHeader("Typeform-Signature", strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
	))
}

func TestNewTypeformNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newTypeform(VerifierSpec{}); err == nil {
		t.Fatal("newTypeform without secrets: want an error")
	}
}
