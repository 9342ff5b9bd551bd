package policy

// atlassianSignatureHeader is kept by the journal as a signature, should
// Atlassian send it; the verifier reads X-Hub-Signature.
const atlassianSignatureHeader = "X-Atlassian-Webhook-Signature"

// newAtlassian verifies Jira and Confluence Cloud admin webhooks registered
// with a secret. They follow WebSub: X-Hub-Signature is "method=signature",
// where the only method Atlassian uses is sha256, hex HMAC-SHA256 of the raw
// body. X-Atlassian-Webhook-Identifier names the delivery and is unchanged
// across retries.
func newAtlassian(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	m := newMACScheme(hubSignatureHeader, "sha256", macHex, "sha256=", s.Secrets)
	m.idHeaders = []string{"X-Atlassian-Webhook-Identifier"}
	return m, nil
}
