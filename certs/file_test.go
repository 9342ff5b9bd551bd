package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a logger's output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// writeSelfSignedPair writes a certificate for name valid until notAfter,
// and returns its serial.
func writeSelfSignedPair(t *testing.T, certFile, keyFile, name string, notAfter time.Time) *big.Int {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return serial
}

func served(t *testing.T, f *File) *big.Int {
	t.Helper()
	c, err := f.GetCertificate(&tls.ClientHelloInfo{ServerName: "any.hooks.test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber
}

// settle runs the checks a ticker would: a change is taken once the
// files have stayed the same for one check.
func settle(f *File) {
	f.check()
	f.check()
}

func TestFileReloadKeepsTheOldCertificateOnABadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	expiry := time.Now().Add(90 * 24 * time.Hour)
	first := writeSelfSignedPair(t, certFile, keyFile, "*.hooks.test", expiry)
	log, logs := newLogger()
	f, err := NewFile(FileConfig{CertFile: certFile, KeyFile: keyFile, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if served(t, f).Cmp(first) != 0 {
		t.Fatal("does not serve the file's certificate")
	}
	settle(f)
	if served(t, f).Cmp(first) != 0 {
		t.Fatal("an unchanged file was reloaded into something else")
	}

	otherKey := filepath.Join(dir, "other-key.pem")
	good := first
	for _, tc := range []struct {
		name    string
		write   func()
		reload  bool
		logWant string
	}{
		{"a renewed pair is served", func() {
			good = writeSelfSignedPair(t, certFile, keyFile, "*.hooks.test", expiry.Add(time.Hour))
		}, true, "TLS certificate reloaded"},
		{"a half-written certificate keeps the old one", func() {
			os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nMIIB"), 0o600)
		}, false, "failed to find any PEM data in certificate input"},
		{"a key that does not match keeps the old one", func() {
			writeSelfSignedPair(t, certFile, otherKey, "*.hooks.test", expiry)
			writeSelfSignedPair(t, filepath.Join(dir, "unused.pem"), keyFile, "*.hooks.test", expiry)
		}, false, "private key does not match public key"},
		{"an expired certificate keeps the old one", func() {
			writeSelfSignedPair(t, certFile, keyFile, "*.hooks.test", time.Now().Add(-time.Hour))
		}, false, "expired on"},
		{"a deleted file keeps the old one", func() {
			os.Remove(certFile)
		}, false, "TLS certificate files unreadable; keeping the current certificate"},
		{"a good pair after the bad ones is served", func() {
			good = writeSelfSignedPair(t, certFile, keyFile, "*.hooks.test", expiry.Add(2*time.Hour))
		}, true, "TLS certificate reloaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := strings.Count(logs.String(), tc.logWant)
			tc.write()
			settle(f)
			if got := served(t, f); got.Cmp(good) != 0 {
				t.Fatalf("serves serial %x, want %x", got, good)
			}
			if strings.Count(logs.String(), tc.logWant) != before+1 {
				t.Errorf("log has no new %q:\n%s", tc.logWant, logs.String())
			}
			// A bad file is reported once, not at every check.
			settle(f)
			if strings.Count(logs.String(), tc.logWant) != before+1 {
				t.Errorf("%q logged again without a change", tc.logWant)
			}
		})
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the log shows key material")
	}
}

func TestFileWaitsForBothFilesToSettle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeSelfSignedPair(t, certFile, keyFile, "hooks.test", time.Now().Add(time.Hour))
	f, err := NewFile(FileConfig{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	second := writeSelfSignedPair(t, certFile, keyFile, "hooks.test", time.Now().Add(2*time.Hour))
	f.check() // the files changed since the last check: not yet
	if served(t, f).Cmp(first) != 0 {
		t.Fatal("reloaded files that were still changing")
	}
	f.check()
	if served(t, f).Cmp(second) != 0 {
		t.Fatal("did not reload the settled files")
	}
}

func TestFileConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  FileConfig
		want string
	}{
		{"no certificate", FileConfig{KeyFile: "k"}, "tls_cert: is required with tls: file"},
		{"no key", FileConfig{CertFile: "c"}, "tls_key: is required with tls: file"},
		{"missing file", FileConfig{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}, "tls_cert: /nonexistent/cert.pem: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFile(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
