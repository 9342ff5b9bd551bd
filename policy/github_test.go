package policy

import (
	"strings"
	"testing"
)

func buildGitHub(s []Secret) (Verifier, error) { return newGitHub(VerifierSpec{Secrets: s}) }

func TestGitHub(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "github")
	for _, name := range []string{"github docs example", "push event signed by octokit"} {
		v := f.vector(t, name)
		sig := v.Headers["X-Hub-Signature-256"]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runMACCases(t, v, buildGitHub, append(macBaseCases(v, "X-Hub-Signature-256", "not-the-github-secret"),
				macCase{name: "sha256= prefix missing", edit: setHeader("X-Hub-Signature-256", strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
				macCase{name: "sha1= prefix on the SHA-256 header", edit: setHeader("X-Hub-Signature-256", "sha1="+strings.TrimPrefix(sig, "sha256=")), wantErr: ErrSignatureMalformed},
				macCase{name: "not hex", edit: setHeader("X-Hub-Signature-256", sig[:len(sig)-1]+"g"), wantErr: ErrSignatureMalformed},
				macCase{name: "signature of another body", edit: func(r *Request) { r.Body = []byte("{}") }, wantErr: ErrBadSignature},
			))
		})
	}
	t.Run("only the SHA-1 header", func(t *testing.T) {
		t.Parallel()
		ref := runErrorVector(t, f.vector(t, "only the SHA-1 header"), buildGitHub)
		if !strings.Contains(ref.Detail, "SHA-1") || !strings.Contains(ref.Detail, "X-Hub-Signature-256") {
			t.Errorf("refusal %q should say SHA-1 is not accepted and to send X-Hub-Signature-256", ref.Detail)
		}
	})
}

func TestNewGitHubNeedsASecret(t *testing.T) {
	t.Parallel()
	if _, err := newGitHub(VerifierSpec{}); err == nil {
		t.Fatal("newGitHub without secrets: want an error")
	}
}
