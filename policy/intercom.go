package policy

// newIntercom verifies Intercom's signed notifications: X-Hub-Signature is
// "sha1=" + hex HMAC-SHA1 of the raw body, keyed with the app's client
// secret. Intercom sends no delivery header; the notification's "id"
// ("notif_..."), in the signed body and kept across retries, is the id.
func newIntercom(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(hubSignatureHeader, "sha1", macHex, "sha1=", s.Secrets)
	m.bodyID = "id"
	return m, nil
}
