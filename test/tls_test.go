package test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tlsDomain is the apex of the TLS tests. Nothing resolves it: clients
// dial the edge's loopback port and send it as SNI, agents get --edge-addr.
const tlsDomain = "hooks.test"

// tlsEdge is an edge process serving TLS on loopback.
type tlsEdge struct {
	*proc
	port, httpPort, adminPort, data, config string
	args                                    []string
	// host is the loopback address it listens on; "" is 127.0.0.1.
	host string
}

// startTLSEdge runs an edge for tlsDomain with config text and TLS flags.
func startTLSEdge(t *testing.T, config string, args ...string) *tlsEdge {
	t.Helper()
	dir := t.TempDir()
	e := &tlsEdge{port: freePort(t), httpPort: freePort(t), adminPort: freePort(t),
		data: filepath.Join(dir, "data"), config: filepath.Join(dir, "edge.yaml"), args: args}
	if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	return e
}

func (e *tlsEdge) start(t *testing.T) {
	t.Helper()
	e.launch(t, false)
}

// launch starts the edge and waits until it is ready. If it cannot bind a
// port and mayRetry, it reports false instead of failing the test.
func (e *tlsEdge) launch(t *testing.T, mayRetry bool) bool {
	t.Helper()
	args := append([]string{"edge", "--domain", tlsDomain,
		"--listen", e.addr(), "--http-listen", e.ip() + ":" + e.httpPort, "--admin-listen", e.ip() + ":" + e.adminPort,
		"--data", e.data, "--config", e.config, "--log-level", "debug"}, e.args...)
	e.proc = startProc(t, "edge", args...)
	ready := true
	eventually(t, 60*time.Second, "edge /healthz", func() bool {
		select {
		case <-e.done:
			if mayRetry && strings.Contains(e.stderr.String(), "address already in use") {
				ready = false
				return true
			}
			t.Fatalf("edge exited: %s", e.stderr.String())
		default:
		}
		resp, err := http.Get("http://" + e.ip() + ":" + e.adminPort + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return ready
}

func (e *tlsEdge) ip() string {
	if e.host == "" {
		return "127.0.0.1"
	}
	return e.host
}

// restart stops the edge gracefully and starts it again on the same ports and data.
func (e *tlsEdge) restart(t *testing.T) {
	t.Helper()
	e.signal(syscall.SIGTERM)
	if code, ok := e.exited(30 * time.Second); !ok || code != 0 {
		t.Fatalf("edge did not stop cleanly: exited=%v code=%d\n%s", ok, code, e.stderr.String())
	}
	e.start(t)
}

func (e *tlsEdge) addr() string { return e.ip() + ":" + e.port }

func (e *tlsEdge) hookURL(name, path string) string {
	return "https://" + name + "." + tlsDomain + ":" + e.port + path
}

// waitLog waits for a log line of the edge that matches re, and returns its submatches.
func (p *proc) waitLog(t *testing.T, re string, timeout time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	eventually(t, timeout, "log line "+re, func() bool {
		m = rx.FindStringSubmatch(p.stderr.String() + p.stdout.String())
		return m != nil
	})
	return m
}

// startTLSAgent runs an agent dialing the edge's HTTPS apex and waits until it is online.
func startTLSAgent(t *testing.T, e *tlsEdge, tok agentToken, target string, args ...string) *proc {
	t.Helper()
	a := startTLSAgentNoWait(t, e, tok, target, args...)
	if !a.waitOutput("is online", 60*time.Second) {
		t.Fatalf("agent did not come online:\n%s\n%s", a.stdout.String(), a.stderr.String())
	}
	return a
}

func startTLSAgentNoWait(t *testing.T, e *tlsEdge, tok agentToken, target string, args ...string) *proc {
	t.Helper()
	all := append([]string{"agent", target, "--edge", "https://" + tlsDomain + ":" + e.port, "--edge-addr", e.addr(),
		"--token", tok.token, "--log-level", "debug"}, args...)
	return startProc(t, "agent", all...)
}

// tlsClient sends requests to the edge's loopback port whatever the host,
// verifying the edge against roots and presenting certs.
func (e *tlsEdge) tlsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, e.addr())
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: certs},
			ForceAttemptHTTP2: true,
		},
	}
}

// handshake opens a TLS connection to addr with SNI serverName.
func handshake(addr, serverName string, cfg *tls.Config) (tls.ConnectionState, error) {
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

func TestTLSFileReloadKeepsServing(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "file-mode CA")
	certFile, keyFile, first := ca.issue(t, x509.ExtKeyUsageServerAuth, tlsDomain, "*."+tlsDomain)
	tok := newToken("demo", true, "demo")
	e := startTLSEdge(t, edgeConfig([]agentToken{tok}, ""), "--tls", "file", "--tls-cert", certFile, "--tls-key", keyFile)
	app := startApp(t)
	startTLSAgent(t, e, tok, app.port(), "--edge-ca", ca.file, "--name", "demo", "--route", "POST /hook")
	servedSerial := func() *big.Int {
		st, err := handshake(e.addr(), "demo."+tlsDomain, &tls.Config{RootCAs: ca.pool()})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return st.PeerCertificates[0].SerialNumber
	}
	if got := servedSerial(); got.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("edge serves serial %x, want the file's %x", got, first.Leaf.SerialNumber)
	}

	// One sender keeps one connection alive; another opens a new one per request.
	kept, fresh := e.tlsClient(ca.pool()), e.tlsClient(ca.pool())
	fresh.Transport.(*http.Transport).DisableKeepAlives = true
	var keptConn atomic.Value // the kept connection's local address
	send := func(c *http.Client) error {
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if c == kept {
				keptConn.Store(info.Conn.LocalAddr().String())
			}
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", e.hookURL("demo", "/hook"), strings.NewReader("{}"))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := send(kept); err != nil {
		t.Fatal(err)
	}
	connBefore := keptConn.Load()
	stop := make(chan struct{})
	var sent atomic.Int64
	var mu sync.Mutex
	var failures []error
	var wg sync.WaitGroup
	for _, c := range []*http.Client{kept, fresh} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := send(c); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
				sent.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	// Renew: a new certificate and key written over the files in place.
	newCert, newKey, second := ca.issue(t, x509.ExtKeyUsageServerAuth, tlsDomain, "*."+tlsDomain)
	for _, f := range [][2]string{{newKey, keyFile}, {newCert, certFile}} {
		data, _ := os.ReadFile(f[0])
		if err := os.WriteFile(f[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "the renewed certificate to be served", func() bool {
		return servedSerial().Cmp(second.Leaf.SerialNumber) == 0
	})
	e.waitLog(t, `msg="TLS certificate reloaded"`, 5*time.Second)

	// A broken file keeps the renewed certificate in service.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitLog(t, `msg="new TLS certificate does not load; keeping the current certificate".*err=`, 20*time.Second)
	if got := servedSerial(); got.Cmp(second.Leaf.SerialNumber) != 0 {
		t.Errorf("after a bad file the edge serves %x, want %x", got, second.Leaf.SerialNumber)
	}
	atLeast := sent.Load() + 10
	eventually(t, 20*time.Second, "more requests after the reloads", func() bool { return sent.Load() >= atLeast })
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", len(failures), sent.Load(), failures[0])
	}
	if keptConn.Load() != connBefore {
		t.Errorf("the kept-alive connection was replaced (%v -> %v): a reload dropped it", connBefore, keptConn.Load())
	}
	t.Logf("%d requests, none failed, across a renewal and a bad file", sent.Load())
}

func TestTLSSelfSignedTrustAndVersions(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startTLSEdge(t, edgeConfig([]agentToken{tok}, ""), "--tls", "self-signed")
	m := e.waitLog(t, `msg="self-signed TLS: agents trust this CA with --edge-ca" ca=(\S+) sha256=(\S+)`, 10*time.Second)
	caFile, printed := m[1], m[2]
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	caCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := fingerprint(caCert.Raw); printed != want {
		t.Errorf("printed fingerprint %s, the CA file's is %s", printed, want)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	app := startApp(t)

	t.Run("agent without --edge-ca refuses the edge", func(t *testing.T) {
		a := startTLSAgentNoWait(t, e, tok, app.port(), "--name", "demo")
		if !a.waitOutput("certificate signed by unknown authority", 30*time.Second) {
			t.Fatalf("agent did not report the untrusted certificate:\n%s", a.stderr.String())
		}
		if !strings.Contains(a.stderr.String(), "--edge-ca") {
			t.Errorf("the error does not say to pass --edge-ca:\n%s", a.stderr.String())
		}
		if strings.Contains(a.stdout.String(), "is online") {
			t.Fatal("agent came online through an untrusted certificate")
		}
		a.signal(syscall.SIGTERM)
		a.exited(10 * time.Second)
	})

	t.Run("agent with --edge-insecure says so", func(t *testing.T) {
		a := startTLSAgentNoWait(t, e, tok, app.port(), "--name", "demo", "--edge-insecure")
		if !a.waitOutput("is online", 60*time.Second) {
			t.Fatalf("agent did not come online:\n%s", a.stderr.String())
		}
		if !strings.Contains(a.stderr.String(), "WARNING: --edge-insecure") {
			t.Errorf("no warning on stderr:\n%s", a.stderr.String())
		}
		a.signal(syscall.SIGTERM)
		a.exited(20 * time.Second)
	})

	agent := startTLSAgent(t, e, tok, app.port(), "--name", "demo", "--route", "POST /hook", "--edge-ca", caFile)
	c := e.tlsClient(roots)
	resp, err := c.Post(e.hookURL("demo", "/hook"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("webhook over the self-signed edge: %s %s, want 200 over HTTP/2", resp.Proto, resp.Status)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security = %q", got)
	}
	// The metric of the certificate served for the tunnel host says when
	// it expires; a host nobody configured gets no series.
	expiry := (&edgeProc{adminPort: e.adminPort}).scrape(t)[`hooktunnel_certificate_expiry_timestamp_seconds{host="demo.hooks.test"}`]
	if want := float64(caCert.NotAfter.Unix()); expiry <= float64(time.Now().Unix()) || expiry > want {
		t.Errorf("certificate expiry metric = %v, want a future time no later than the CA's %v", expiry, want)
	}

	t.Run("protocol versions", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			version uint16
			ok      bool
		}{
			{"TLS 1.0 refused", tls.VersionTLS10, false},
			{"TLS 1.1 refused", tls.VersionTLS11, false},
			{"TLS 1.2 accepted", tls.VersionTLS12, true},
			{"TLS 1.3 accepted", tls.VersionTLS13, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, err := handshake(e.addr(), "demo."+tlsDomain, &tls.Config{RootCAs: roots, MinVersion: tc.version, MaxVersion: tc.version})
				if tc.ok && (err != nil || st.Version != tc.version) {
					t.Fatalf("handshake: %v (version %x)", err, st.Version)
				}
				if !tc.ok && err == nil {
					t.Fatalf("handshake at version %x succeeded", tc.version)
				}
			})
		}
	})

	t.Run("apex speaks HTTP/1.1 for the agent endpoint", func(t *testing.T) {
		st, err := handshake(e.addr(), tlsDomain, &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil || st.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("apex negotiated %q (%v), want http/1.1", st.NegotiatedProtocol, err)
		}
	})

	t.Run("plain HTTP redirects to HTTPS", func(t *testing.T) {
		noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("POST", "http://127.0.0.1:"+e.httpPort+"/hook?x=1", nil)
		req.Host = "demo." + tlsDomain
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := e.hookURL("demo", "/hook?x=1"); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("got %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})

	t.Run("restart reuses the CA", func(t *testing.T) {
		e.restart(t)
		lines := regexp.MustCompile(`self-signed TLS: agents trust this CA with --edge-ca" ca=\S+ sha256=(\S+)`).FindAllStringSubmatch(e.stderr.String(), -1)
		if len(lines) != 1 || lines[0][1] != printed {
			t.Fatalf("after a restart the edge printed %v, want the same CA %s", lines, printed)
		}
		eventually(t, 60*time.Second, "the agent to reconnect with the same --edge-ca", func() bool {
			return strings.Count(agent.stdout.String(), "is online") >= 2
		})
	})
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func TestTLSMutualPerTunnel(t *testing.T) {
	t.Parallel()
	senders := newTestCA(t, "senders CA")
	_, _, sender := senders.issue(t, x509.ExtKeyUsageClientAuth, "sender-1")
	_, _, rogue := newTestCA(t, "rogue CA").issue(t, x509.ExtKeyUsageClientAuth, "rogue")
	tok := newToken("demo", false, "secure", "open", "optional")
	config := edgeConfig([]agentToken{tok}, fmt.Sprintf(`tunnels:
  secure:
    routes: [{path: /hook}]
    mtls: {client_ca: "file:%s", required: true}
  open:
    routes: [{path: /hook}]
  optional:
    routes: [{path: /hook}]
    mtls: {client_ca: "file:%s", required: false}
`, senders.file, senders.file))
	e := startTLSEdge(t, config, "--tls", "self-signed")
	caFile := e.waitLog(t, `agents trust this CA with --edge-ca" ca=(\S+)`, 10*time.Second)[1]
	caPEM, _ := os.ReadFile(caFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	app := startApp(t)
	startTLSAgent(t, e, tok, app.port(), "--name", "secure", "--edge-ca", caFile)
	startTLSAgent(t, e, tok, app.port(), "--name", "open", "--edge-ca", caFile)
	startTLSAgent(t, e, tok, app.port(), "--name", "optional", "--edge-ca", caFile)

	post := func(t *testing.T, sni, host string, certs ...tls.Certificate) (int, bool, error) {
		t.Helper()
		asked := false
		cfg := &tls.Config{RootCAs: roots, ServerName: sni, NextProtos: []string{"http/1.1"},
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				if len(certs) == 0 {
					return &tls.Certificate{}, nil
				}
				return &certs[0], nil
			}}
		c := e.tlsClient(roots)
		c.Transport.(*http.Transport).TLSClientConfig = cfg
		c.Transport.(*http.Transport).ForceAttemptHTTP2 = false
		resp, err := c.Post(e.hookURL(host, "/hook"), "application/json", strings.NewReader("{}"))
		if err != nil {
			return 0, asked, err
		}
		resp.Body.Close()
		return resp.StatusCode, asked, nil
	}
	for _, tc := range []struct {
		name      string
		sni, host string
		certs     []tls.Certificate
		status    int // 0: the handshake must fail
		asked     bool
	}{
		{"sender with a certificate from the tunnel's CA is accepted", "secure", "secure", []tls.Certificate{sender}, 200, true},
		{"sender without a certificate is refused", "secure", "secure", nil, 0, true},
		{"sender with a certificate from another CA is refused", "secure", "secure", []tls.Certificate{rogue}, 0, true},
		{"a tunnel without mtls never asks for a certificate", "open", "open", []tls.Certificate{sender}, 200, false},
		{"SNI of another tunnel cannot reach the mtls tunnel", "open", "secure", nil, http.StatusMisdirectedRequest, false},
		{"optional mtls accepts a sender without a certificate", "optional", "optional", nil, 200, true},
		{"optional mtls accepts a valid certificate", "optional", "optional", []tls.Certificate{sender}, 200, true},
		{"optional mtls refuses a certificate from another CA", "optional", "optional", []tls.Certificate{rogue}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, asked, err := post(t, tc.sni+"."+tlsDomain, tc.host, tc.certs...)
			if tc.status == 0 {
				if err == nil {
					t.Fatalf("got %d, want the handshake refused", status)
				}
			} else if err != nil || status != tc.status {
				t.Fatalf("got %d (%v), want %d", status, err, tc.status)
			}
			if asked != tc.asked {
				t.Errorf("client certificate requested = %v, want %v", asked, tc.asked)
			}
		})
	}
	for _, host := range []string{"secure", "optional"} {
		e.waitLog(t, `msg=webhook .*tunnel=`+host+` .*client_cert="CN=sender-1,O=hooktunnel tests"`, 5*time.Second)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notCA := filepath.Join(dir, "leaf.pem")
	leafFile, _, _ := newTestCA(t, "x").issue(t, x509.ExtKeyUsageClientAuth, "leaf")
	data, _ := os.ReadFile(leafFile)
	os.WriteFile(notCA, data, 0o600)
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       string
	}{
		{"unknown mode", "", []string{"--tls", "magic"}, `tls: "magic" is not one of acme, file, self-signed, off`},
		{"acme on localhost", "", []string{"--domain", "localhost", "--tls", "acme"}, `domain: "localhost" cannot get ACME certificates`},
		{"file without a key", "", []string{"--tls", "file", "--tls-cert", leafFile}, "tls_key: is required with tls: file"},
		{"acme directory over http", "", []string{"--tls", "acme", "--acme-directory", "http://ca.example/dir"}, `acme.directory: "http://ca.example/dir" is not an https:// URL`},
		{"mtls with TLS off", "tunnels:\n  x:\n    mtls: {client_ca: \"file:" + notCA + "\"}\n", []string{"--tls", "off"}, "tunnels.x.mtls: needs TLS on the edge"},
		{"mtls with a leaf as CA", "tunnels:\n  x:\n    mtls: {client_ca: \"file:" + notCA + "\"}\n", []string{"--tls", "self-signed"}, "tunnels.x.mtls.client_ca: certificate \"CN=leaf,O=hooktunnel tests\" is not a CA certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "edge.yaml")
			os.WriteFile(file, []byte(tc.yaml), 0o600)
			args := append([]string{"edge", "--domain", tlsDomain, "--config", file, "--check", "--data", t.TempDir()}, tc.args...)
			p := startProc(t, "edge --check", args...)
			code, ok := p.exited(30 * time.Second)
			if !ok || code != 2 {
				t.Fatalf("exit %d (exited %v), want 2\n%s", code, ok, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("stderr %q does not contain %q", p.stderr.String(), tc.want)
			}
		})
	}
}
