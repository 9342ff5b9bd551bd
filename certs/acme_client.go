package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// acmeTransport carries the ACME client's requests. It does two things
// autocert cannot be asked to do:
//   - it ties every request to the ACME source's lifetime, so issuance
//     stops at shutdown (autocert runs issuance on its own 5-minute
//     context, out of the caller's reach);
//   - it keeps the CA's reason for a failed validation, which autocert
//     drops before it returns "no viable challenge type found".
type acmeTransport struct {
	base     http.RoundTripper
	lifetime context.Context
	reasons  *reasons
}

// maxObservedBody bounds what the transport reads to look for a failed
// authorization; ACME authorization objects are a few hundred bytes.
const maxObservedBody = 64 << 10

func (t *acmeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.lifetime.Err(); err != nil {
		return nil, fmt.Errorf("certs: ACME client stopped: %w", err)
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.lifetime, cancel)
	release := func() { stop(); cancel() }
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		release()
		return nil, err
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.ContentLength > maxObservedBody {
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxObservedBody+1))
	resp.Body.Close()
	release()
	if err != nil {
		return nil, err
	}
	if len(body) <= maxObservedBody {
		t.reasons.observe(body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// releasingBody ends the request's context when the body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// reasons keeps the latest validation failure the CA reported per host.
type reasons struct {
	mu     sync.Mutex
	byHost map[string]string
}

// observe looks for an invalid authorization in an ACME response body.
func (r *reasons) observe(body []byte) {
	var authz struct {
		Status     string `json:"status"`
		Identifier struct {
			Value string `json:"value"`
		} `json:"identifier"`
		Challenges []struct {
			Type  string `json:"type"`
			Error *struct {
				Type   string `json:"type"`
				Detail string `json:"detail"`
			} `json:"error"`
		} `json:"challenges"`
	}
	if json.Unmarshal(body, &authz) != nil || authz.Status != "invalid" || authz.Identifier.Value == "" {
		return
	}
	var parts []string
	for _, c := range authz.Challenges {
		if c.Error != nil {
			parts = append(parts, fmt.Sprintf("%s: %s: %s", c.Type, strings.TrimPrefix(c.Error.Type, "urn:ietf:params:acme:error:"), c.Error.Detail))
		}
	}
	if len(parts) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byHost == nil {
		r.byHost = map[string]string{}
	}
	host := NormalizeHost(authz.Identifier.Value)
	if prev := r.byHost[host]; prev != "" && !strings.Contains(prev, parts[0]) {
		parts = append([]string{prev}, parts...)
	}
	r.byHost[host] = strings.Join(parts, "; ")
}

// take returns and forgets what the CA said about host's validations.
func (r *reasons) take(host string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byHost[host]
	delete(r.byHost, host)
	return s
}

// acmeHTTPClient is the client for the ACME server: the system roots plus
// roots (a private ACME server's CA), bounded timeouts, and the transport
// above.
func acmeHTTPClient(roots *x509.CertPool, lifetime context.Context, r *reasons) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	base.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{
		Transport: &acmeTransport{base: base, lifetime: lifetime, reasons: r},
		Timeout:   time.Minute,
	}
}

// acmeRetryBackoff replaces the ACME client's default, which retries a
// rate-limited request for as long as autocert's context lasts and then
// reports a timeout instead of the CA's answer. Here a rate limit is
// returned at once (the source backs off for hours, not seconds); bad
// nonces and server errors are retried a few times, briefly.
func acmeRetryBackoff(n int, _ *http.Request, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests || n > 5 {
		return 0
	}
	return min(time.Duration(1<<max(n-1, 0))*500*time.Millisecond, 8*time.Second)
}

// rateLimited reports whether err is the CA's rate limit, and how long it
// asked to wait (0 when it did not say).
func rateLimited(err error) (time.Duration, bool) {
	var ae *acme.Error
	if errors.As(err, &ae) {
		return acme.RateLimit(ae)
	}
	return 0, false
}
