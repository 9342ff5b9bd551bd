package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestPathTricksNeverReachTheApp: request targets that an app behind the
// tunnel could read as another path than the edge matched (Tomcat and
// Spring drop ";" parameters from segments, so "/hooks/..;/admin" is
// "/admin" to them; Windows servers read "\" as "/") are refused with 400
// before they reach the agent. They go over a raw connection so the edge
// sees them exactly as written.
func TestPathTricksNeverReachTheApp(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "demo", "--route", "/hooks/")
	tests := []struct{ name, target string }{
		{name: "dot-dot with a path parameter", target: "/hooks/..;/admin"},
		{name: "dot-dot with a named path parameter", target: "/hooks/..;jsessionid=x/admin"},
		{name: "dot with a path parameter", target: "/hooks/.;x/admin"},
		{name: "empty segment with a path parameter", target: "/hooks/;x/admin"},
		{name: "encoded dot-dot with an encoded semicolon", target: "/hooks/%2e%2e%3b/admin"},
		{name: "backslash", target: `/hooks/..\admin`},
		{name: "encoded backslash", target: "/hooks/%5c..%5cadmin"},
		{name: "encoded backslash, upper case", target: "/hooks/%5C..%5Cadmin"},
		{name: "encoded dot-dot", target: "/hooks/%2e%2e/admin"},
		{name: "dot-dot and an encoded slash", target: "/hooks/..%2fadmin"},
		{name: "encoded NUL", target: "/hooks/x%00/admin"},
		{name: "overlong UTF-8 dots", target: "/hooks/%c0%ae%c0%ae/admin"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("badpath-%d", i)
			status, body := rawPost(t, e, "demo", tc.target, id)
			var ref refusalBody
			if err := json.Unmarshal(body, &ref); err != nil || status != http.StatusBadRequest || ref.Error != "bad_path" {
				t.Errorf("POST %s answered %d %q, want 400 bad_path", tc.target, status, body)
			}
			if a.sawID(id) {
				t.Errorf("POST %s reached the app", tc.target)
			}
		})
	}
	// The same road with a plain path does reach the app: the refusals above
	// are the path's doing.
	if status, body := rawPost(t, e, "demo", "/hooks/admin;v=1", "badpath-control"); status != http.StatusOK || !a.sawID("badpath-control") {
		t.Fatalf("a plain path answered %d %q and reached the app: %v", status, body, a.sawID("badpath-control"))
	}
}

// rawPost sends "POST target" to tunnel name over a fresh connection,
// byte for byte, and returns the status and body of the answer.
func rawPost(t *testing.T, e *edgeProc, name, target, id string) (int, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+e.port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s.localhost:%s\r\nX-Test-Id: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		target, name, e.port, id)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, body
}
