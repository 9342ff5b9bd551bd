package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/test/output"
	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// Two edges on one PostgreSQL, each with its own ACME manager over the
// shared cache, asked for one host's certificate: the first orders it
// from Pebble, and the CA's HTTP-01 validation is answered by the second
// (the token crosses through the cache); the second serves the
// certificate the first obtained, and Pebble saw one order.
func TestSharedCacheOneOrderWithPebble(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	httpPort := freeTCPPort(t)
	ca := startTestPebble(t, httpPort, freeTCPPort(t)) // nothing on the TLS-ALPN-01 port: HTTP-01 only
	const host = "demo.hooks.test"
	var edges []*ACME
	for _, owner := range []string{"edge1-aaaaaa", "edge2-bbbbbb"} {
		s, err := store.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		a, err := NewACME(ACMEConfig{
			Directory:  ca.directory,
			CARoot:     ca.serverCA,
			Cache:      t.TempDir(),
			Shared:     NewSharedCache(s, store.ErrCertMiss, owner, nil),
			HostPolicy: TunnelHosts("hooks.test", func(_ context.Context, name string) (bool, error) { return name == "demo", nil }),
		})
		if err != nil {
			t.Fatal(err)
		}
		a.shared.poll = 20 * time.Millisecond
		t.Cleanup(func() {
			a.stop()
			a.m.Client.HTTPClient.Transport.(*acmeTransport).base.(*http.Transport).CloseIdleConnections()
		})
		edges = append(edges, a)
	}
	edges[0].HTTPHandler(http.NotFoundHandler()) // the first edge may use HTTP-01 too
	srv := &http.Server{Addr: "127.0.0.1:" + httpPort, Handler: edges[1].HTTPHandler(http.NotFoundHandler())}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	t.Cleanup(func() { srv.Close(); <-served })

	type result struct {
		cert *tls.Certificate
		err  error
	}
	results := make([]chan result, 2)
	get := func(i int) {
		results[i] = make(chan result, 1)
		go func() {
			cert, err := edges[i].GetCertificate(helloFor(host))
			results[i] <- result{cert, err}
		}()
	}
	get(0)
	waitFor(t, func() bool { return ca.orders() >= 1 }) // the first edge is ordering
	get(1)
	var serials []string
	for i, ch := range results {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("edge %d: %v", i+1, r.err)
			}
			leaf, err := x509.ParseCertificate(r.cert.Certificate[0])
			if err != nil || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != host {
				t.Fatalf("edge %d: certificate %v, %v; want one for %s", i+1, leaf.DNSNames, err, host)
			}
			serials = append(serials, leaf.SerialNumber.Text(16))
		case <-time.After(2 * time.Minute):
			t.Fatalf("edge %d: no certificate", i+1)
		}
	}
	if serials[0] != serials[1] {
		t.Errorf("the edges serve serials %s and %s, want one certificate", serials[0], serials[1])
	}
	// autocert places one order per challenge type it tries (TLS-ALPN-01
	// fails here, then HTTP-01 works): count what the CA issued, and who
	// asked.
	if n := ca.issued(); n != 1 {
		t.Errorf("Pebble issued %d certificates, want 1", n)
	}
	if n := ca.accounts(); n != 1 {
		t.Errorf("%d ACME accounts were registered, want the first edge's alone: the second asked the CA nothing", n)
	}
	if !strings.Contains(ca.log(), "Attempting to validate w/ HTTP: http://"+host+":"+httpPort+"/.well-known/acme-challenge/") {
		t.Errorf("Pebble did not validate over HTTP-01 (answered by the second edge):\n%s", ca.log())
	}
}

// testPebble is a running Pebble ACME server whose DNS answers 127.0.0.1
// for every name (challtestsrv).
type testPebble struct {
	directory string // ACME directory URL
	serverCA  string // PEM file: the CA of Pebble's own HTTPS
	out       *output.Buffer
}

func (p *testPebble) log() string { return p.out.String() }

// orders is how many orders Pebble has created.
func (p *testPebble) orders() int { return strings.Count(p.out.String(), "Added order") }

// issued is how many certificates Pebble has issued.
func (p *testPebble) issued() int { return strings.Count(p.out.String(), "Issued certificate serial") }

// accounts is how many accounts were registered with Pebble.
func (p *testPebble) accounts() int { return strings.Count(p.out.String(), "POST /sign-me-up") }

// pebbleOnce builds Pebble once per test binary, from the module go.mod
// pins as a tool.
var pebbleOnce struct {
	sync.Once
	dir string
	err error
}

func startTestPebble(t *testing.T, httpPort, tlsPort string) *testPebble {
	t.Helper()
	pebbleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hooktunnel-pebble-")
		if err != nil {
			pebbleOnce.err = err
			return
		}
		out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv").CombinedOutput()
		if err != nil {
			pebbleOnce.err = fmt.Errorf("building pebble: %v\n%s", err, out)
		}
		pebbleOnce.dir = dir
	})
	if pebbleOnce.err != nil {
		t.Fatal(pebbleOnce.err)
	}
	dir := t.TempDir()
	dnsAddr := "127.0.0.1:" + freeTCPPort(t)
	runTestBinary(t, filepath.Join(pebbleOnce.dir, "pebble-challtestsrv"), nil,
		"-dnsserver", dnsAddr, "-management", "127.0.0.1:"+freeTCPPort(t),
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")

	// Pebble's own HTTPS certificate, under a CA the ACME client trusts
	// through ca_root.
	caCert, caKey, err := issue(&x509.Certificate{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, leafKey, err := issue(&x509.Certificate{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	p := &testPebble{serverCA: filepath.Join(dir, "ca.pem")}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{
		p.serverCA: {Type: "CERTIFICATE", Bytes: caCert.Raw},
		certFile:   {Type: "CERTIFICATE", Bytes: leaf.Raw},
		keyFile:    {Type: "PRIVATE KEY", Bytes: kder},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listen := "127.0.0.1:" + freeTCPPort(t)
	config, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": "127.0.0.1:" + freeTCPPort(t),
		"certificate": certFile, "privateKey": keyFile,
		"httpPort": atoi(httpPort), "tlsPort": atoi(tlsPort), "ocspResponderURL": "",
		"retryAfter":   map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm": "ecdsa",
		"profiles":     map[string]any{"default": map[string]any{"description": "90 days", "validityPeriod": 7776000}},
	}})
	configFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		t.Fatal(err)
	}
	p.directory = "https://" + listen + "/dir"
	// No sleeps before validation, no rejected nonces, no reused
	// authorizations: every order is validated, now.
	p.out = runTestBinary(t, filepath.Join(pebbleOnce.dir, "pebble"),
		[]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		"-config", configFile, "-dnsserver", dnsAddr)
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
	waitFor(t, func() bool {
		resp, err := client.Get(p.directory)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// runTestBinary runs path until the test ends; its output is returned.
func runTestBinary(t *testing.T, path string, env []string, args ...string) *output.Buffer {
	t.Helper()
	out := &output.Buffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s:\n%s", filepath.Base(path), out.String())
		}
	})
	return out
}

func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
