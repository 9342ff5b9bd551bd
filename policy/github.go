package policy

import "time"

const (
	githubSignatureHeader = "X-Hub-Signature-256"
	githubSHA1Header      = hubSignatureHeader
	githubDeliveryHeader  = "X-GitHub-Delivery"
)

// github verifies X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the
// raw body, keyed with the webhook secret.
type github struct {
	mac *macScheme
}

var _ Verifier = (*github)(nil)

func newGitHub(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(githubSignatureHeader, "sha256", macHex, "sha256=", s.Secrets)
	m.idHeaders = []string{githubDeliveryHeader}
	return &github{mac: m}, nil
}

func (v *github) Verify(r *Request, now time.Time) (Result, error) {
	// GitHub sends the legacy SHA-1 header next to the SHA-256 one; a request
	// with only the former comes from something else, or from a GitHub
	// Enterprise Server too old to be trusted with SHA-1 alone.
	if r.Header.Get(githubSignatureHeader) == "" && r.Header.Get(githubSHA1Header) != "" {
		return Result{}, refuse(ErrSignatureMissing, "only "+githubSHA1Header+" (HMAC-SHA1) was sent and SHA-1 signatures are not accepted; send "+githubSignatureHeader+", which GitHub adds whenever the webhook has a secret")
	}
	return v.mac.Verify(r, now)
}
