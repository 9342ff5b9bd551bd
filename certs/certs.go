// Package certs provides the edge's TLS certificates and server settings:
// ACME for every tunnel host (autocert), certificate files reloaded when
// they change, a self-signed development CA, and client CAs for mutual TLS.
// It decides which hosts may get a certificate, never how a request is
// routed; it imports none of hooktunnel's other packages.
package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// The TLS modes of the edge.
const (
	ModeACME       = "acme"        // certificates from an ACME CA, per host
	ModeFile       = "file"        // a certificate and key from files (e.g. a wildcard)
	ModeSelfSigned = "self-signed" // a local CA and a wildcard certificate in the data dir
	ModeOff        = "off"         // plain HTTP, behind a TLS terminator or in tests
)

// Modes lists the modes in the order help texts show them.
var Modes = []string{ModeACME, ModeFile, ModeSelfSigned, ModeOff}

// DefaultMode is the mode for a domain when none is configured: ACME for a
// public name, off for localhost, IP addresses and special-use names.
func DefaultMode(domain string) string {
	if IsPublicName(domain) {
		return ModeACME
	}
	return ModeOff
}

// Source gives the certificate for a TLS handshake; it is what
// tls.Config.GetCertificate calls.
type Source interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

var (
	_ Source = (*ACME)(nil)
	_ Source = (*File)(nil)
	_ Source = (*SelfSigned)(nil)
)

// FieldError is a configuration error at a field of a certs config,
// relative to it ("directory"); the caller prefixes its own path.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ServerConfig is the hardened server configuration around src: TLS 1.2
// at least, only forward-secret AEAD suites for TLS 1.2 (TLS 1.3 suites
// are all modern and not configurable), and the application protocols in
// nextProtos order. Callers derive per-host variants with Clone.
func ServerConfig(src Source, nextProtos ...string) *tls.Config {
	return &tls.Config{
		GetCertificate: src.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		// Mozilla's "intermediate" list. HTTP/2 requires the two
		// AES-128-GCM suites to be present, which they are.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: append([]string(nil), nextProtos...),
	}
}

// ClientAuth is a compiled mutual-TLS setting of one tunnel: the CAs its
// senders' certificates must chain to, and whether a certificate is
// required or only verified when one is sent.
type ClientAuth struct {
	Pool     *x509.CertPool
	Required bool
	// Subjects are the CA subjects, for the log at start.
	Subjects []string
}

// Apply returns a copy of base that asks for client certificates. Session
// tickets are off for it so a session resumed from a handshake without a
// client certificate can never stand in for one.
func (c *ClientAuth) Apply(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.ClientCAs = c.Pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	if c.Required {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	cfg.SessionTicketsDisabled = true
	return cfg
}

// NewClientAuth parses a PEM bundle of CA certificates. A bundle with no
// certificate, or with a certificate that is not a CA, is an error: an
// empty pool would refuse every sender, a leaf would be a silent mistake.
func NewClientAuth(pemData []byte, required bool) (*ClientAuth, error) {
	certs, err := parseCertificates(pemData)
	if err != nil {
		return nil, err
	}
	ca := &ClientAuth{Pool: x509.NewCertPool(), Required: required}
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("certificate %q is not a CA certificate", c.Subject.String())
		}
		ca.Pool.AddCert(c)
		ca.Subjects = append(ca.Subjects, c.Subject.String())
	}
	return ca, nil
}

func parseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return out, nil
}

// Fingerprint is the SHA-256 of a certificate's DER in the form
// `openssl x509 -noout -fingerprint -sha256` prints, so a user can compare
// the two by eye.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
