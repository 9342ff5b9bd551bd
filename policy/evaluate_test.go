package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func signGitHub(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func newReq(method, rawURL string, body []byte, from string, headers ...string) *Request {
	u, _ := url.Parse(rawURL)
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &Request{Method: method, URL: u, Header: h, Body: body, RemoteAddr: netip.MustParseAddr(from)}
}

func TestAdmitAndVerify(t *testing.T) {
	t.Setenv("POLICY_TEST_GH_NEW", "new-secret")
	t.Setenv("POLICY_TEST_GH_OLD", "old-secret")
	t.Setenv("POLICY_TEST_TOKEN", "tok-123")
	cache := NewMemoryReplayCache(100)
	p, err := Config{
		AllowIPs: []string{"10.0.0.0/8", "203.0.113.7"},
		Routes: []RouteConfig{
			{Path: "/gh", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"env:POLICY_TEST_GH_NEW", "env:POLICY_TEST_GH_OLD"}}},
			{Path: "/tok", Token: &TokenConfig{Query: "t", Secrets: []string{"env:POLICY_TEST_TOKEN"}}},
			{Path: "/only-one", AllowIPs: []string{"10.1.1.1"}},
			{Path: "/rate", Rate: &RateConfig{PerIP: "1/s", Burst: 1}},
		},
	}.CompileEnv(Env{Replay: cache, Scope: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name       string
		req        *Request
		wantErr    error
		wantSecret string
	}{
		{"new secret", newReq("POST", "https://h/gh", body, "10.0.0.1", "X-Hub-Signature-256", signGitHub("new-secret", body), "X-GitHub-Delivery", "a"), nil, "env:POLICY_TEST_GH_NEW"},
		{"old secret", newReq("POST", "https://h/gh", body, "10.0.0.1", "X-Hub-Signature-256", signGitHub("old-secret", body), "X-GitHub-Delivery", "b"), nil, "env:POLICY_TEST_GH_OLD"},
		{"wrong secret", newReq("POST", "https://h/gh", body, "10.0.0.1", "X-Hub-Signature-256", signGitHub("nope", body), "X-GitHub-Delivery", "c"), ErrBadSignature, ""},
		{"address outside the tunnel list", newReq("POST", "https://h/gh", body, "192.0.2.1"), ErrIPNotAllowed, ""},
		{"single address allowed", newReq("POST", "https://h/tok?t=tok-123", nil, "203.0.113.7"), nil, ""},
		{"address outside the route list", newReq("POST", "https://h/only-one", nil, "10.0.0.1"), ErrIPNotAllowed, ""},
		{"token missing", newReq("POST", "https://h/tok", nil, "10.0.0.1"), ErrTokenMissing, ""},
		{"token wrong", newReq("POST", "https://h/tok?t=tok-124", nil, "10.0.0.1"), ErrBadToken, ""},
		{"IPv4-mapped IPv6 address", newReq("POST", "https://h/tok?t=tok-123", nil, "::ffff:10.0.0.1"), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Admit(tc.req, now)
			p.Verify(&d, tc.req, now)
			p.Abandon(d) // rows share a body: each leaves the cache as it found it
			if !errors.Is(d.Err, tc.wantErr) || (tc.wantErr == nil && d.Err != nil) {
				t.Fatalf("decision error = %v, want %v", d.Err, tc.wantErr)
			}
			if d.SecretRef != tc.wantSecret {
				t.Errorf("secret = %q, want %q", d.SecretRef, tc.wantSecret)
			}
			if d.Err != nil && (strings.Contains(d.Err.Error(), "secret-") || strings.Contains(d.Err.Error(), "tok-12")) {
				t.Errorf("refusal leaks a secret: %v", d.Err)
			}
		})
	}

	t.Run("duplicate only after a 2xx", func(t *testing.T) {
		req := newReq("POST", "https://h/gh", body, "10.0.0.1", "X-Hub-Signature-256", signGitHub("new-secret", body), "X-GitHub-Delivery", "dup")
		d := p.Admit(req, now)
		p.Verify(&d, req, now)
		p.Delivered(d, 500, now) // the app failed: the provider may retry
		d = p.Admit(req, now)
		p.Verify(&d, req, now)
		if d.Err != nil {
			t.Fatalf("a retry after a failure was refused: %v", d.Err)
		}
		p.Delivered(d, 204, now)
		d = p.Admit(req, now)
		p.Verify(&d, req, now)
		if !errors.Is(d.Err, ErrDuplicate) {
			t.Fatalf("a replay after a 2xx = %v, want ErrDuplicate", d.Err)
		}
	})

	t.Run("rate per address", func(t *testing.T) {
		req := newReq("POST", "https://h/rate", nil, "10.9.9.9")
		if d := p.Admit(req, now); d.Err != nil {
			t.Fatalf("first request refused: %v", d.Err)
		}
		d := p.Admit(req, now)
		if !errors.Is(d.Err, ErrRateLimited) || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
			t.Fatalf("second request: %v, retry after %s", d.Err, d.RetryAfter)
		}
		if d := p.Admit(newReq("POST", "https://h/rate", nil, "10.9.9.8"), now); d.Err != nil {
			t.Errorf("another address was limited too: %v", d.Err)
		}
		if d := p.Admit(req, now.Add(time.Second)); d.Err != nil {
			t.Errorf("a second later the bucket is not refilled: %v", d.Err)
		}
	})
}

func TestCompileErrorsNameTheField(t *testing.T) {
	t.Setenv("POLICY_TEST_EMPTY", "")
	tests := []struct {
		name  string
		route RouteConfig
		field string
	}{
		{"unknown provider", RouteConfig{Path: "/a", Verify: &VerifyConfig{Provider: "gitbub", Secrets: []string{"x"}}}, "routes[0].verify.provider"},
		{"no secret", RouteConfig{Path: "/a", Verify: &VerifyConfig{Provider: "github"}}, "routes[0].verify.secrets"},
		{"empty env secret", RouteConfig{Path: "/a", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"env:POLICY_TEST_EMPTY"}}}, "routes[0].verify.secrets[0]"},
		{"unset env secret", RouteConfig{Path: "/a", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"env:POLICY_TEST_UNSET_X"}}}, "routes[0].verify.secrets[0]"},
		{"bad CIDR", RouteConfig{Path: "/a", AllowIPs: []string{"10.0.0.0/33"}}, "routes[0].allow_ips[0]"},
		{"unknown list", RouteConfig{Path: "/a", AllowIPs: []string{"10.0.0.1", "gitlab-ish"}}, "routes[0].allow_ips[1]"},
		{"bad rate", RouteConfig{Path: "/a", Rate: &RateConfig{PerIP: "10 per second"}}, "routes[0].rate.per_ip"},
		{"token without secret", RouteConfig{Path: "/a", Token: &TokenConfig{Query: "t"}}, "routes[0].token.secrets"},
		{"tolerance without verify", RouteConfig{Path: "/a", Tolerance: time.Minute}, "routes[0].tolerance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Config{Routes: []RouteConfig{tc.route}}.Compile()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error = %v, want field %s", err, tc.field)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, _ := ParsePrefixes([]string{"10.0.0.0/8", "192.168.1.1"})
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: its own address", "198.51.100.1", []string{"1.2.3.4"}, "198.51.100.1"},
		{"trusted peer: the right-most untrusted", "10.0.0.5", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", "10.0.0.5", []string{"203.0.113.9, 192.168.1.1", "10.2.2.2"}, "203.0.113.9"},
		{"forged left-most is ignored", "10.0.0.5", []string{"127.0.0.1, 203.0.113.9"}, "203.0.113.9"},
		{"garbage stops the walk", "10.0.0.5", []string{"203.0.113.9, not-an-ip"}, "10.0.0.5"},
		{"no header", "10.0.0.5", nil, "10.0.0.5"},
	}
	for _, tc := range tests {
		got := ClientIP(netip.MustParseAddr(tc.peer), tc.xff, trusted)
		if got.String() != tc.want {
			t.Errorf("%s: ClientIP = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ByteSize{"25MiB": 25 << 20, "10KiB": 10 << 10, "1MB": 1_000_000, "4096": 4096, "1.5KiB": 1536} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ten", "-1", "5XB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
}

func TestResolveSecretsForDeclaring(t *testing.T) {
	t.Setenv("POLICY_TEST_DECLARED", "s3cr3t")
	c, err := Config{Routes: []RouteConfig{{Path: "/a", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"env:POLICY_TEST_DECLARED", "literal-one"}}}}}.ResolveSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Routes[0].Verify.Secrets; got[0] != "s3cr3t" || got[1] != "literal-one" {
		t.Errorf("resolved = %v", got)
	}
}

// BenchmarkEvaluate is the cost policy adds to a request: route match,
// allowlist, and a GitHub signature over a 1 KiB and a 1 MiB body.
func BenchmarkEvaluate(b *testing.B) {
	b.Setenv("POLICY_BENCH_GH", "bench-secret")
	p, err := Config{Routes: []RouteConfig{{Path: "/gh", AllowIPs: []string{"10.0.0.0/8"},
		Verify: &VerifyConfig{Provider: "github", Secrets: []string{"env:POLICY_BENCH_GH"}}}}}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 1 << 20} {
		body := []byte(strings.Repeat("x", size))
		req := newReq("POST", "https://h/gh", body, "10.0.0.1", "X-Hub-Signature-256", signGitHub("bench-secret", body))
		b.Run(fmt.Sprintf("github-%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			now := time.Now()
			for b.Loop() {
				d := p.Admit(req, now)
				p.Verify(&d, req, now)
				if d.Err != nil {
					b.Fatal(d.Err)
				}
			}
		})
	}
}

// The edge's own signature of the edge → app hop must pass the
// standard-webhooks verifier an app would use.
func TestSignStandardWebhookVerifies(t *testing.T) {
	t.Parallel()
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := DecodeWebhookSecret([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifyConfig{Provider: "standard-webhooks"}, []Secret{{Ref: "k", Value: []byte(secret)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	req := newReq("POST", "http://app/x", body, "127.0.0.1", "webhook-id", "msg_1", "webhook-timestamp", "1700000000",
		"webhook-signature", SignStandardWebhook(key, "msg_1", now, body))
	if _, err := v.Verify(req, now); err != nil {
		t.Fatalf("the edge's signature does not verify: %v", err)
	}
}
