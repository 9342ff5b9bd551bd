// Command bench measures hooktunnel against the app called directly, in
// one run on this machine: requests/s and latency percentiles for small and
// large POSTs, and the edge's memory per idle connected agent. Every loop
// is bounded in time; everything talks to loopback only.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/test/output"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

func main() {
	bin := flag.String("bin", "bin/hooktunnel", "the hooktunnel binary")
	duration := flag.Duration("duration", 4*time.Second, "how long each scenario runs")
	agents := flag.Int("agents", 1000, "idle agents for the memory figure (0 skips it)")
	only := flag.String("only", "", "run only the scenarios whose name contains this")
	journal := flag.String("journal", "full,metadata", "journal levels to measure the tunnel with (full keeps every body in SQLite)")
	flag.BoolVar(&stores, "stores", true, "compare SQLite, PostgreSQL and a relayed webhook (needs PostgreSQL installed; skipped with a line when it is not)")
	flag.StringVar(&tunnelCPUs, "tunnel-cpus", "", "run the edge and agent on these CPUs (taskset list); run the bench itself on the others")
	flag.BoolVar(&floor, "floor", true, "carry each scenario over the tunnel's transport with raw byte piping too (the floor)")
	flag.StringVar(&profileDir, "profile", "", "write CPU profiles of the edge and the agent (and the edge's allocations) under one scenario's load (journal full) and their pprof top entries to this directory")
	flag.StringVar(&profileScenario, "profile-scenario", "1 KiB POST, 64 conns", "the scenario -profile profiles")
	var floorHalf floorFlags
	floorHalf.register()
	flag.Parse()
	if ok, err := floorHalf.run(); ok {
		fmt.Fprintln(os.Stderr, "bench floor:", err)
		os.Exit(1)
	}
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if err := run(*bin, *duration, *agents, *only, strings.FieldsFunc(*journal, func(r rune) bool { return r == ',' })); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type scenario struct {
	name  string
	body  int
	conns int
}

func run(bin string, duration time.Duration, agents int, only string, journals []string) error {
	app, err := startApp()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hooktunnel-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	token := "ht_bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if tunnelCPUs == "" {
		fmt.Printf("hooktunnel bench: %s per scenario, %d cores shared by the load generator, app, edge and agent (loopback)\n", duration, runtime.NumCPU())
	} else {
		fmt.Printf("hooktunnel bench: %s per scenario; load generator and app on %d core(s), edge and agent on CPUs %s (loopback)\n", duration, runtime.GOMAXPROCS(0), tunnelCPUs)
	}
	for _, level := range journals {
		if err := measure(bin, dir, app, token, level, duration, only); err != nil {
			return err
		}
	}
	if stores {
		if err := measureStores(bin, dir, app, token, duration, only); err != nil {
			return err
		}
	}
	if agents == 0 {
		return nil
	}
	return idleMemory(bin, dir, agents)
}

// measure runs the scenarios through an agent whose route keeps the given
// journal level, against the app called directly. Each scenario gets a
// fresh edge, so none pays for the journal an earlier one filled.
func measure(bin, dir, app, token, level string, duration time.Duration, only string) error {
	policyFile := filepath.Join(dir, "policy-"+level+".yaml")
	if err := os.WriteFile(policyFile, []byte("routes:\n  - path: /\n    methods: [\"*\"]\n    journal: "+level+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Printf("\njournal: %s\n", level)
	fmt.Printf("%-22s %-8s %10s %9s %9s %10s   %s\n", "scenario", "path", "req/s", "p50", "p99", "MB/s", "tunnel ÷ direct")
	for _, sc := range []scenario{{"1 KiB POST, 1 conn", 1 << 10, 1}, {"1 KiB POST, 64 conns", 1 << 10, 64}, {"1 MiB POST, 8 conns", 1 << 20, 8}} {
		if !strings.Contains(sc.name, only) {
			continue
		}
		if err := measureScenario(bin, dir, app, token, policyFile, profileName(level, sc), sc, duration); err != nil {
			return err
		}
	}
	return nil
}

func measureScenario(bin, dir, app, token, policyFile, profile string, sc scenario, duration time.Duration) error {
	edge, err := startEdge(bin, dir, token)
	if err != nil {
		return err
	}
	defer edge.stop()
	debugArgs, debugAddr := agentDebugArgs(profile)
	agent, err := startProcess(bin, append([]string{"agent", app, "--edge", "http://localhost:" + edge.port, "--token", token, "--name", "bench", "--policy", policyFile, "--inspect", "off", "--log-level", "error"}, debugArgs...)...)
	if err != nil {
		return err
	}
	defer agent.stop()
	if err := waitFor(func() bool { return strings.Contains(agent.out.String(), "is online") }, 30*time.Second); err != nil {
		return fmt.Errorf("agent did not come online: %s", agent.out.String())
	}
	direct := load(directClient(), "http://"+app+"/", "", sc, duration)
	cpu0 := cpuTimes(os.Getpid(), edge.cmd.Process.Pid, agent.cmd.Process.Pid)
	profiled := startProfile(profile, bin, edge, debugAddr, duration)
	through := load(edgeClient(edge.port), "http://bench.localhost:"+edge.port+"/", "bench.localhost:"+edge.port, sc, duration)
	cpu1 := cpuTimes(os.Getpid(), edge.cmd.Process.Pid, agent.cmd.Process.Pid)
	for _, r := range []struct {
		path string
		res  result
	}{{"direct", direct}, {"tunnel", through}} {
		ratio := ""
		if r.path == "tunnel" {
			ratio = fmt.Sprintf("%.2f req/s, %.2f MB/s", through.rps()/direct.rps(), through.mbps()/direct.mbps())
		}
		fmt.Printf("%-22s %-8s %10.0f %9s %9s %10.1f   %s\n", sc.name, r.path, r.res.rps(), r.res.pct(50), r.res.pct(99), r.res.mbps(), ratio)
		if r.path == "tunnel" && len(through.latencies) > 0 {
			n := time.Duration(len(through.latencies))
			perRequest := func(i int) time.Duration { return ((cpu1[i] - cpu0[i]) / n).Round(100 * time.Nanosecond) }
			fmt.Printf("%-22s %-8s CPU per request: load generator + app %s, edge %s, agent %s\n", "", "", perRequest(0), perRequest(1), perRequest(2))
			edgePeak, _ := procStatus(edge.cmd.Process.Pid, "VmHWM:")
			agentPeak, _ := procStatus(agent.cmd.Process.Pid, "VmHWM:")
			fmt.Printf("%-22s %-8s peak RSS: edge %.0f MiB, agent %.0f MiB\n", "", "", float64(edgePeak)/(1<<20), float64(agentPeak)/(1<<20))
		}
		if r.res.errors > 0 {
			fmt.Printf("%-22s %-8s %d errors\n", "", "", r.res.errors)
		}
	}
	profiled()
	if floor {
		return measureFloor(app, sc, duration, direct)
	}
	return nil
}

// result is one scenario's measurements.
type result struct {
	edgeCPU   time.Duration // CPU of the edges per request (measureStores)
	latencies []time.Duration
	bytes     int64
	elapsed   time.Duration
	errors    int
}

func (r result) rps() float64  { return float64(len(r.latencies)) / r.elapsed.Seconds() }
func (r result) mbps() float64 { return float64(r.bytes) / r.elapsed.Seconds() / 1e6 }
func (r result) pct(p int) string {
	if len(r.latencies) == 0 {
		return "-"
	}
	return r.latencies[(len(r.latencies)-1)*p/100].Round(time.Microsecond).String()
}

// load sends POSTs of sc.body bytes on sc.conns connections for d.
func load(c *http.Client, url, host string, sc scenario, d time.Duration) result {
	body := bytes.Repeat([]byte("x"), sc.body)
	// Warm the connections up first.
	for i := 0; i < sc.conns; i++ {
		post(c, url, host, body)
	}
	var mu sync.Mutex
	var res result
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := 0; i < sc.conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := post(c, url, host, body); err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
				total.Add(int64(len(body)))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.bytes = total.Load()
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	return res
}

func post(c *http.Client, url, host string, body []byte) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

func directClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
}

func edgeClient(port string) *http.Client { return edgeClientOn("127.0.0.1", port) }

// edgeClientOn dials the edge at host:port whatever the URL's host, as DNS
// would for *.domain.
func edgeClientOn(host, port string) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 256, DisableCompression: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, host+":"+port)
		},
	}}
}

// startApp runs the app: it reads the body and answers with its hash.
func startApp() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		io.Copy(h, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"sha256":"`+hex.EncodeToString(h.Sum(nil))+`"}`)
	}))
	return ln.Addr().String(), nil
}

type process struct {
	cmd  *exec.Cmd
	out  *output.Buffer
	once sync.Once
}

// stores runs measureStores.
var stores bool

// floor runs measureFloor after each scenario's tunnel row.
var floor bool

// tunnelCPUs, when set, pins the edge and agent with taskset: the tunnel
// gets its own CPU, as an edge has on its own machine.
var tunnelCPUs string

func startProcess(bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	if tunnelCPUs != "" {
		cmd = exec.Command("taskset", append([]string{"-c", tunnelCPUs, bin}, args...)...)
	}
	p := &process{cmd: cmd, out: &output.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	return p, p.cmd.Start()
}

func (p *process) stop() {
	p.once.Do(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
}

type edgeProcess struct {
	*process
	host, port, adminPort string
}

func startEdge(bin, dir, token string) (*edgeProcess, error) {
	return startEdgeOn(bin, dir, token, "127.0.0.1", "", nil)
}

// startEdgeOn runs an edge on host with extra YAML in its config and the
// extra flags flags gives for its public port.
func startEdgeOn(bin, dir, token, host, extraYAML string, flags func(port string) []string) (*edgeProcess, error) {
	sum := sha256.Sum256([]byte(token))
	port, adminPort := freePort(), freePort()
	cfg := filepath.Join(dir, "edge-"+port+".yaml")
	yaml := "agents:\n  - name: bench\n    token_sha256: " + hex.EncodeToString(sum[:]) + "\n    tunnels: [\"*\"]\n    may_declare_routes: true\n" + extraYAML
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	args := []string{"edge", "--domain", "localhost", "--tls", "off", "--listen", host + ":" + port,
		"--admin-listen", host + ":" + adminPort, "--data", filepath.Join(dir, "data-"+port), "--config", cfg, "--log-level", "error"}
	if flags != nil {
		args = append(args, flags(port)...)
	}
	p, err := startProcess(bin, args...)
	if err != nil {
		return nil, err
	}
	e := &edgeProcess{process: p, host: host, port: port, adminPort: adminPort}
	err = waitFor(func() bool {
		resp, err := http.Get("http://" + host + ":" + adminPort + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, 30*time.Second)
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("edge on %s did not start: %w\n%s", host, err, p.out.String())
	}
	return e, nil
}

// idleMemory connects n idle agents to a fresh edge and reports the growth
// of the edge's resident memory per agent.
func idleMemory(bin, dir string, n int) error {
	token := "ht_bench_idle"
	edge, err := startEdge(bin, dir, token)
	if err != nil {
		return err
	}
	defer edge.stop()
	// One agent first, so the baseline includes what any first session costs.
	cfg := tunnel.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	var sessions []*tunnel.Session
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	dial := func() error {
		s, _, err := tunnel.Dial(context.Background(), "http://localhost:"+edge.port, tunnel.Hello{Token: token, Name: "idle", Target: "http://127.0.0.1:1"}, cfg, nil)
		if err == nil {
			sessions = append(sessions, s)
		}
		return err
	}
	if err := dial(); err != nil {
		return err
	}
	time.Sleep(time.Second) // let the edge settle before the baseline
	before, err := rss(edge.cmd.Process.Pid)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := dial(); err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
	}
	time.Sleep(2 * time.Second) // a keepalive round on every session
	after, err := rss(edge.cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("\nedge memory: %d idle agents added %.1f MiB of RSS: %.1f KiB per idle agent\n", n, float64(after-before)/(1<<20), float64(after-before)/float64(n)/1024)
	return nil
}

// cpuTimes reads the user+system CPU time each process has used so far.
func cpuTimes(pids ...int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		out[i] = time.Duration(utime+stime) * time.Second / clockTicks
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// rss reads a process's resident set size in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// procStatus reads a size in bytes from a process's /proc status: VmRSS:
// now, VmHWM: at its peak.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func waitFor(cond func() bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
