package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// SelfSignedConfig places a development CA and its certificate.
type SelfSignedConfig struct {
	// Dir holds ca.pem, ca-key.pem, cert.pem and key.pem.
	Dir    string
	Domain string
	Logger *slog.Logger
	Now    func() time.Time
}

// Lifetimes of the self-signed CA and certificate, and how close to expiry
// a start replaces them.
const (
	selfSignedCALifetime   = 10 * 365 * 24 * time.Hour
	selfSignedCertLifetime = 5 * 365 * 24 * time.Hour
	selfSignedRenewBefore  = 30 * 24 * time.Hour
)

// SelfSigned serves a certificate for <domain> and *.<domain> signed by a
// local CA. Both are created in Dir on first start and reused after, so an
// agent given the CA with --edge-ca keeps trusting the edge across
// restarts. The CA is name-constrained to the domain: even if its key
// leaks, it cannot vouch for any other name.
type SelfSigned struct {
	cert *tls.Certificate
	// CAFile is the CA certificate agents trust with --edge-ca.
	CAFile string
	// CAFingerprint is its SHA-256 in openssl's format.
	CAFingerprint string
	CA            *x509.Certificate
}

// NewSelfSigned loads the CA and certificate from Dir, creating or
// replacing what is missing, expiring or made for another domain.
func NewSelfSigned(cfg SelfSignedConfig) (*SelfSigned, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	domain := NormalizeHost(cfg.Domain)
	if domain == "" {
		return nil, fieldErr("domain", "is required for a self-signed certificate")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: self-signed directory: %w", err)
	}
	s := &SelfSigned{CAFile: filepath.Join(cfg.Dir, "ca.pem")}
	now := cfg.Now()
	ca, caKey, err := loadPair(s.CAFile, filepath.Join(cfg.Dir, "ca-key.pem"))
	if err != nil || !caUsable(ca, domain, now) {
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			cfg.Logger.Warn("self-signed CA replaced: agents need the new one with --edge-ca", "ca", s.CAFile, "reason", reason(err, "expiring or made for another domain"))
		}
		if ca, caKey, err = newCA(domain, now); err != nil {
			return nil, err
		}
		if err := writePair(ca, caKey, s.CAFile, filepath.Join(cfg.Dir, "ca-key.pem")); err != nil {
			return nil, err
		}
	}
	certFile, keyFile := filepath.Join(cfg.Dir, "cert.pem"), filepath.Join(cfg.Dir, "key.pem")
	leaf, key, err := loadPair(certFile, keyFile)
	if err != nil || !leafUsable(leaf, ca, domain, now) {
		if leaf, key, err = newLeaf(domain, ca, caKey, now); err != nil {
			return nil, err
		}
		if err := writePair(leaf, key, certFile, keyFile); err != nil {
			return nil, err
		}
	}
	s.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	s.CA = ca
	s.CAFingerprint = Fingerprint(ca.Raw)
	return s, nil
}

// GetCertificate serves the one certificate for every host.
func (s *SelfSigned) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert, nil
}

// Certificate is the certificate served.
func (s *SelfSigned) Certificate() *tls.Certificate { return s.cert }

func reason(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

func caUsable(ca *x509.Certificate, domain string, now time.Time) bool {
	return ca.IsCA && now.Add(selfSignedRenewBefore).Before(ca.NotAfter) &&
		slices.Equal(ca.PermittedDNSDomains, []string{domain})
}

func leafUsable(leaf, ca *x509.Certificate, domain string, now time.Time) bool {
	if leaf.CheckSignatureFrom(ca) != nil || !now.Add(selfSignedRenewBefore).Before(leaf.NotAfter) {
		return false
	}
	return slices.Contains(leaf.DNSNames, domain) && slices.Contains(leaf.DNSNames, "*."+domain)
}

func newCA(domain string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	tmpl := &x509.Certificate{
		Subject:                     pkix.Name{CommonName: "hooktunnel self-signed CA for " + domain, Organization: []string{"hooktunnel"}},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(selfSignedCALifetime),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{domain},
	}
	return issue(tmpl, nil, nil)
}

func newLeaf(domain string, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: domain},
		DNSNames:    []string{domain, "*." + domain},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(selfSignedCertLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return issue(tmpl, ca, caKey)
}

// issue creates a key and a certificate from tmpl, signed by parent (self-signed when nil).
func issue(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// loadPair reads a certificate and its key; os.ErrNotExist when absent.
func loadPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if _, statErr := os.Stat(certFile); errors.Is(statErr, os.ErrNotExist) {
			return nil, nil, statErr
		}
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("certs: %s: key cannot sign", keyFile)
	}
	return pair.Leaf, key, nil
}

// writePair writes the key (0600) then the certificate, each atomically.
func writePair(cert *x509.Certificate, key crypto.Signer, certFile, keyFile string) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("certs: write %s: %w", name, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
