package policy

const typeformSignatureHeader = "Typeform-Signature"

// newTypeform verifies Typeform-Signature: "sha256=" + base64 HMAC-SHA256 of
// the raw body, keyed with the webhook secret. Typeform sends no delivery
// header; the signed body's event_id is the id.
func newTypeform(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(typeformSignatureHeader, "sha256", macBase64, "sha256=", s.Secrets)
	m.bodyID = "event_id"
	return m, nil
}
