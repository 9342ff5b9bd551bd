package policy

// newBitbucket verifies Bitbucket Cloud: X-Hub-Signature is "sha256=" + hex
// HMAC-SHA256 of the raw body. X-Request-UUID names the delivery;
// X-Hook-UUID names the webhook, the same on every delivery, so it is no
// duplicate key.
func newBitbucket(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(hubSignatureHeader, "sha256", macHex, "sha256=", s.Secrets)
	m.idHeaders = []string{"X-Request-UUID"}
	return m, nil
}
