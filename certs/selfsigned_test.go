package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSignedCreatesThenReuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := SelfSignedConfig{Dir: dir, Domain: "Hooks.Test", Now: func() time.Time { return now }}
	first, err := NewSelfSigned(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "cert.pem", "key.pem"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if (f == "ca-key.pem" || f == "key.pem") && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if first.CAFile != filepath.Join(dir, "ca.pem") || first.CAFingerprint != Fingerprint(first.CA.Raw) {
		t.Errorf("CAFile %s fingerprint %s", first.CAFile, first.CAFingerprint)
	}

	now = now.Add(400 * 24 * time.Hour) // a restart a year later
	second, err := NewSelfSigned(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if second.CAFingerprint != first.CAFingerprint {
		t.Error("a restart made a new CA: agents given the old one with --edge-ca would stop trusting the edge")
	}
	if second.cert.Leaf.SerialNumber.Cmp(first.cert.Leaf.SerialNumber) != 0 {
		t.Error("a restart issued a new certificate though the old one was valid")
	}

	roots := x509.NewCertPool()
	roots.AddCert(second.CA)
	for _, name := range []string{"hooks.test", "demo.hooks.test"} {
		if _, err := second.cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := second.cert.Leaf.Verify(x509.VerifyOptions{DNSName: "a.demo.hooks.test", Roots: roots, CurrentTime: now}); err == nil {
		t.Error("the wildcard covers two labels")
	}
}

func TestSelfSignedCAIsConstrainedToTheDomain(t *testing.T) {
	t.Parallel()
	s, err := NewSelfSigned(SelfSignedConfig{Dir: t.TempDir(), Domain: "hooks.test"})
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey, err := loadPair(s.CAFile, filepath.Join(filepath.Dir(s.CAFile), "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// Someone with the CA key mints a certificate for another name.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bank.example"}, DNSNames: []string{"bank.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(s.CA)
	if _, err := forged.Verify(x509.VerifyOptions{DNSName: "bank.example", Roots: roots}); err == nil {
		t.Fatal("the dev CA vouches for a name outside its domain")
	}
}

func TestSelfSignedReplacesWhatNoLongerFits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		change  func(cfg *SelfSignedConfig)
		sameCA  bool
		newLeaf bool
	}{
		{"another domain gets a new CA", func(c *SelfSignedConfig) { c.Domain = "other.test" }, false, true},
		{"a CA near expiry is replaced", func(c *SelfSignedConfig) {
			c.Now = func() time.Time { return time.Now().Add(selfSignedCALifetime - 10*24*time.Hour) }
		}, false, true},
		{"a certificate near expiry is reissued by the same CA", func(c *SelfSignedConfig) {
			c.Now = func() time.Time { return time.Now().Add(selfSignedCertLifetime - 10*24*time.Hour) }
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := SelfSignedConfig{Dir: t.TempDir(), Domain: "hooks.test"}
			first, err := NewSelfSigned(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(&cfg)
			second, err := NewSelfSigned(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := second.CAFingerprint == first.CAFingerprint; got != tc.sameCA {
				t.Errorf("same CA = %v, want %v", got, tc.sameCA)
			}
			if got := second.cert.Leaf.SerialNumber.Cmp(first.cert.Leaf.SerialNumber) != 0; got != tc.newLeaf {
				t.Errorf("new certificate = %v, want %v", got, tc.newLeaf)
			}
		})
	}
}
