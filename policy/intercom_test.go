package policy

import (
	"strings"
	"testing"
)

func buildIntercom(s []Secret) (Verifier, error) { return newIntercom(VerifierSpec{Secrets: s}) }

func TestIntercom(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "intercom")
	for _, name := range []string{"conversation.user.created", "ping"} {
		v := f.vector(t, name)
		sig := v.Headers["X-Hub-Signature"]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runMACCases(t, v, buildIntercom, append(macBaseCases(v, "X-Hub-Signature", "not-the-client-secret"),
				macCase{name: "sha256= prefix", edit: setHeader("X-Hub-Signature", "sha256="+strings.TrimPrefix(sig, "sha1=")), wantErr: ErrSignatureMalformed},
			))
		})
	}
}

func TestNewIntercomNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newIntercom(VerifierSpec{}); err == nil {
		t.Fatal("newIntercom without secrets: want an error")
	}
}
