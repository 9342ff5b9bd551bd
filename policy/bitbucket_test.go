package policy

import (
	"strings"
	"testing"
)

func buildBitbucket(s []Secret) (Verifier, error) { return newBitbucket(VerifierSpec{Secrets: s}) }

func TestBitbucket(t *testing.T) {
	t.Parallel()
	v := loadMACFixture(t, "bitbucket").vector(t, "repo:push")
	sig := v.Headers["X-Hub-Signature"]
	runMACCases(t, v, buildBitbucket, append(macBaseCases(v, "X-Hub-Signature", "not-the-bitbucket-secret"),
		// X-Hook-UUID names the webhook, not the delivery.
		macCase{name: "delivery id is X-Request-UUID, not X-Hook-UUID", edit: setHeader("X-Hook-UUID", "{00000000-0000-0000-0000-000000000000}")},
		macCase{name: "GitHub's sha1= form", edit: setHeader("X-Hub-Signature", "sha1="+strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
		macCase{name: "sha256= prefix missing", edit: setHeader("X-Hub-Signature", strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
	))
}

func TestNewBitbucketNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newBitbucket(VerifierSpec{}); err == nil {
		t.Fatal("newBitbucket without secrets: want an error")
	}
}
