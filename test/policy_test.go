package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	ghNew     = "gh-secret-new-0123456789"
	ghOld     = "gh-secret-old-9876543210"
	stripeKey = "whsec_test_secret_abcdef"
	slackKey  = "8f742231b10e8888abcd99yyyzzz85a5"
	hookToken = "static-url-token-7f3a9c"
)

const policyEdgeConfig = `
tunnels:
  hooks:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW, env:HT_GH_OLD]}
      - path: /stripe
        verify: {provider: stripe, secrets: [env:HT_STRIPE]}
      - path: /slack
        verify: {provider: slack, secrets: [env:HT_SLACK]}
      - path: /generated
        token: generate
      - path: /static
        token: {query: key, header: X-Hook-Token, secrets: [env:HT_TOKEN]}
      - path: /ip
        allow_ips: [203.0.113.0/24]
      - path: /limited
        rate: {per_ip: 1/m, burst: 2}
      - path: /small
        max_body: 1KiB
`

func githubSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestPolicyThroughTheEdge(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	t.Setenv("HT_GH_OLD", ghOld)
	t.Setenv("HT_STRIPE", stripeKey)
	t.Setenv("HT_SLACK", slackKey)
	t.Setenv("HT_TOKEN", hookToken)
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, policyEdgeConfig))
	a := startApp(t)
	agent := startAgent(t, e, tok, a.port(), "--name", "hooks")
	c := e.client(20 * time.Second)

	// token: generate — the agent prints the full URL with the token.
	var generated string
	for _, f := range strings.Fields(agent.stdout.String()) {
		if strings.Contains(f, "/generated?token=") {
			generated = f
		}
	}
	if generated == "" {
		t.Fatalf("the agent printed no URL with the generated token:\n%s", agent.stdout.String())
	}
	genURL, _ := url.Parse(generated)
	genToken := genURL.Query().Get("token")

	body := []byte(`{"action":"opened","number":1}`)
	bodyOld := []byte(`{"action":"opened","number":2}`) // another delivery: the same body would be a duplicate
	now := time.Now().Unix()
	stripeSig := func(ts int64, payload []byte) string {
		m := hmac.New(sha256.New, []byte(stripeKey))
		fmt.Fprintf(m, "%d.%s", ts, payload)
		return fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(m.Sum(nil)))
	}
	slackBody := []byte(`{"type":"url_verification","token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`)
	slackSig := func(ts int64) string {
		m := hmac.New(sha256.New, []byte(slackKey))
		fmt.Fprintf(m, "v0:%d:%s", ts, slackBody)
		return "v0=" + hex.EncodeToString(m.Sum(nil))
	}
	type header = [2]string
	tests := []struct {
		name       string
		path       string
		body       []byte
		headers    []header
		wantStatus int
		wantError  string
		check      func(t *testing.T, resp *http.Response, raw []byte)
	}{
		{name: "github signed with the new secret", path: "/github", body: body,
			headers: []header{{"X-Hub-Signature-256", githubSign(ghNew, body)}, {"X-GitHub-Delivery", "d-1"}}, wantStatus: 200},
		{name: "github replayed delivery", path: "/github", body: body,
			headers: []header{{"X-Hub-Signature-256", githubSign(ghNew, body)}, {"X-GitHub-Delivery", "d-1"}}, wantStatus: 200,
			check: func(t *testing.T, resp *http.Response, raw []byte) {
				if resp.Header.Get("Hooktunnel-Duplicate") != "true" {
					t.Errorf("a replayed delivery was not marked duplicate: %s", raw)
				}
			}},
		{name: "github signed with the old secret", path: "/github", body: bodyOld,
			headers: []header{{"X-Hub-Signature-256", githubSign(ghOld, bodyOld)}, {"X-GitHub-Delivery", "d-2"}}, wantStatus: 200,
			check: func(t *testing.T, resp *http.Response, raw []byte) {
				if resp.Header.Get("Hooktunnel-Duplicate") != "" {
					t.Errorf("another delivery was taken for a duplicate: %s", raw)
				}
			}},
		{name: "github tampered body", path: "/github", body: append([]byte(" "), body...),
			headers: []header{{"X-Hub-Signature-256", githubSign(ghNew, body)}, {"X-GitHub-Delivery", "d-3"}}, wantStatus: 401, wantError: "bad_signature"},
		{name: "github unsigned", path: "/github", body: body, wantStatus: 401, wantError: "signature_missing",
			check: func(t *testing.T, _ *http.Response, raw []byte) {
				if !strings.Contains(string(raw), "X-Hub-Signature-256") {
					t.Errorf("the refusal does not name the missing header: %s", raw)
				}
			}},
		{name: "stripe fresh", path: "/stripe", body: body, headers: []header{{"Stripe-Signature", stripeSig(now, body)}}, wantStatus: 200},
		{name: "stripe stale", path: "/stripe", body: body, headers: []header{{"Stripe-Signature", stripeSig(now-3600, body)}}, wantStatus: 401, wantError: "stale_timestamp"},
		{name: "stripe from the future", path: "/stripe", body: body, headers: []header{{"Stripe-Signature", stripeSig(now+3600, body)}}, wantStatus: 401, wantError: "future_timestamp"},
		// stripe-go and stripe-node find no v1 in " v1=": nor does the edge.
		{name: "stripe with a space after the comma", path: "/stripe", body: body,
			headers: []header{{"Stripe-Signature", strings.Replace(stripeSig(now, body), ",v1=", ", v1=", 1)}}, wantStatus: 401, wantError: "signature_missing"},
		{name: "slack url_verification answered", path: "/slack", body: slackBody,
			headers: []header{{"X-Slack-Signature", slackSig(now)}, {"X-Slack-Request-Timestamp", strconv.FormatInt(now, 10)}}, wantStatus: 200,
			check: func(t *testing.T, _ *http.Response, raw []byte) {
				if !strings.Contains(string(raw), "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") {
					t.Errorf("the Slack challenge was not answered: %s", raw)
				}
			}},
		{name: "generated token", path: "/generated?token=" + genToken + "&keep=1", wantStatus: 200,
			check: func(t *testing.T, resp *http.Response, raw []byte) {
				var echo appEcho
				json.Unmarshal(raw, &echo)
				if echo.Query != "keep=1" {
					t.Errorf("the app saw query %q; the token must be stripped, the rest kept", echo.Query)
				}
			}},
		{name: "generated token missing", path: "/generated", wantStatus: 401, wantError: "token_missing"},
		{name: "generated token wrong", path: "/generated?token=nope", wantStatus: 401, wantError: "bad_token"},
		{name: "static token in the header", path: "/static", headers: []header{{"X-Hook-Token", hookToken}}, wantStatus: 200,
			check: func(t *testing.T, _ *http.Response, raw []byte) {
				var echo appEcho
				json.Unmarshal(raw, &echo)
				if echo.Header.Get("X-Hook-Token") != "" {
					t.Error("the app got the token header")
				}
			}},
		{name: "static token in the query", path: "/static?key=" + hookToken, wantStatus: 200},
		{name: "address not allowed", path: "/ip", wantStatus: 403, wantError: "ip_not_allowed"},
		{name: "rate 1", path: "/limited", wantStatus: 200},
		{name: "rate 2", path: "/limited", wantStatus: 200},
		{name: "rate 3 refused", path: "/limited", wantStatus: 429, wantError: "rate_limited",
			check: func(t *testing.T, resp *http.Response, _ []byte) {
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 61 {
					t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
				}
			}},
		{name: "small body", path: "/small", body: []byte(strings.Repeat("x", 1024)), wantStatus: 200},
		{name: "body over max_body", path: "/small", body: []byte(strings.Repeat("x", 1025)), wantStatus: 413, wantError: "body_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.hookURL("hooks", tc.path), strings.NewReader(string(tc.body)))
			for _, h := range tc.headers {
				req.Header.Set(h[0], h[1])
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, raw)
			}
			if tc.wantError != "" {
				var r refusalBody
				if json.Unmarshal(raw, &r) != nil || r.Error != tc.wantError || r.Message == "" {
					t.Errorf("refusal %s, want error %q", raw, tc.wantError)
				}
			}
			for _, secret := range []string{ghNew, ghOld, stripeKey, slackKey, hookToken, genToken} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("the answer contains a secret: %s", raw)
				}
			}
			if tc.check != nil {
				tc.check(t, resp, raw)
			}
		})
	}
	logs := e.stderr.String()
	if !strings.Contains(logs, "secret=env:HT_GH_OLD") {
		t.Error("the edge log does not say the old GitHub secret matched")
	}
	for _, secret := range []string{ghNew, ghOld, stripeKey, slackKey, hookToken, genToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the edge log contains a secret (%.6s…)", secret)
		}
	}
}
