package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// FileConfig is a certificate and key in PEM files (a wildcard for
// *.<domain> and <domain>, or a certificate per host in SANs).
type FileConfig struct {
	CertFile string
	KeyFile  string
	// Interval is how often the files are checked for changes.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// DefaultFileInterval is how often File checks its files: a stat of two
// files costs nothing, and a renewed certificate is live within seconds.
const DefaultFileInterval = time.Second

// File serves a certificate read from files and reloads it when the files
// change. A new pair that does not load (a half-written file, a key that
// does not match, an expired certificate) leaves the current certificate
// in place and is logged with the reason. Connections are never dropped:
// a reload only changes what the next handshake gets.
type File struct {
	cfg  FileConfig
	cert atomic.Pointer[tls.Certificate]
	// loaded is the stamp of the pair being served; seen is the stamp at
	// the previous check; failed is the stamp of the last pair that did
	// not load, so a bad file is reported once, not every second.
	loaded, seen, failed stamp
}

// NewFile loads the pair; an error here is a configuration error.
func NewFile(cfg FileConfig) (*File, error) {
	if cfg.CertFile == "" {
		return nil, fieldErr("tls_cert", "is required with tls: file")
	}
	if cfg.KeyFile == "" {
		return nil, fieldErr("tls_key", "is required with tls: file")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultFileInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &File{cfg: cfg}
	st, err := f.stat()
	if err != nil {
		return nil, err
	}
	cert, err := f.load()
	if err != nil {
		return nil, err
	}
	f.cert.Store(cert)
	f.loaded, f.seen = st, st
	f.cfg.Logger.Info("TLS certificate loaded", certAttrs(cert, "file", cfg.CertFile)...)
	return f, nil
}

// GetCertificate serves the current pair for every host.
func (f *File) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cert.Load(), nil
}

// Certificate is the pair being served now.
func (f *File) Certificate() *tls.Certificate { return f.cert.Load() }

// Run checks the files every Interval until ctx ends.
func (f *File) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f.check()
		}
	}
}

// check reloads the pair when the files changed and have stayed the same
// since the previous check: certificate tools write the two files one
// after the other, and reading between the writes would pair a new
// certificate with the old key.
func (f *File) check() {
	st, err := f.stat()
	prev := f.seen
	f.seen = st
	switch {
	case err != nil:
		if !f.failed.sameError(err) {
			f.failed = stamp{err: err.Error()}
			f.cfg.Logger.Warn("TLS certificate files unreadable; keeping the current certificate", "err", err)
		}
		return
	case st.equal(f.loaded) || st.equal(f.failed):
		return
	case !st.equal(prev):
		return // still changing; look again at the next check
	}
	cert, err := f.load()
	if err != nil {
		f.failed = st
		f.cfg.Logger.Warn("new TLS certificate does not load; keeping the current certificate",
			"cert_file", f.cfg.CertFile, "key_file", f.cfg.KeyFile, "err", err)
		return
	}
	f.cert.Store(cert)
	f.loaded, f.failed = st, stamp{}
	f.cfg.Logger.Info("TLS certificate reloaded", certAttrs(cert, "file", f.cfg.CertFile)...)
}

// load reads and checks the pair.
func (f *File) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.cfg.CertFile, f.cfg.KeyFile)
	if err != nil {
		// The error names the problem (no PEM data, key mismatch); the
		// key's bytes never appear in it.
		return nil, fmt.Errorf("tls_cert %s / tls_key %s: %w", f.cfg.CertFile, f.cfg.KeyFile, err)
	}
	if now := f.cfg.Now(); now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("tls_cert %s expired on %s", f.cfg.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// stamp identifies the files' versions without reading them.
type stamp struct {
	cert, key os.FileInfo
	err       string
}

func (f *File) stat() (stamp, error) {
	c, err := os.Stat(f.cfg.CertFile)
	if err != nil {
		return stamp{}, fieldErr("tls_cert", "%s: %v", f.cfg.CertFile, errors.Unwrap(err))
	}
	k, err := os.Stat(f.cfg.KeyFile)
	if err != nil {
		return stamp{}, fieldErr("tls_key", "%s: %v", f.cfg.KeyFile, errors.Unwrap(err))
	}
	return stamp{cert: c, key: k}, nil
}

func (s stamp) equal(o stamp) bool {
	return s.err == "" && o.err == "" && sameFile(s.cert, o.cert) && sameFile(s.key, o.key)
}

func (s stamp) sameError(err error) bool { return s.err == err.Error() }

// sameFile is true when a and b are the same version of the same file: a
// rename over it (the atomic way to replace it) or a write changes it.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// certAttrs describes a certificate for the log: names, expiry and
// fingerprint, never the key.
func certAttrs(cert *tls.Certificate, extra ...any) []any {
	leaf := cert.Leaf
	attrs := append([]any{}, extra...)
	if leaf == nil {
		return attrs
	}
	return append(attrs, "names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339),
		"issuer", leaf.Issuer.CommonName, "sha256", Fingerprint(leaf.Raw))
}
