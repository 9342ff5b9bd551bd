package policy

// newBitbucketServer verifies Bitbucket Data Center (Server): X-Hub-Signature
// is "sha256=" + hex HMAC-SHA256 of the raw body (HmacSHA256 is the only
// algorithm it documents) and X-Request-Id is a UUID per request.
func newBitbucketServer(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(hubSignatureHeader, "sha256", macHex, "sha256=", s.Secrets)
	m.idHeaders = []string{"X-Request-Id"}
	return m, nil
}
