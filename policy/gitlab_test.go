package policy

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

const gitlabTestToken = "hooktunnel-gitlab-secret-token"

// gitlabOtherSigningToken is well formed but signed nothing.
var gitlabOtherSigningToken = "whsec_" + base64.StdEncoding.EncodeToString([]byte("not-the-gitlab-signing-key-32byt"))

func buildGitLab(s []Secret) (Verifier, error) {
	tol, _ := DefaultTolerance("gitlab")
	return newGitLab(VerifierSpec{Secrets: s, Tolerance: tol})
}

func TestGitLabToleranceIsStandardWebhooks(t *testing.T) {
	t.Parallel()
	// GitLab verifies its signing token with the standardwebhooks library,
	// whose tolerance is five minutes each way.
	if tol, _ := DefaultTolerance("gitlab"); tol != 5*time.Minute {
		t.Fatalf("gitlab tolerance = %v, want 5m", tol)
	}
}

func TestGitLabSigningToken(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "gitlab")
	for _, name := range []string{"signing token, push hook", "signing token, other versions listed first"} {
		v := f.vector(t, name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cases := append(macBaseCases(v, "webhook-signature", gitlabOtherSigningToken), macFreshnessCases(v, 5*time.Minute)...)
			cases = append(cases,
				macCase{name: "missing webhook-timestamp", edit: delHeader("webhook-timestamp"), wantErr: ErrTimestampMissing},
				macCase{name: "webhook-timestamp not a number", edit: setHeader("webhook-timestamp", "2025-01-01T00:00:00Z"), wantErr: ErrTimestampMissing},
				macCase{name: "webhook-timestamp moved by a second", edit: setHeader("webhook-timestamp", strconv.FormatInt(v.Now+1, 10)), wantErr: ErrBadSignature},
				macCase{name: "missing webhook-id", edit: delHeader("webhook-id"), wantErr: ErrSignatureMalformed},
				macCase{name: "webhook-id changed", edit: setHeader("webhook-id", "another-delivery"), wantErr: ErrBadSignature},
				macCase{name: "no v1 entry", edit: setHeader("webhook-signature", "v2,"+strings.TrimPrefix(v.Want.Signature, "v1,")), wantErr: ErrSignatureMalformed},
				macCase{name: "a forged entry next to the real one", edit: setHeader("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "+v.Headers["webhook-signature"])},
				// Standard Webhooks libraries split entries on " " only.
				macCase{name: "entries separated by a tab", edit: setHeader("webhook-signature", "v2,AAAA\t"+v.Want.Signature), wantErr: ErrSignatureMalformed},
				// Held to the signature even when a token header comes too.
				macCase{name: "wrong X-Gitlab-Token beside a good signature", secrets: []string{v.Secret, gitlabTestToken}, edit: setHeader("X-Gitlab-Token", "wrong")},
				macCase{name: "signing token configured after a secret token", secrets: []string{gitlabTestToken, v.Secret}, wantSecret: 1},
				macCase{name: "no fallback to a good token when the signature fails", secrets: []string{v.Secret, gitlabTestToken}, edit: func(r *Request) {
					r.Header.Set("X-Gitlab-Token", gitlabTestToken)
					r.Body = append(r.Body, '\n')
				}, wantErr: ErrBadSignature},
			)
			runMACCases(t, v, buildGitLab, cases)
		})
	}
}

func TestGitLabSecretToken(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "gitlab")
	v := f.vector(t, "secret token, push hook")
	runMACCases(t, v, buildGitLab, []macCase{
		{name: "documented token"},
		{name: "wrong token", secrets: []string{"not-the-gitlab-token"}, wantErr: ErrBadSignature},
		{name: "old token during rotation", secrets: []string{"not-the-gitlab-token", v.Secret}, wantSecret: 1},
		{name: "truncated token", edit: setHeader("X-Gitlab-Token", v.Secret[:len(v.Secret)-4]), wantErr: ErrBadSignature},
		{name: "token with an extra character", edit: setHeader("X-Gitlab-Token", v.Secret+"x"), wantErr: ErrBadSignature},
		{name: "missing X-Gitlab-Token", edit: delHeader("X-Gitlab-Token"), wantErr: ErrSignatureMissing},
		{name: "signing token does not stand in for the secret token", secrets: []string{gitlabOtherSigningToken}, wantErr: ErrSignatureMissing},
		// The token signs nothing: GitLab's secret token authenticates the
		// sender, not the body. Use a signing token for integrity.
		{name: "body is not covered", edit: func(r *Request) { r.Body = append(r.Body, '\n') }},
		{name: "id falls back to X-Gitlab-Webhook-UUID", edit: delHeader("Idempotency-Key"), wantID: v.Headers["X-Gitlab-Webhook-UUID"]},
		{name: "id falls back to X-Gitlab-Event-UUID", edit: func(r *Request) {
			r.Header.Del("Idempotency-Key")
			r.Header.Del("X-Gitlab-Webhook-UUID")
		}, wantID: v.Headers["X-Gitlab-Event-UUID"]},
		{name: "signature header but no signing token configured", edit: setHeader("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")},
	})
}

func TestGitLabSignatureWithoutSigningToken(t *testing.T) {
	t.Parallel()
	v := loadMACFixture(t, "gitlab").vector(t, "signing token, push hook")
	ver, err := buildGitLab(macSecrets(gitlabTestToken))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ver.Verify(v.request(t), v.now())
	checkRefusal(t, err, ErrSignatureMissing, []string{gitlabTestToken})
	if !strings.Contains(err.Error(), "whsec_") {
		t.Errorf("refusal %q should say to add the signing token", err)
	}
}

func TestNewGitLabConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		field   string
	}{
		{name: "no secrets", field: "verify.secrets"},
		{name: "signing token not base64", secrets: []string{gitlabTestToken, "whsec_not*base64!"}, field: "verify.secrets[1]"},
		{name: "empty signing token", secrets: []string{"whsec_"}, field: "verify.secrets[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := buildGitLab(macSecrets(tc.secrets...))
			if err == nil || !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("err = %v, want one about %s", err, tc.field)
			}
			for _, s := range tc.secrets {
				if len(s) > len("whsec_") && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q contains the secret", err)
				}
			}
		})
	}
}

func FuzzParseGitLabSignature(f *testing.F) {
	f.Add("v1,E0tvWdxAwKejezVh+hPlEy2YiCmClgYOJFNbwyvzViU=")
	f.Fuzz(func(t *testing.T, header string) {
		sigs, err := parseGitLabSignature(header)
		if err == nil && len(sigs) == 0 {
			t.Fatal("no error and no signatures")
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("accepted a %d-byte signature", len(s))
			}
		}
	})
}
