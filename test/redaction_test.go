package test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// A request refused before its route admits it (a wrong method, a rate
// limit, an allowlist, a duplicated token parameter) used to be journaled
// with the route's URL or header token in clear, for anyone with the API
// to read. No refused or forwarded request may leave a token in the
// journal.
func TestTokensNeverReachTheJournal(t *testing.T) {
	const urlToken, headerToken = "GOOD-url-token-4f1e", "GOOD-header-token-9c2a"
	tok := newToken("tok", false, "tok")
	app := startApp(t)
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  tok:
    routes:
      - path: /q
        methods: [POST]
        token: {query: key, secrets: [`+urlToken+`]}
        rate: {per_ip: 1/m, burst: 2}
      - path: /h
        methods: [POST]
        token: {header: X-Hook-Auth, secrets: [`+headerToken+`]}
      - path: /ip
        methods: [POST]
        allow_ips: [192.0.2.0/24]
        token: {query: key, secrets: [`+urlToken+`]}
`))
	startAgent(t, e, tok, app.port(), "--name", "tok")
	c := e.client(10 * time.Second)
	send := func(method, path, query string, header http.Header) int {
		t.Helper()
		req, _ := http.NewRequest(method, e.hookURL("tok", path)+"?"+query, strings.NewReader("{}"))
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	hdr := http.Header{"X-Hook-Auth": {headerToken}}
	cases := []struct {
		name, method, path, query string
		header                    http.Header
		want                      int
	}{
		{"forwarded", "POST", "/q", "key=" + urlToken, nil, 200},
		{"forwarded by header", "POST", "/h", "", hdr, 200},
		// Admitted by /q's URL token, carrying /h's header token too: the
		// route that admitted it must not unmask another route's token.
		{"another route's token", "POST", "/q", "key=" + urlToken, hdr, 200},
		{"wrong method", "PUT", "/q", "key=" + urlToken, hdr, 405},
		{"duplicated parameter", "POST", "/q", "key=bad&key=" + urlToken, nil, 401},
		{"allowlist", "POST", "/ip", "key=" + urlToken, hdr, 403},
		{"no route", "POST", "/nowhere", "key=" + urlToken + "&token=" + urlToken, hdr, 404},
		{"rate limited", "POST", "/q", "key=" + urlToken, nil, 429},
	}
	for _, tc := range cases {
		if got := send(tc.method, tc.path, tc.query, tc.header); got != tc.want {
			// The rate limit needs a few tries to trip.
			for i := 0; got != tc.want && tc.want == 429 && i < 5; i++ {
				got = send(tc.method, tc.path, tc.query, tc.header)
			}
			if got != tc.want {
				t.Fatalf("%s: status %d, want %d", tc.name, got, tc.want)
			}
		}
	}
	for _, status := range []int{405, 401, 403, 404, 429, 200} {
		e.waitMessage(t, "tunnel=tok", func(m store.Message) bool { return m.Status == status })
	}
	msgs := e.messages(t, "tunnel=tok&limit=200")
	for _, m := range msgs {
		var full json.RawMessage
		e.adminGet(t, "/api/v1/messages/"+m.ID, &full)
		for _, secret := range []string{urlToken, headerToken} {
			if strings.Contains(string(full), secret) {
				t.Errorf("message %s (%s %s, %d %s) holds a token in clear: %s", m.ID, m.Method, m.Path, m.Status, m.Reason, full)
			}
		}
	}
	if len(msgs) < len(cases) {
		t.Fatalf("journal has %d messages, want at least %d", len(msgs), len(cases))
	}
}
