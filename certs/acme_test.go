package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// fakeClock is a time source the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestACME is an ACME source whose CA is issue; only "demo" and the
// apex are in its policy.
func newTestACME(t *testing.T, issue func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*ACME, *fakeClock, *logBuffer) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	log, logs := newLogger()
	a, err := NewACME(ACMEConfig{
		Cache:      t.TempDir(),
		Directory:  "https://ca.test/dir",
		HostPolicy: TunnelHosts("hooks.test", func(_ context.Context, name string) (bool, error) { return name == "demo", nil }),
		Logger:     log,
		Now:        clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.issue = issue
	return a, clock, logs
}

func testCert() *tls.Certificate { return &tls.Certificate{Certificate: [][]byte{{1}}} }

func TestACMEPolicyRefusesBeforeAnyIssuance(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	a, _, _ := newTestACME(t, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		return testCert(), nil
	})
	for _, sni := range []string{"random.hooks.test", "a.demo.hooks.test", "example.org", ""} {
		if _, err := a.GetCertificate(&tls.ClientHelloInfo{ServerName: sni}); err == nil {
			t.Errorf("SNI %q got a certificate", sni)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("the CA was asked %d times for hosts outside the policy", calls.Load())
	}
	if _, err := a.GetCertificate(helloFor("demo.hooks.test")); err != nil || calls.Load() != 1 {
		t.Fatalf("a known tunnel: %v after %d calls", err, calls.Load())
	}
}

func TestACMEChallengeHandshakesBypassPolicyAndBackoff(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	a, clock, _ := newTestACME(t, func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		if wantsChallengeCert(h) {
			return testCert(), nil
		}
		return nil, errors.New("down")
	})
	a.GetCertificate(helloFor("demo.hooks.test")) // fails: the host backs off
	if _, blocked := a.backoff.blocked("demo.hooks.test", clock.Now()); !blocked {
		t.Fatal("no backoff after a failure")
	}
	hello := &tls.ClientHelloInfo{ServerName: "demo.hooks.test", SupportedProtos: []string{acme.ALPNProto}}
	if _, err := a.GetCertificate(hello); err != nil {
		t.Fatalf("the CA's TLS-ALPN-01 validation was refused: %v", err)
	}
}

func TestACMEFailuresBackOffAndLogTheCAReason(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	type outcome struct{ err error }
	var fail atomic.Pointer[outcome]
	fail.Store(&outcome{})
	a, clock, logs := newTestACME(t, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		if err := fail.Load().err; err != nil {
			return nil, err
		}
		return testCert(), nil
	})
	host := "demo.hooks.test"
	get := func() error { _, err := a.GetCertificate(helloFor(host)); return err }

	// A failed validation: autocert says little, the CA said why.
	fail.Store(&outcome{errors.New("acme/autocert: unable to satisfy \"https://ca.test/authz/1\" for domain \"demo.hooks.test\": no viable challenge type found")})
	a.reasons.observe([]byte(`{"status":"invalid","identifier":{"type":"dns","value":"demo.hooks.test"},
		"challenges":[{"type":"http-01","status":"invalid","error":{"type":"urn:ietf:params:acme:error:connection","detail":"203.0.113.7: Fetching http://demo.hooks.test/.well-known/acme-challenge/x: Connection refused"}}]}`))
	if err := get(); err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(logs.String(), `msg="certificate issuance failed" host=demo.hooks.test reason="http-01: connection: 203.0.113.7: Fetching`) ||
		!strings.Contains(logs.String(), "retry_in=1m0s") {
		t.Fatalf("the failure log lacks the host, the CA's reason or the delay:\n%s", logs.String())
	}
	for i := 0; i < 5; i++ {
		if err := get(); !errors.Is(err, ErrBackingOff) {
			t.Fatalf("retry %d during the backoff: %v", i, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("the CA was asked %d times during the backoff, want once", calls.Load())
	}
	clock.advance(time.Minute)
	get() // second failure: three minutes now
	if calls.Load() != 2 || !strings.Contains(logs.String(), "attempt=2 retry_in=3m0s") {
		t.Fatalf("calls %d, log:\n%s", calls.Load(), logs.String())
	}

	// A rate limit waits what the CA asked for.
	clock.advance(3 * time.Minute)
	fail.Store(&outcome{&acme.Error{StatusCode: 429, ProblemType: "urn:ietf:params:acme:error:rateLimited",
		Detail: "too many certificates already issued", Header: http.Header{"Retry-After": {"7200"}}}})
	get()
	if !strings.Contains(logs.String(), "rate_limited=true ca_retry_after=2h0m0s") || !strings.Contains(logs.String(), "too many certificates already issued") {
		t.Fatalf("rate limit not logged:\n%s", logs.String())
	}
	clock.advance(time.Hour + 59*time.Minute)
	if err := get(); !errors.Is(err, ErrBackingOff) {
		t.Fatalf("asked the CA again before its Retry-After: %v", err)
	}
	clock.advance(2 * time.Minute)
	fail.Store(&outcome{})
	if err := get(); err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
	if calls.Load() != 4 || !strings.Contains(logs.String(), `msg="certificate issuance recovered" host=demo.hooks.test`) {
		t.Fatalf("calls %d, log:\n%s", calls.Load(), logs.String())
	}
}

func TestACMEConcurrentHandshakesShareOneAttempt(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int32
	a, _, logs := newTestACME(t, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		<-release
		return nil, errors.New("validation failed")
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.GetCertificate(helloFor("demo.hooks.test"))
			errs <- err
		}()
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Error("a handshake got a certificate from a failed attempt")
		}
	}
	if n := strings.Count(logs.String(), "certificate issuance failed"); calls.Load() != 1 || n != 1 {
		t.Fatalf("%d attempts and %d failure logs for one host, want 1 and 1", calls.Load(), n)
	}
}

func TestACMEBackoffSchedule(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 3 * time.Minute, 3: 9 * time.Minute, 5: 81 * time.Minute, 6: 4*time.Hour + 3*time.Minute, 7: 6 * time.Hour, 40: 6 * time.Hour} {
		if got := backoffDelay(n); got != want {
			t.Errorf("backoffDelay(%d) = %s, want %s", n, got, want)
		}
	}
	if d := acmeRetryBackoff(1, nil, &http.Response{StatusCode: http.StatusTooManyRequests}); d != 0 {
		t.Errorf("the ACME client retries a rate limit after %s; it must hand it back at once", d)
	}
	if d := acmeRetryBackoff(1, nil, &http.Response{StatusCode: http.StatusBadRequest}); d <= 0 {
		t.Error("a bad nonce is not retried")
	}
	if d := acmeRetryBackoff(6, nil, &http.Response{StatusCode: http.StatusServiceUnavailable}); d != 0 {
		t.Error("server errors are retried forever")
	}
}

func TestACMEObtainRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	issued := make(chan string, 4)
	a, _, logs := newTestACME(t, func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		issued <- h.ServerName
		return testCert(), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	a.Obtain("Demo.Hooks.Test.")
	a.Obtain("random.hooks.test") // outside the policy: never issued
	select {
	case host := <-issued:
		if host != "demo.hooks.test" {
			t.Fatalf("issued %q", host)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Obtain did not lead to an issuance")
	}
	waitFor(t, func() bool {
		return strings.Contains(logs.String(), `msg="certificate ready" host=demo.hooks.test source=issued`)
	})
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if len(issued) != 0 {
		t.Errorf("issued %q outside the policy", <-issued)
	}
}

func TestACMETransportStopsWithTheSource(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // a CA that never answers
	}))
	t.Cleanup(srv.Close)
	lifetime, stop := context.WithCancel(context.Background())
	c := acmeHTTPClient(nil, lifetime, &reasons{})
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	stop()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the request outlived the source")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request to the CA kept going after the source stopped")
	}
	if _, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "ACME client stopped") {
		t.Fatalf("a request after the stop: %v", err)
	}
}

func TestACMEConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  ACMEConfig
		want string
	}{
		{ACMEConfig{Cache: "c", Directory: "http://ca.example/dir"}, `directory: "http://ca.example/dir" is not an https:// URL`},
		{ACMEConfig{Cache: "c", Email: "ops"}, `email: "ops" is not an email address`},
		{ACMEConfig{Cache: "c", CARoot: "/nonexistent.pem"}, "ca_root: /nonexistent.pem: no such file or directory"},
		{ACMEConfig{}, "cache: is required"},
	} {
		if err := tc.cfg.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestACMECacheIsPerCA(t *testing.T) {
	t.Parallel()
	for dir, want := range map[string]string{
		"":                          "/var/lib/hooktunnel/certs/acme-v02.api.letsencrypt.org",
		LetsEncryptStaging:          "/var/lib/hooktunnel/certs/acme-staging-v02.api.letsencrypt.org",
		"https://127.0.0.1:14000/d": "/var/lib/hooktunnel/certs/127.0.0.1_14000",
	} {
		if got := (ACMEConfig{Cache: "/var/lib/hooktunnel/certs", Directory: dir}).CacheDir(); got != want {
			t.Errorf("CacheDir for %q = %s, want %s", dir, got, want)
		}
	}
}
