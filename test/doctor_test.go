package test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// doctorRun is one finished `hooktunnel doctor`.
type doctorRun struct {
	code           int
	stdout, stderr string
}

// runDoctor runs `hooktunnel doctor args...` to the end, with env added
// to the test's environment. The pure-Go resolver is forced so a name
// under .onion fails without a DNS query leaving the machine (RFC 7686).
func runDoctor(t *testing.T, env []string, args ...string) doctorRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"doctor"}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1", "GODEBUG=netdns=go", "HOOKTUNNEL_TOKEN=")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("doctor did not finish within 90s:\n%s\n%s", stdout.String(), stderr.String())
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("doctor: %v", err)
	}
	if strings.Contains(stderr.String(), "DATA RACE") {
		t.Errorf("doctor: data race:\n%s", stderr.String())
	}
	return doctorRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// checkDoctor asserts the exit code and that every wanted line prefix
// appears at the start of an output line.
func checkDoctor(t *testing.T, r doctorRun, wantCode int, want ...string) {
	t.Helper()
	if r.code != wantCode {
		t.Errorf("exit code %d, want %d", r.code, wantCode)
	}
	lines := strings.Split(r.stdout, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line starts with %q", w)
		}
	}
	if t.Failed() {
		t.Logf("doctor stdout:\n%s\ndoctor stderr:\n%s", r.stdout, r.stderr)
	}
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	app := startApp(t)
	down := freePort(t) // nothing listens there
	edge := []string{"--edge", e.url()}
	oneTunnel := writeFile(t, "one.yaml", "tunnels:\n  - name: demo\n    target: "+app.port()+"\n    routes: [{path: /hook}]\n")
	twoTunnels := writeFile(t, "two.yaml", "tunnels:\n  - {name: demo, target: "+app.port()+"}\n  - {name: other, target: "+app.port()+"}\n")
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{
			name: "everything answers",
			env:  []string{"HOOKTUNNEL_TOKEN=" + tok.token},
			args: append([]string{app.port(), "--name", "demo", "--route", "/hook"}, edge...),
			code: 0,
			want: []string{
				"ok    resolve: localhost is a loopback name (RFC 6761)",
				"ok    connect: 127.0.0.1:" + e.port + " accepted a connection",
				"skip  tls: http:// edge URL",
				"ok    edge: token accepted; tunnel demo: " + e.hookURL("demo", "/hook"),
				"ok    target: http://127.0.0.1:" + app.port() + " answered 200 OK",
				"ok    clock: within",
				"All checks passed.",
			},
		},
		{
			name: "bad token",
			args: append([]string{app.port(), "--token", "ht_not_a_token_of_this_edge"}, edge...),
			code: 1,
			want: []string{
				"FAIL  edge: the edge refused the agent (bad_token): the token is not valid on this edge",
				"fix: check HOOKTUNNEL_TOKEN/--token",
				"ok    target:",
			},
		},
		{
			name: "name not granted",
			args: append([]string{app.port(), "--token", tok.token, "--name", "other"}, edge...),
			code: 1,
			want: []string{
				"FAIL  edge: the edge refused the agent (name_not_granted): the token does not grant tunnel other",
				"fix: pass a --name the token grants",
			},
		},
		{
			name: "tunnels from the policy file",
			args: append([]string{"--token", tok.token, "--policy", oneTunnel}, edge...),
			code: 0,
			want: []string{"ok    edge: token accepted; tunnel demo: " + e.hookURL("demo", "/hook")},
		},
		{
			name: "one of the file's tunnels not granted",
			args: append([]string{"--token", tok.token, "--policy", twoTunnels}, edge...),
			code: 1,
			want: []string{"FAIL  edge: the edge refused the agent (name_not_granted): the token does not grant tunnel other"},
		},
		{
			name: "no token",
			args: append([]string{app.port()}, edge...),
			code: 1,
			want: []string{"FAIL  edge: no token", "fix: pass --token or set HOOKTUNNEL_TOKEN"},
		},
		{
			name: "app down",
			args: append([]string{down, "--token", tok.token, "--name", "demo", "--route", "/hook"}, edge...),
			code: 1,
			want: []string{
				"ok    edge: token accepted",
				"FAIL  target: nothing listens on 127.0.0.1:" + down + " (connection refused)",
				"fix: start your app",
			},
		},
		{
			name: "unknown host",
			args: []string{app.port(), "--token", tok.token, "--edge", "https://no-such-edge.onion"},
			code: 1,
			want: []string{
				"FAIL  resolve: no-such-edge.onion does not resolve (no such host)",
				"fix: check the spelling of --edge",
				"skip  connect:",
				"skip  tls:",
				"skip  edge:",
				"skip  clock:",
			},
		},
		{
			name: "edge port closed",
			args: []string{"--token", tok.token, "--edge", "http://127.0.0.1:" + down},
			code: 1,
			want: []string{
				"ok    resolve: 127.0.0.1 is an IP address",
				"FAIL  connect: nothing listens on 127.0.0.1:" + down + " (connection refused)",
				"skip  target: no PORT given",
			},
		},
		{
			name: "not an edge",
			args: []string{app.port(), "--token", tok.token, "--edge", "http://127.0.0.1:" + app.port()},
			code: 1,
			want: []string{"FAIL  edge: tunnel: ws://127.0.0.1:" + app.port() + "/_hooktunnel/v1/connect answered"},
		},
		{
			name: "the admin port",
			args: []string{"--token", tok.token, "--edge", "http://127.0.0.1:" + e.adminPort},
			code: 1,
			want: []string{"FAIL  edge: tunnel: ws://127.0.0.1:" + e.adminPort + "/_hooktunnel/v1/connect answered 421 Misdirected Request (not_public_listener)",
				"fix: point --edge (or --edge-addr) at the port of the edge's --listen"},
		},
		{name: "usage: no --edge", args: []string{app.port(), "--token", tok.token}, code: 2},
		{name: "usage: bad target", args: append([]string{"not a port", "--token", tok.token}, edge...), code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkDoctor(t, runDoctor(t, tc.env, tc.args...), tc.code, tc.want...)
		})
	}
}

// TestDoctorClockSkew: a server whose Date is five minutes behind makes
// the clock check warn; a warning alone does not fail the run, but this
// server is no edge, so the edge check does.
func TestDoctorClockSkew(t *testing.T) {
	t.Parallel()
	behind := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-5*time.Minute).UTC().Format(http.TimeFormat))
		http.NotFound(w, r)
	}))
	t.Cleanup(behind.Close)
	r := runDoctor(t, nil, "--token", "ht_x", "--edge", behind.URL)
	checkDoctor(t, r, 1,
		"warn  clock: this machine's clock is 5m",
		"fix: sync both clocks with NTP",
		"FAIL  edge:")
}

func TestDoctorTLS(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startTLSEdge(t, edgeConfig([]agentToken{tok}, ""), "--tls", "self-signed")
	ca := filepath.Join(e.data, "self-signed", "ca.pem")
	base := []string{"--token", tok.token, "--name", "demo", "--route", "/hook", "--edge-addr", e.addr()}
	apex := "https://" + tlsDomain + ":" + e.port

	t.Run("unknown authority", func(t *testing.T) {
		t.Parallel()
		r := runDoctor(t, nil, append(base, "--edge", apex)...)
		checkDoctor(t, r, 1,
			"ok    resolve: --edge-addr "+e.addr()+" is used instead of resolving "+tlsDomain,
			"FAIL  tls: the edge's certificate is from an unknown authority",
			"fix: for an edge with --tls self-signed, copy its CA",
			"skip  edge:")
	})
	t.Run("trusted with --edge-ca", func(t *testing.T) {
		t.Parallel()
		r := runDoctor(t, nil, append(base, "--edge", apex, "--edge-ca", ca)...)
		checkDoctor(t, r, 0,
			"ok    tls: verified: TLS 1.3, certificate for "+tlsDomain+", *."+tlsDomain,
			"ok    edge: token accepted; tunnel demo: "+e.hookURL("demo", "/hook"),
			"ok    clock: within")
	})
	t.Run("name mismatch", func(t *testing.T) {
		t.Parallel()
		r := runDoctor(t, nil, append(base, "--edge", "https://other.example:"+e.port, "--edge-ca", ca)...)
		checkDoctor(t, r, 1, "FAIL  tls: name mismatch: the certificate is for "+tlsDomain+", *."+tlsDomain+", not other.example")
	})
	t.Run("plain http to a TLS port", func(t *testing.T) {
		t.Parallel()
		r := runDoctor(t, nil, append(base, "--edge", "http://"+tlsDomain+":"+e.port)...)
		checkDoctor(t, r, 1, "FAIL  tls: "+e.addr()+" speaks TLS, not plain HTTP", "fix: use --edge https://")
	})
}
