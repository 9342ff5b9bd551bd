package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// pebbleBuild holds the Pebble binaries, built once per test run from the
// module go.mod pins (they are `tool` dependencies, so the module proxy
// and the build cache serve them like any other dependency).
var pebbleBuild struct {
	once              sync.Once
	pebble, challtest string
	err               error
}

func pebbleBinaries(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	pebbleBuild.once.Do(func() {
		dir := filepath.Join(filepath.Dir(binary), "pebble") + string(filepath.Separator)
		out, err := exec.Command("go", "build", "-o", dir,
			"github.com/letsencrypt/pebble/v2/cmd/pebble",
			"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv").CombinedOutput()
		if err != nil {
			pebbleBuild.err = fmt.Errorf("building pebble: %v\n%s", err, out)
			return
		}
		pebbleBuild.pebble, pebbleBuild.challtest = dir+"pebble", dir+"pebble-challtestsrv"
	})
	if pebbleBuild.err != nil {
		t.Fatal(pebbleBuild.err)
	}
	return pebbleBuild.pebble, pebbleBuild.challtest
}

// startBinary runs a program other than hooktunnel, like startProc.
func startBinary(t *testing.T, name, path string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s\n%s", name, p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// pebbleCA is a running Pebble ACME server with challtestsrv as the DNS
// server its validation authority resolves through (every name → 127.0.0.1).
type pebbleCA struct {
	*proc
	directory string         // the ACME directory URL
	serverCA  string         // PEM file: the CA of Pebble's own HTTPS (for --acme-ca-root)
	rootFile  string         // PEM file: the root Pebble issues under
	roots     *x509.CertPool // that root
}

// startPebble runs Pebble validating HTTP-01 on httpPort and TLS-ALPN-01
// on tlsPort of 127.0.0.1.
func startPebble(t *testing.T, httpPort, tlsPort string) *pebbleCA {
	t.Helper()
	pebbleBin, challBin := pebbleBinaries(t)
	dir := t.TempDir()
	dnsAddr := "127.0.0.1:" + freePort(t)
	startBinary(t, "challtestsrv", challBin, nil,
		"-dnsserver", dnsAddr, "-management", "127.0.0.1:"+freePort(t),
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	waitDNS(t, dnsAddr)

	// Pebble's own HTTPS certificate, from a CA the edge trusts only
	// through --acme-ca-root.
	serverCA := newTestCA(t, "pebble listener CA")
	certFile, keyFile, _ := serverCA.issue(t, x509.ExtKeyUsageServerAuth, "127.0.0.1", "localhost")
	listen, mgmt := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	hp, _ := strconv.Atoi(httpPort)
	tp, _ := strconv.Atoi(tlsPort)
	config := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": certFile, "privateKey": keyFile,
		"httpPort": hp, "tlsPort": tp, "ocspResponderURL": "",
		"retryAfter":   map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm": "ecdsa",
		"profiles":     map[string]any{"default": map[string]any{"description": "90 days", "validityPeriod": 7776000}},
	}}
	configFile := filepath.Join(dir, "pebble.json")
	data, _ := json.Marshal(config)
	if err := os.WriteFile(configFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &pebbleCA{directory: "https://" + listen + "/dir", serverCA: serverCA.file, rootFile: filepath.Join(dir, "pebble-root.pem")}
	// No random sleeps before validation, no injected bad nonces, no reuse
	// of earlier authorizations: every order is validated, now.
	p.proc = startBinary(t, "pebble", pebbleBin,
		[]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		"-config", configFile, "-dnsserver", dnsAddr)

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.pool()}}}
	eventually(t, 30*time.Second, "pebble's directory", func() bool {
		resp, err := client.Get(p.directory)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The root Pebble issues under is made at start; its management API serves it.
	resp, err := client.Get("https://" + mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	block, _ := pem.Decode(rootPEM)
	if block == nil {
		t.Fatalf("pebble /roots/0: no PEM in %q", rootPEM)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	p.roots = x509.NewCertPool()
	p.roots.AddCert(root)
	if err := os.WriteFile(p.rootFile, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitDNS waits until challtestsrv answers A queries with 127.0.0.1.
func waitDNS(t *testing.T, addr string) {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	eventually(t, 30*time.Second, "challtestsrv DNS", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ips, err := r.LookupHost(ctx, "probe."+tlsDomain)
		return err == nil && len(ips) > 0 && ips[0] == "127.0.0.1"
	})
}

// orders is how many orders Pebble has created.
func (p *pebbleCA) orders() int { return strings.Count(p.stdout.String(), "Added order") }

func TestACMEWithPebble(t *testing.T) {
	t.Parallel()
	httpsPort, httpPort := freePort(t), freePort(t)
	// Nothing listens on Pebble's TLS-ALPN-01 port, so a certificate can
	// only come from HTTP-01 answered by the edge's --http-listen.
	ca := startPebble(t, httpPort, freePort(t))
	tok := newToken("demo", true, "demo")
	e := &tlsEdge{port: httpsPort, httpPort: httpPort, adminPort: freePort(t),
		data: filepath.Join(t.TempDir(), "data"), config: filepath.Join(t.TempDir(), "edge.yaml"),
		args: []string{"--tls", "acme", "--acme-directory", ca.directory, "--acme-ca-root", ca.serverCA, "--acme-email", "ops@example.com"}}
	os.WriteFile(e.config, []byte(edgeConfig([]agentToken{tok}, "")), 0o600)
	start := time.Now()
	e.start(t)

	// The apex's certificate is obtained at start: agents connect there.
	e.waitLog(t, `msg="certificate ready" host=hooks.test source=issued`, 60*time.Second)
	app := startApp(t)
	agent := startTLSAgent(t, e, tok, app.port(), "--name", "demo", "--route", "POST /hook", "--edge-ca", ca.rootFile)

	// The tunnel's certificate is obtained when the agent registers it.
	e.waitLog(t, `msg="certificate ready" host=demo.hooks.test source=issued`, 60*time.Second)
	t.Logf("apex and tunnel certificates issued %s after the edge started", time.Since(start).Round(time.Millisecond))
	st, err := handshake(e.addr(), "demo."+tlsDomain, &tls.Config{RootCAs: ca.roots})
	if err != nil {
		t.Fatalf("TLS to demo.%s with Pebble's root: %v", tlsDomain, err)
	}
	leaf := st.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "demo."+tlsDomain {
		t.Errorf("certificate names %v, want [demo.%s]", leaf.DNSNames, tlsDomain)
	}
	chain := st.VerifiedChains[0]
	if root := chain[len(chain)-1]; !strings.HasPrefix(root.Subject.CommonName, "Pebble Root CA") {
		t.Errorf("chain ends at %q, want Pebble's root", root.Subject.CommonName)
	}

	t.Run("HTTP-01 validation reached the edge", func(t *testing.T) {
		e.waitLog(t, `msg="ACME http-01 challenge" host=demo.hooks.test status=200`, 5*time.Second)
		want := "Attempting to validate w/ HTTP: http://demo." + tlsDomain + ":" + httpPort + "/.well-known/acme-challenge/"
		if !strings.Contains(ca.stdout.String(), want) {
			t.Errorf("pebble's log has no %q", want)
		}
	})

	t.Run("a webhook over HTTPS", func(t *testing.T) {
		resp, err := e.tlsClient(ca.roots).Post(e.hookURL("demo", "/hook"), "application/json", strings.NewReader(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("got %s %s HSTS %q, want 200 over HTTP/2 with HSTS", resp.Proto, resp.Status, resp.Header.Get("Strict-Transport-Security"))
		}
	})

	t.Run("hosts outside the policy get no certificate and no order", func(t *testing.T) {
		before := ca.orders()
		for _, sni := range []string{"random." + tlsDomain, "a.demo." + tlsDomain, "hooks.example.org", "demo." + tlsDomain + ".evil.test"} {
			if _, err := handshake(e.addr(), sni, &tls.Config{RootCAs: ca.roots}); err == nil {
				t.Errorf("SNI %s: handshake succeeded", sni)
			}
		}
		if after := ca.orders(); after != before {
			t.Errorf("pebble orders went from %d to %d: the edge asked for a host outside its policy", before, after)
		}
	})

	t.Run("a restart reuses the cached certificates", func(t *testing.T) {
		before := ca.orders()
		e.restart(t)
		// From the cache at once, before the agent is back.
		st, err := handshake(e.addr(), "demo."+tlsDomain, &tls.Config{RootCAs: ca.roots})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
			t.Errorf("after a restart the edge serves serial %x, want the cached %x", got, leaf.SerialNumber)
		}
		e.waitLog(t, `msg="certificate ready" host=hooks.test source=cache`, 30*time.Second)
		eventually(t, 60*time.Second, "the agent to reconnect", func() bool {
			return strings.Count(agent.stdout.String(), "is online") >= 2
		})
		e.waitLog(t, `msg="certificate ready" host=demo.hooks.test source=cache`, 30*time.Second)
		if after := ca.orders(); after != before {
			t.Errorf("pebble orders went from %d to %d across a restart", before, after)
		}
	})
}

func TestACMETLSALPNOnTheHTTPSListener(t *testing.T) {
	t.Parallel()
	httpsPort := freePort(t)
	// Pebble validates TLS-ALPN-01 on the edge's HTTPS port; HTTP-01 goes
	// nowhere, and the edge has no plain-HTTP listener to answer it.
	ca := startPebble(t, freePort(t), httpsPort)
	e := &tlsEdge{port: httpsPort, adminPort: freePort(t),
		data: filepath.Join(t.TempDir(), "data"), config: filepath.Join(t.TempDir(), "edge.yaml"),
		args: []string{"--tls", "acme", "--http-listen", "off", "--acme-directory", ca.directory, "--acme-ca-root", ca.serverCA}}
	os.WriteFile(e.config, []byte(edgeConfig(nil, "tunnels:\n  billing:\n    routes: [{path: /hook}]\n")), 0o600)
	e.startNoHTTP(t)
	// The configured tunnel's host is obtained at start, like the apex.
	for _, host := range []string{tlsDomain, "billing." + tlsDomain} {
		e.waitLog(t, `msg="certificate ready" host=`+strings.ReplaceAll(host, ".", `\.`)+` source=issued`, 60*time.Second)
		st, err := handshake(e.addr(), host, &tls.Config{RootCAs: ca.roots})
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if st.PeerCertificates[0].DNSNames[0] != host {
			t.Errorf("%s: certificate for %v", host, st.PeerCertificates[0].DNSNames)
		}
	}
	if strings.Contains(ca.stdout.String(), "Attempting to validate w/ HTTP") {
		t.Error("pebble tried HTTP-01; this edge should have been validated by TLS-ALPN-01 only")
	}
}

// startNoHTTP starts an edge whose args turn the plain-HTTP listener off.
func (e *tlsEdge) startNoHTTP(t *testing.T) {
	t.Helper()
	e.httpPort = "0"
	e.start(t)
}

func TestACMEFailureIsLoggedWithTheCAReasonAndBacksOff(t *testing.T) {
	t.Parallel()
	// Pebble validates on ports where nothing listens: every challenge fails.
	ca := startPebble(t, freePort(t), freePort(t))
	e := &tlsEdge{port: freePort(t), httpPort: freePort(t), adminPort: freePort(t),
		data: filepath.Join(t.TempDir(), "data"), config: filepath.Join(t.TempDir(), "edge.yaml"),
		args: []string{"--tls", "acme", "--acme-directory", ca.directory, "--acme-ca-root", ca.serverCA}}
	os.WriteFile(e.config, []byte(edgeConfig(nil, "")), 0o600)
	e.start(t)
	m := e.waitLog(t, `msg="certificate issuance failed" host=hooks\.test reason="((?:[^"\\]|\\.)*)" attempt=1 retry_in=1m0s`, 60*time.Second)
	for _, want := range []string{"tls-alpn-01: unauthorized: Failed to connect", "http-01: connection:", "connect: connection refused"} {
		if !strings.Contains(m[1], want) {
			t.Errorf("reason %q lacks the CA's %q", m[1], want)
		}
	}
	orders := ca.orders()
	for i := 0; i < 5; i++ {
		if _, err := handshake(e.addr(), tlsDomain, &tls.Config{RootCAs: ca.roots}); err == nil {
			t.Fatal("handshake succeeded without a certificate")
		}
	}
	if after := ca.orders(); after != orders {
		t.Errorf("handshakes during the backoff made %d new orders", after-orders)
	}
}

// TestACMECertificatesSharedByACluster: two edges on one PostgreSQL. Pebble
// validates HTTP-01 only at 127.0.0.1 (its DNS says so), where edge B
// listens; edge A, on 127.0.0.2, orders the tunnel's certificate, B answers
// the challenge from the shared cache, and B then serves what A obtained.
// Neither edge orders what the other has.
func TestACMECertificatesSharedByACluster(t *testing.T) {
	t.Parallel()
	httpPort := freePort(t)
	ca := startPebble(t, httpPort, freePort(t))
	tok := newToken("demo", true, "demo")
	url := pgtest.URL(t)
	secret := writeFile(t, "cluster.secret", clusterSecret)
	// startEdge starts an edge on host; a port another test took before
	// the edge bound it is replaced, unless it is Pebble's fixed one.
	startEdge := func(host, fixedHTTPPort string) *tlsEdge {
		for attempt := 1; ; attempt++ {
			e := &tlsEdge{host: host, port: freePort(t), httpPort: fixedHTTPPort, adminPort: freePort(t),
				data: filepath.Join(t.TempDir(), "data"), config: filepath.Join(t.TempDir(), "edge.yaml")}
			if e.httpPort == "" {
				e.httpPort = freePort(t)
			}
			e.args = []string{"--tls", "acme", "--acme-directory", ca.directory, "--acme-ca-root", ca.serverCA, "--acme-email", "ops@example.com",
				"--advertise", "https://" + e.addr()}
			os.WriteFile(e.config, []byte(edgeConfig([]agentToken{tok}, fmt.Sprintf("store: %s\ncluster:\n  secret: file:%s\n", url, secret))), 0o600)
			if e.launch(t, attempt < 3) {
				return e
			}
		}
	}
	b := startEdge("127.0.0.1", httpPort)
	b.waitLog(t, `msg="certificate ready" host=hooks.test source=issued`, 60*time.Second)
	a := startEdge("127.0.0.2", "")
	// A finds the apex's certificate B obtained: no order of its own.
	a.waitLog(t, `msg="certificate ready" host=hooks.test source=cache`, 60*time.Second)
	apexOrders := ca.orders()

	app := startApp(t)
	startTLSAgent(t, a, tok, app.port(), "--name", "demo", "--route", "POST /hook", "--edge-ca", ca.rootFile)
	a.waitLog(t, `msg="certificate ready" host=demo.hooks.test source=issued`, 60*time.Second)
	b.waitLog(t, `msg="ACME http-01 challenge" host=demo.hooks.test status=200`, 10*time.Second)
	fromA, err := handshake(a.addr(), "demo."+tlsDomain, &tls.Config{RootCAs: ca.roots})
	if err != nil {
		t.Fatal(err)
	}
	fromB, err := handshake(b.addr(), "demo."+tlsDomain, &tls.Config{RootCAs: ca.roots})
	if err != nil {
		t.Fatalf("B does not serve the tunnel's certificate A obtained: %v", err)
	}
	if sa, sb := fromA.PeerCertificates[0].SerialNumber, fromB.PeerCertificates[0].SerialNumber; sa.Cmp(sb) != 0 {
		t.Errorf("A serves serial %x, B serves %x: want one certificate for the cluster", sa, sb)
	}
	if strings.Contains(b.stderr.String(), `host=demo.hooks.test source=issued`) {
		t.Error("B ordered the tunnel's certificate A already had")
	}
	t.Logf("Pebble orders: %d for the apex (both edges), %d in all", apexOrders, ca.orders())
}
