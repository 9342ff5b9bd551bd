package policy

import (
	"strings"
	"testing"
)

func buildBitbucketServer(s []Secret) (Verifier, error) {
	return newBitbucketServer(VerifierSpec{Secrets: s})
}

func TestBitbucketServer(t *testing.T) {
	t.Parallel()
	v := loadMACFixture(t, "bitbucket-server").vector(t, "repo:refs_changed")
	sig := v.Headers["X-Hub-Signature"]
	runMACCases(t, v, buildBitbucketServer, append(macBaseCases(v, "X-Hub-Signature", "not-the-bitbucket-secret"),
		macCase{name: "sha256= prefix missing", edit: setHeader("X-Hub-Signature", strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
		macCase{name: "signed with Bitbucket Cloud's secret", secrets: []string{"hooktunnel-bitbucket-secret"}, wantErr: ErrBadSignature},
	))
}

func TestNewBitbucketServerNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newBitbucketServer(VerifierSpec{}); err == nil {
		t.Fatal("newBitbucketServer without secrets: want an error")
	}
}
