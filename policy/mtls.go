package policy

// MTLSConfig is `tunnels.<name>.mtls`: mutual TLS for senders that present
// client certificates. It is configuration only; the edge enforces it in
// the TLS handshake of the tunnel's host (packages certs and edge).
type MTLSConfig struct {
	// ClientCA is the PEM bundle of CAs the senders' certificates must
	// chain to: file:PATH, env:NAME, or the PEM itself.
	ClientCA string `yaml:"client_ca"`
	// Required refuses a handshake without a valid client certificate.
	// It defaults to true (fail closed); false only verifies a certificate
	// when the sender offers one.
	Required *bool `yaml:"required"`
}

// IsRequired reports whether a client certificate is required.
func (m *MTLSConfig) IsRequired() bool { return m.Required == nil || *m.Required }
