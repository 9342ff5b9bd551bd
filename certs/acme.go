package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACME directories users pick from.
const (
	LetsEncrypt        = autocert.DefaultACMEDirectory
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// ACMEConfig is the `acme:` section of the edge config.
type ACMEConfig struct {
	// Email is the account's contact for expiry and policy notices.
	Email string `yaml:"email"`
	// Directory is the CA's directory URL; default Let's Encrypt.
	Directory string `yaml:"directory"`
	// CARoot is a PEM file of roots to trust, besides the system's, for
	// the ACME server's own HTTPS (a private CA, a test server).
	CARoot string `yaml:"ca_root"`
	// Cache is the directory certificates and the account key live in,
	// one subdirectory per CA (see CacheDir); the edge defaults it to
	// <data>/certs.
	Cache string `yaml:"cache"`
	// Shared, when set, is the cache used instead of the Cache directory:
	// the one several edges share, so one orders each certificate and all
	// serve it. Certificates are still kept apart per CA.
	Shared *SharedCache `yaml:"-"`

	// HostPolicy decides which hosts may get a certificate. Required.
	HostPolicy HostPolicy       `yaml:"-"`
	Logger     *slog.Logger     `yaml:"-"`
	Now        func() time.Time `yaml:"-"`
}

// Validate checks the settings a user writes; errors are *FieldError.
func (c ACMEConfig) Validate() error {
	if c.Directory != "" {
		u, err := url.Parse(c.Directory)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fieldErr("directory", "%q is not an https:// URL", c.Directory)
		}
	}
	if c.Email != "" && (!strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " \t,:<>")) {
		return fieldErr("email", "%q is not an email address", c.Email)
	}
	if c.CARoot != "" {
		if _, err := loadRoots(c.CARoot); err != nil {
			return &FieldError{Field: "ca_root", Err: err}
		}
	}
	if c.Cache == "" {
		return fieldErr("cache", "is required")
	}
	return nil
}

// CacheDir is where this CA's certificates are kept: a subdirectory of
// Cache named for the directory's host, so certificates from Let's Encrypt
// staging are never served once the edge moves to production.
func (c ACMEConfig) CacheDir() string {
	return filepath.Join(c.Cache, c.caName())
}

// caName names the CA after its directory's host.
func (c ACMEConfig) caName() string {
	dir := c.Directory
	if dir == "" {
		dir = LetsEncrypt
	}
	host := "default"
	if u, err := url.Parse(dir); err == nil && u.Host != "" {
		host = strings.NewReplacer(":", "_", "/", "_").Replace(u.Host)
	}
	return host
}

func loadRoots(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, errors.Unwrap(err))
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	certs, err := parseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, c := range certs {
		roots.AddCert(c)
	}
	return roots, nil
}

// ACME obtains a certificate per host from an ACME CA with autocert:
// HTTP-01 through HTTPHandler, TLS-ALPN-01 through GetCertificate. On top
// of autocert it refuses hosts outside the policy before anything else,
// backs off per host after a failure (longer for a rate limit), logs each
// failure with the CA's reason, obtains a tunnel's certificate as soon as
// Obtain is called rather than on the first webhook, and stops talking to
// the CA when Run ends.
type ACME struct {
	cfg   ACMEConfig
	log   *slog.Logger
	m     *autocert.Manager
	cache autocert.Cache
	// peek reads the cache without taking a shared cache's lock.
	peek func(ctx context.Context, key string) ([]byte, error)
	// shared is cache when it is shared by several edges.
	shared   *SharedCache
	lifetime context.Context
	stop     context.CancelFunc
	reasons  reasons
	backoff  backoff
	flights  flights
	queue    chan string
	// issue is autocert's GetCertificate; tests put a fake CA here.
	issue func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	mu        sync.Mutex
	pending   map[string]bool // hosts queued or being obtained
	announced map[string]bool // hosts whose certificate was logged ready
}

// Obtain attempts per host when a tunnel registers, and how many hosts may
// wait for theirs; beyond that a host gets its certificate on its first
// handshake.
const (
	obtainAttempts    = 4
	obtainConcurrency = 4
	obtainQueue       = 1024
)

// NewACME validates cfg and prepares the manager; Run must run for Obtain
// to do anything and for issuance to stop at shutdown.
func NewACME(cfg ACMEConfig) (*ACME, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HostPolicy == nil {
		return nil, errors.New("certs: ACME needs a host policy")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Directory == "" {
		cfg.Directory = LetsEncrypt
	}
	var roots *x509.CertPool
	if cfg.CARoot != "" {
		var err error
		if roots, err = loadRoots(cfg.CARoot); err != nil {
			return nil, &FieldError{Field: "ca_root", Err: err}
		}
	}
	a := &ACME{
		cfg:       cfg,
		log:       cfg.Logger,
		queue:     make(chan string, obtainQueue),
		pending:   map[string]bool{},
		announced: map[string]bool{},
	}
	if cfg.Shared != nil {
		a.shared = cfg.Shared.forCA(cfg.caName())
		a.cache, a.peek = a.shared, a.shared.peek
	} else {
		cacheDir := cfg.CacheDir()
		if err := os.MkdirAll(cacheDir, 0o700); err != nil {
			return nil, fieldErr("cache", "%v", err)
		}
		dir := autocert.DirCache(cacheDir)
		a.cache, a.peek = dir, dir.Get
	}
	a.lifetime, a.stop = context.WithCancel(context.Background())
	a.m = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      a.cache,
		HostPolicy: autocert.HostPolicy(a.policy),
		Email:      cfg.Email,
		Client: &acme.Client{
			DirectoryURL: cfg.Directory,
			HTTPClient:   acmeHTTPClient(roots, a.lifetime, &a.reasons),
			RetryBackoff: acmeRetryBackoff,
			UserAgent:    "hooktunnel",
		},
	}
	a.issue = a.m.GetCertificate
	return a, nil
}

// policy is the configured policy, widened to hosts that already have a
// valid certificate in the cache: serving it asks nothing of the CA, and
// it keeps a tunnel reachable after a restart before its agent is back.
func (a *ACME) policy(ctx context.Context, host string) error {
	err := a.cfg.HostPolicy(ctx, host)
	if err != nil && a.cached(ctx, NormalizeHost(host)) {
		return nil
	}
	return err
}

// cached reports whether the cache holds an unexpired certificate for host.
func (a *ACME) cached(ctx context.Context, host string) bool {
	for _, label := range strings.Split(host, ".") {
		if !validLabel(label) {
			return false
		}
	}
	data, err := a.peek(ctx, host)
	return err == nil && leafValid(data, a.cfg.Now())
}

// leafValid reports whether the first certificate in PEM data (autocert's
// key then chain) is unexpired at now.
func leafValid(data []byte, now time.Time) bool {
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" {
			leaf, err := x509.ParseCertificate(block.Bytes)
			return err == nil && now.Before(leaf.NotAfter)
		}
	}
}

// GetCertificate is the tls.Config hook.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ctx := hello.Context()
	if ctx == nil { // a hello made outside a handshake
		ctx = context.Background()
	}
	return a.getCertificate(ctx, hello)
}

// getCertificate serves hello; ctx bounds the policy check (autocert's
// issuance has its own context, which the transport ties to Run).
func (a *ACME) getCertificate(ctx context.Context, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if wantsChallengeCert(hello) {
		return a.issue(hello) // the CA validating TLS-ALPN-01: never held back
	}
	host := NormalizeHost(hello.ServerName)
	if host == "" {
		return nil, errors.New("certs: the client sent no server name (SNI)")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.policy(ctx, host); err != nil {
		a.log.Debug("no certificate for a host outside the policy", "host", host, "reason", err)
		return nil, err
	}
	if until, blocked := a.backoff.blocked(host, a.cfg.Now()); blocked {
		return nil, fmt.Errorf("%w for %s until %s", ErrBackingOff, host, until.UTC().Format(time.RFC3339))
	}
	f, leader := a.flights.join(host)
	if !leader {
		<-f.done
		if f.err != nil {
			return nil, f.err
		}
		return a.issue(hello) // now in autocert's memory: no new order
	}
	cert, err := a.issue(hello)
	a.observe(host, err)
	a.flights.land(host, f, err)
	return cert, err
}

// wantsChallengeCert is autocert's test for a TLS-ALPN-01 validation.
func wantsChallengeCert(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// observe logs an issuance outcome and updates the backoff.
func (a *ACME) observe(host string, err error) {
	if err == nil {
		// autocert tries the challenge types in turn; one that failed
		// before another worked is worth knowing (a port 443 the CA
		// cannot reach), not worth a warning.
		if why := a.reasons.take(host); why != "" {
			a.log.Debug("a challenge failed before another succeeded", "host", host, "reason", why)
		}
		if a.backoff.clear(host) {
			a.log.Info("certificate issuance recovered", "host", host)
		}
		return
	}
	if a.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a.shared.abandon(ctx, host)
		cancel()
	}
	why := a.reasons.take(host)
	if why == "" {
		why = err.Error()
	}
	delay, attempt := a.backoff.fail(host, a.cfg.Now(), err)
	retryAfter, limited := rateLimited(err)
	attrs := []any{"host", host, "reason", why, "attempt", attempt, "retry_in", delay.String(), "directory", a.cfg.Directory}
	if limited {
		attrs = append(attrs, "rate_limited", true, "ca_retry_after", retryAfter.String())
	}
	a.log.Warn("certificate issuance failed", attrs...)
}

// HTTPHandler answers HTTP-01 challenges and passes every other request to
// fallback. Calling it enables HTTP-01; without it only TLS-ALPN-01 is used.
func (a *ACME) HTTPHandler(fallback http.Handler) http.Handler {
	challenges := a.m.HTTPHandler(fallback)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			fallback.ServeHTTP(w, r)
			return
		}
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		challenges.ServeHTTP(rec, r)
		a.log.Info("ACME http-01 challenge", "host", NormalizeHost(r.Host), "status", rec.code, "remote", r.RemoteAddr)
	})
}

type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

// Obtain asks for host's certificate in the background, now rather than on
// its first handshake. It never blocks.
func (a *ACME) Obtain(host string) {
	host = NormalizeHost(host)
	a.mu.Lock()
	if a.pending[host] {
		a.mu.Unlock()
		return
	}
	a.pending[host] = true
	a.mu.Unlock()
	select {
	case a.queue <- host:
	default:
		a.done(host)
		a.log.Warn("too many certificates waiting; this one is obtained on its first handshake", "host", host)
	}
}

func (a *ACME) done(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pending, host)
}

// Run obtains what Obtain queued, a few hosts at a time, until ctx ends;
// then it cancels the CA requests in flight and waits for its workers.
func (a *ACME) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		a.stop()
		wg.Wait()
	}()
	slots := make(chan struct{}, obtainConcurrency)
	for {
		select {
		case <-ctx.Done():
			return nil
		case host := <-a.queue:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer a.done(host)
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-slots }()
				a.prepare(ctx, host)
			}()
		}
	}
}

// prepare obtains host's certificate, retrying a few times on the backoff
// schedule while the host stays in the policy.
func (a *ACME) prepare(ctx context.Context, host string) {
	for attempt := 1; ; attempt++ {
		if until, blocked := a.backoff.blocked(host, a.cfg.Now()); blocked {
			if !sleep(ctx, until.Sub(a.cfg.Now())) {
				return
			}
		}
		wasCached := a.cached(ctx, host)
		cert, err := a.getCertificate(ctx, helloFor(host))
		switch {
		case err == nil:
			a.announce(host, cert, wasCached)
			return
		case errors.Is(err, ErrHostNotAllowed), attempt >= obtainAttempts, ctx.Err() != nil:
			return
		}
	}
}

// announce logs a host's certificate once per process.
func (a *ACME) announce(host string, cert *tls.Certificate, wasCached bool) {
	a.mu.Lock()
	first := !a.announced[host]
	a.announced[host] = true
	a.mu.Unlock()
	if !first {
		return
	}
	source := "issued"
	if wasCached {
		source = "cache"
	}
	leaf := cert.Leaf
	if leaf == nil && len(cert.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	attrs := []any{"host", host, "source", source}
	if leaf != nil {
		attrs = append(attrs, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "issuer", leaf.Issuer.CommonName, "serial", leaf.SerialNumber.Text(16))
	}
	a.log.Info("certificate ready", attrs...)
}

// helloFor is the handshake a modern client would start for host: it
// makes autocert obtain the ECDSA certificate real clients get.
func helloFor(host string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:        host,
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ALPNProto is the protocol a CA offers for TLS-ALPN-01; a listener that
// answers these challenges must list it in NextProtos.
const ALPNProto = acme.ALPNProto
