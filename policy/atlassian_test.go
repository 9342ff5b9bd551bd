package policy

import (
	"strings"
	"testing"
)

func buildAtlassian(s []Secret) (Verifier, error) { return newAtlassian(VerifierSpec{Secrets: s}) }

func TestAtlassian(t *testing.T) {
	t.Parallel()
	v := loadMACFixture(t, "atlassian").vector(t, "jira:issue_created")
	sig := v.Headers["X-Hub-Signature"]
	runMACCases(t, v, buildAtlassian, append(macBaseCases(v, "X-Hub-Signature", "not-the-jira-secret"),
		macCase{name: "another WebSub method", edit: setHeader("X-Hub-Signature", "sha512="+strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
		macCase{name: "retry keeps the identifier", edit: setHeader("X-Atlassian-Webhook-Retry", "1")},
	))
}

func TestNewAtlassianNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newAtlassian(VerifierSpec{}); err == nil {
		t.Fatal("newAtlassian without secrets: want an error")
	}
}
