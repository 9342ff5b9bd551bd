// Package test holds the end-to-end and fault tests: they build the real
// hooktunnel binary and run edges, agents and apps as separate processes
// on loopback.
package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/output"
	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// binary is the hooktunnel binary under test, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hooktunnel-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hooktunnel")
	args := []string{"build", "-o", binary}
	if os.Getenv("HOOKTUNNEL_E2E_RACE") != "0" {
		args = append(args, "-race") // the processes run with the race detector too
	}
	build := exec.Command("go", append(args, "../cmd/hooktunnel")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hooktunnel:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m) // stops the PostgreSQL server the cluster tests started
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running hooktunnel process.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout output.Buffer
	stderr output.Buffer
	done   chan struct{}
	err    error
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, nil, args...)
}

// startProcEnv is startProc with extra environment variables ("NAME=value"),
// which win over the test's own: an agent whose machine differs from the
// edge's.
func startProcEnv(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Env = append(append(os.Environ(), "GORACE=halt_on_error=1"), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		<-p.done
		if strings.Contains(p.stderr.String(), "DATA RACE") {
			t.Errorf("%s: data race:\n%s", name, p.stderr.String())
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.stdout.String(), name, p.stderr.String())
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// exited waits for the process to end and returns its exit code.
func (p *proc) exited(timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// waitOutput waits until the process has printed want on stdout or stderr.
func (p *proc) waitOutput(want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stdout.String(), want) || strings.Contains(p.stderr.String(), want) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.stdout.String(), want) || strings.Contains(p.stderr.String(), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// memory reads a size from the process's /proc status, in bytes: VmRSS:
// now, VmHWM: at its peak; 0 when it cannot.
func (p *proc) memory(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}

// writeFile writes text to a file name in a directory of the test's own
// and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// runCLI runs the hooktunnel binary to its end and returns its output.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := startProc(t, "hooktunnel "+strings.Join(args, " "), args...)
	code, ok := p.exited(30 * time.Second)
	if !ok {
		t.Fatalf("hooktunnel %s did not end", strings.Join(args, " "))
	}
	return p.stdout.String(), p.stderr.String(), code
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// edgeProc is a running edge with its ports.
type edgeProc struct {
	*proc
	port, adminPort, data, config string
	// host is the loopback address the edge listens on: 127.0.0.1 unless a
	// test runs several edges side by side (127.0.0.2, 127.0.0.3).
	host string
	// advertiseHost is the host a cluster edge advertises, if not host.
	advertiseHost string
}

// agentToken is one token with its config entry.
type agentToken struct {
	name, token, hash string
	tunnels           []string
	declare           bool
}

func newToken(name string, declare bool, tunnels ...string) agentToken {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "ht_" + hex.EncodeToString(b[:])
	return agentToken{name: name, token: tok, hash: sha256Hex([]byte(tok)), tunnels: tunnels, declare: declare}
}

// edgeConfig renders an edge config file with the agents and extra YAML.
func edgeConfig(agents []agentToken, extra string) string {
	var b strings.Builder
	b.WriteString("agents:\n")
	for _, a := range agents {
		fmt.Fprintf(&b, "  - name: %s\n    token_sha256: %s\n    tunnels: [%s]\n    may_declare_routes: %v\n",
			a.name, a.hash, strings.Join(quoteAll(a.tunnels), ", "), a.declare)
	}
	b.WriteString(extra)
	return b.String()
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// startEdge runs an edge on fresh loopback ports with config text.
func startEdge(t *testing.T, config string, extraArgs ...string) *edgeProc {
	t.Helper()
	dir := t.TempDir()
	e := &edgeProc{data: filepath.Join(dir, "data"), config: filepath.Join(dir, "edge.yaml"), host: "127.0.0.1"}
	if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// A port freePort saw free can be taken (by another test's outgoing
	// connection) before the edge binds it; then the edge tries fresh ones.
	for attempt := 1; ; attempt++ {
		e.port, e.adminPort = freePort(t), freePort(t)
		if e.launch(t, attempt < 3, extraArgs...) {
			return e
		}
	}
}

// start restarts the edge process on its ports and data directory.
func (e *edgeProc) start(t *testing.T, extraArgs ...string) {
	t.Helper()
	e.launch(t, false, extraArgs...)
}

// launch starts the edge and waits until it is ready. If it cannot bind a
// port and mayRetry, it reports false instead of failing the test.
func (e *edgeProc) launch(t *testing.T, mayRetry bool, extraArgs ...string) bool {
	t.Helper()
	args := append([]string{"edge", "--domain", "localhost", "--tls", "off",
		"--listen", e.ip() + ":" + e.port, "--admin-listen", e.ip() + ":" + e.adminPort,
		"--data", e.data, "--config", e.config, "--log-level", "debug"}, extraArgs...)
	e.proc = startProc(t, "edge", args...)
	return e.waitReady(t, mayRetry)
}

func (e *edgeProc) waitReady(t *testing.T, mayRetry bool) bool {
	t.Helper()
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

// ip is the edge's loopback address: 127.0.0.1 unless host says another.
func (e *edgeProc) ip() string {
	if e.host == "" {
		return "127.0.0.1"
	}
	return e.host
}

func (e *edgeProc) url() string {
	if e.ip() != "127.0.0.1" {
		return "http://" + e.ip() + ":" + e.port // one of several edges side by side
	}
	return "http://localhost:" + e.port
}

// startAgent runs an agent for target and waits until its tunnel is online.
func startAgent(t *testing.T, e *edgeProc, tok agentToken, target string, args ...string) *proc {
	t.Helper()
	a := startAgentNoWait(t, e, tok, target, args...)
	if !a.waitOutput("is online", 60*time.Second) {
		t.Fatalf("agent did not come online:\n%s\n%s", a.stdout.String(), a.stderr.String())
	}
	return a
}

func startAgentNoWait(t *testing.T, e *edgeProc, tok agentToken, target string, args ...string) *proc {
	t.Helper()
	return startAgentEnv(t, e, tok, target, nil, args...)
}

// startAgentEnv starts an agent with extra environment variables and does
// not wait for it.
func startAgentEnv(t *testing.T, e *edgeProc, tok agentToken, target string, env []string, args ...string) *proc {
	t.Helper()
	// Agents share this machine: no inspector unless a test asks for one.
	all := append([]string{"agent", target, "--edge", e.url(), "--token", tok.token, "--log-level", "debug", "--inspect", "off"}, args...)
	return startProcEnv(t, "agent", env, all...)
}

// client sends requests to tunnel hosts of an edge: it dials the edge's
// loopback port whatever the host, as DNS would for *.domain.
func (e *edgeProc) client(timeout time.Duration) *http.Client {
	addr := e.ip() + ":" + e.port
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 256,
			DisableCompression:  true,
		},
	}
}

// hookURL is the public URL of path on tunnel name.
func (e *edgeProc) hookURL(name, path string) string {
	return "http://" + name + ".localhost:" + e.port + path
}
