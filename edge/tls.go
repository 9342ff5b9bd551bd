package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/certs"
	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// tlsSettings is the compiled TLS part of the config.
type tlsSettings struct {
	mode string
	hsts string // the Strict-Transport-Security value, "" for none
	// mtls is the client-certificate setting of the tunnels that have one.
	mtls map[string]*certs.ClientAuth
}

// compileTLS validates the TLS settings into out.tls; out.domain is set.
func compileTLS(c Config, out *compiled) error {
	mode := c.TLS
	if mode == "" {
		mode = certs.DefaultMode(out.domain)
	}
	if !slices.Contains(certs.Modes, mode) {
		return policy.AtField("tls", fmt.Errorf("%q is not one of %s", mode, strings.Join(certs.Modes, ", ")))
	}
	out.tls = tlsSettings{mode: mode, mtls: map[string]*certs.ClientAuth{}}
	switch mode {
	case certs.ModeACME:
		if net.ParseIP(out.domain) != nil || !strings.Contains(out.domain, ".") {
			return policy.AtField("domain", fmt.Errorf("%q cannot get ACME certificates (an IP address or a name without a dot): use tls: self-signed, file or off", out.domain))
		}
		if err := acmeConfig(c).Validate(); err != nil {
			return certsField("acme.", "acme", err)
		}
	case certs.ModeFile:
		if _, err := certs.NewFile(certs.FileConfig{CertFile: c.TLSCert, KeyFile: c.TLSKey}); err != nil {
			return certsField("", "tls_cert", err)
		}
	}
	if c.HSTSMaxAge < 0 {
		return policy.AtField("hsts_max_age", errors.New("must not be negative (0 turns HSTS off)"))
	}
	if mode != certs.ModeOff && c.HSTSMaxAge > 0 {
		out.tls.hsts = fmt.Sprintf("max-age=%d", int64(c.HSTSMaxAge/time.Second))
	}
	names := slices.Sorted(maps.Keys(c.Tunnels))
	for _, name := range names {
		m := c.Tunnels[name].MTLS
		if m == nil {
			continue
		}
		field := "tunnels." + name + ".mtls"
		if mode == certs.ModeOff {
			return policy.AtField(field, errors.New("needs TLS on the edge, and tls is off"))
		}
		if m.ClientCA == "" {
			return policy.AtField(field+".client_ca", errors.New("is required (file:PATH of the PEM CAs the senders' certificates chain to)"))
		}
		pem, err := policy.ResolveSecret(m.ClientCA)
		if err != nil {
			return policy.AtField(field+".client_ca", err)
		}
		ca, err := certs.NewClientAuth(pem.Value, m.IsRequired())
		if err != nil {
			return policy.AtField(field+".client_ca", err)
		}
		out.tls.mtls[name] = ca
	}
	return nil
}

// acmeConfig is the acme section with the cache defaulted into the data dir.
func acmeConfig(c Config) certs.ACMEConfig {
	a := c.ACME
	if a.Cache == "" {
		a.Cache = filepath.Join(c.Data, "certs")
	}
	return a
}

// certsField turns a certs.FieldError into the edge's field error (under
// prefix), and any other error into one at field.
func certsField(prefix, field string, err error) error {
	var fe *certs.FieldError
	if errors.As(err, &fe) {
		return policy.AtField(prefix+fe.Field, fe.Err)
	}
	return policy.AtField(field, err)
}

// edgeTLS is the running TLS side of the edge.
type edgeTLS struct {
	acme    *certs.ACME // nil unless tls: acme
	httpSrv *http.Server
	httpLn  net.Listener
	// cancel stops the certificate source's goroutine (file reloads,
	// ACME issuance); Shutdown waits for it through e.serving.
	cancel context.CancelFunc
}

// startTLS wraps the public listener in TLS and binds the plain-HTTP
// listener. It runs in Start before anything is served; on error nothing
// of its own is left running.
func (e *Edge) startTLS() error {
	cfg := e.cfg.Load()
	if cfg.tls.mode == certs.ModeOff {
		return nil
	}
	src, run, err := e.certSource(cfg)
	if err != nil {
		return err
	}
	src = expiryObserver{Source: src, e: e}
	// Tunnel hosts speak HTTP/2 and HTTP/1.1. The apex serves the agent
	// endpoint, a websocket upgrade that exists only in HTTP/1.1: offering
	// h2 there would let a stock client negotiate it and fail to upgrade.
	hostProtos, apexProtos := []string{"h2", "http/1.1"}, []string{"http/1.1"}
	if e.tls.acme != nil {
		hostProtos = append(hostProtos, certs.ALPNProto)
		apexProtos = append(apexProtos, certs.ALPNProto)
	}
	plain := certs.ServerConfig(src, hostProtos...)
	apex := certs.ServerConfig(src, apexProtos...)
	base := plain.Clone()
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		return e.configForClient(hello, plain, apex), nil
	}
	var httpLn net.Listener
	if listen := e.raw.HTTPListen; listen != "" && listen != "off" {
		if httpLn, err = listenHTTP(listen); err != nil {
			return err
		}
	}
	e.public.TLSConfig = base // with "h2" listed, Serve sets up HTTP/2
	e.publicLn = tls.NewListener(e.publicLn, base)
	e.public.Handler = e.tlsHandler(e.public.Handler)
	ctx, cancel := context.WithCancel(context.Background())
	e.tls.cancel = cancel
	if run != nil {
		e.serving.Add(1)
		go func() {
			defer e.serving.Done()
			_ = run(ctx)
		}()
	}
	httpAddr := "off"
	if httpLn != nil {
		var handler http.Handler = http.HandlerFunc(e.redirectToHTTPS)
		if e.tls.acme != nil {
			handler = e.tls.acme.HTTPHandler(handler)
		}
		lim := cfg.limits
		e.tls.httpLn = httpLn
		e.tls.httpSrv = &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			ErrorLog:          e.errorLog,
		}
		e.serve(e.tls.httpSrv, httpLn)
		httpAddr = httpLn.Addr().String()
	}
	e.log.Info("TLS on", "mode", cfg.tls.mode, "http_listen", httpAddr, "hsts", cfg.tls.hsts, "mtls_tunnels", slices.Sorted(maps.Keys(cfg.tls.mtls)))
	if e.tls.acme != nil {
		// The apex (agents connect there) and the configured tunnels get
		// their certificates now; agent-registered ones when they register.
		e.tls.acme.Obtain(cfg.domain)
		for name := range cfg.tunnels {
			e.tls.acme.Obtain(name + "." + cfg.domain)
		}
	}
	return nil
}

// certSource builds the configured certificate source and the function
// that keeps it fresh (nil when nothing changes).
func (e *Edge) certSource(cfg *compiled) (certs.Source, func(context.Context) error, error) {
	switch cfg.tls.mode {
	case certs.ModeACME:
		ac := acmeConfig(e.raw)
		ac.HostPolicy = certs.TunnelHosts(cfg.domain, e.knownTunnel)
		ac.Logger = e.log
		ac.Shared = e.sharedCerts() // every edge of a cluster serves the same certificates
		a, err := certs.NewACME(ac)
		if err != nil {
			return nil, nil, fmt.Errorf("edge: acme: %w", err)
		}
		e.tls.acme = a
		dir := ac.Directory
		if dir == "" {
			dir = certs.LetsEncrypt
		}
		e.log.Info("ACME certificates", "directory", dir, "cache", ac.CacheDir(), "email", ac.Email)
		return a, a.Run, nil
	case certs.ModeFile:
		f, err := certs.NewFile(certs.FileConfig{CertFile: e.raw.TLSCert, KeyFile: e.raw.TLSKey, Logger: e.log})
		if err != nil {
			return nil, nil, fmt.Errorf("edge: %w", err)
		}
		return f, f.Run, nil
	case certs.ModeSelfSigned:
		s, err := certs.NewSelfSigned(certs.SelfSignedConfig{Dir: filepath.Join(e.raw.Data, "self-signed"), Domain: cfg.domain, Logger: e.log})
		if err != nil {
			return nil, nil, fmt.Errorf("edge: self-signed: %w", err)
		}
		e.log.Info("self-signed TLS: agents trust this CA with --edge-ca", "ca", s.CAFile, "sha256", s.CAFingerprint)
		return s, nil, nil
	}
	return nil, nil, fmt.Errorf("edge: tls mode %q has no certificate source", cfg.tls.mode)
}

// knownTunnel is the ACME host policy's question: is name a tunnel of this
// edge — configured, or registered by an agent since it started? Names
// allocated before a restart keep their cached certificates (see
// certs.ACME); a random SNI is never known.
func (e *Edge) knownTunnel(_ context.Context, name string) (bool, error) {
	if _, ok := e.cfg.Load().tunnels[name]; ok {
		return true, nil
	}
	return e.relay.Known(name), nil
}

// obtainCertificate starts obtaining the certificate of tunnel name's host
// when the edge gets its certificates from ACME.
func (e *Edge) obtainCertificate(name string) {
	if e.tls.acme != nil {
		e.tls.acme.Obtain(name + "." + e.cfg.Load().domain)
	}
}

// configForClient picks the TLS settings for a handshake: HTTP/1.1 only on
// the apex, client certificates on the hosts of mTLS tunnels (asked only
// there, so other senders never see a certificate request). nil keeps the
// listener's settings.
func (e *Edge) configForClient(hello *tls.ClientHelloInfo, plain, apex *tls.Config) *tls.Config {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == certs.ALPNProto {
		return nil // a CA validating TLS-ALPN-01 has no client certificate
	}
	cfg := e.cfg.Load()
	host := certs.NormalizeHost(hello.ServerName)
	if host == cfg.domain {
		return apex
	}
	if name, ok := strings.CutSuffix(host, "."+cfg.domain); ok {
		if ca := cfg.tls.mtls[name]; ca != nil {
			return ca.Apply(plain)
		}
	}
	return nil
}

// tlsHandler wraps the public handler for requests over TLS: HSTS on
// tunnel hosts, and for mTLS tunnels a check that the connection's TLS
// handshake was made for this host — a client must not present SNI "open"
// (no certificate asked) and then send Host "secure". It logs the client
// certificate's subject for each request that came with one.
func (e *Edge) tlsHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			next.ServeHTTP(w, r)
			return
		}
		cfg := e.cfg.Load()
		host := canonicalHost(r.Host)
		if name, ok := strings.CutSuffix(host, "."+cfg.domain); ok {
			if cfg.tls.hsts != "" {
				w.Header().Set("Strict-Transport-Security", cfg.tls.hsts)
			}
			if ca := cfg.tls.mtls[name]; ca != nil {
				if certs.NormalizeHost(r.TLS.ServerName) != host {
					// 421 makes HTTP/2 clients that coalesced connections
					// retry on one of their own for this host.
					writeRefusal(w, http.StatusMisdirectedRequest, outcome.CodeMisdirected, "tunnel "+name+" requires a TLS connection made for "+host, store.NewMessageID(e.clock.Now()))
					return
				}
				if ca.Required && len(r.TLS.VerifiedChains) == 0 {
					writeRefusal(w, http.StatusForbidden, outcome.CodeClientCertNeeded, "tunnel "+name+" requires a client certificate", store.NewMessageID(e.clock.Now()))
					return
				}
			}
		}
		next.ServeHTTP(w, r) // the webhook's log line and journal entry carry the client certificate
	})
}

// clientSubject is the verified client certificate's subject, "" when the
// sender presented none.
func clientSubject(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.String()
}

// redirectToHTTPS is the plain-HTTP listener: 308 to the same URL over
// HTTPS (method and body kept), for the edge's own hosts only.
func (e *Edge) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	cfg := e.cfg.Load()
	host := canonicalHost(r.Host)
	if host != cfg.domain && !strings.HasSuffix(host, "."+cfg.domain) {
		writeRefusal(w, http.StatusNotFound, outcome.CodeUnknownHost, "no tunnel is served on this host", store.NewMessageID(e.clock.Now()))
		return
	}
	if cfg.publicPort != "" {
		host = net.JoinHostPort(host, cfg.publicPort)
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// stopTLS stops the plain-HTTP listener and the certificate source; the
// caller waits for them with e.serving.
func (e *Edge) stopTLS(ctx context.Context) {
	if e.tls.httpSrv != nil {
		_ = e.tls.httpSrv.Shutdown(ctx)
	}
	if e.tls.cancel != nil {
		e.tls.cancel()
	}
}
