package main

// Profiles: with -profile DIR, the bench fetches CPU and allocation
// profiles of the edge (its admin listener's /debug/pprof/) and a CPU
// profile of the agent (its loopback debug listener, --debug-addr) while
// one scenario (the 1 KiB 64-connection one unless -profile-scenario names
// another) runs with the journal full, writes them to DIR and saves what
// `go tool pprof -top` says of each beside it.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileDir is -profile; empty profiles nothing. profileScenario is
// -profile-scenario, the name of the scenario profiled.
var (
	profileDir      string
	profileScenario string
)

// profileName names the profile of the scenario at level, or is empty for
// the scenarios that are not profiled.
func profileName(level string, sc scenario) string {
	if profileDir == "" || level != "full" || sc.name != profileScenario {
		return ""
	}
	size := fmt.Sprintf("%dkib", sc.body>>10)
	if sc.body >= 1<<20 {
		size = fmt.Sprintf("%dmib", sc.body>>20)
	}
	return fmt.Sprintf("%s-%dconns-full", size, sc.conns)
}

// agentDebugArgs are the agent's flags for a profiled scenario: its debug
// listener on a free loopback port, which it returns too.
func agentDebugArgs(profile string) (args []string, addr string) {
	if profile == "" {
		return nil, ""
	}
	addr = "127.0.0.1:" + freePort()
	return []string{"--debug-addr", addr}, addr
}

// startProfile starts fetching CPU profiles of the edge and of the agent
// (whose debug listener is at agentAddr) for as much of duration as whole
// seconds allow; the function it returns waits for them, writes them and
// their pprof summaries to profileDir and says where they are.
func startProfile(name, bin string, edge *edgeProcess, agentAddr string, duration time.Duration) func() {
	if name == "" {
		return func() {}
	}
	seconds := max(int((duration-time.Second)/time.Second), 1)
	// The edge's allocations too, as a delta over the same seconds: the
	// bytes and objects each request allocates are what its GC pays for.
	sources := []struct{ who, kind, addr, path string }{
		{"edge", "CPU", edge.host + ":" + edge.adminPort, "profile"},
		{"edge-allocs", "allocation", edge.host + ":" + edge.adminPort, "allocs"},
		{"agent", "CPU", agentAddr, "profile"},
	}
	waits := make([]func(), len(sources))
	for i, src := range sources {
		url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", src.addr, src.path, seconds)
		file := filepath.Join(profileDir, src.who+"-"+name+".pprof")
		done := make(chan error, 1)
		go func() { done <- fetchProfile(url, file, time.Duration(seconds+30)*time.Second) }()
		waits[i] = func() { summarize(src.who, src.kind, <-done, bin, file, seconds) }
	}
	return func() {
		for _, wait := range waits {
			wait()
		}
	}
}

// summarize writes what pprof says of a fetched profile beside it.
func summarize(who, kind string, err error, bin, file string, seconds int) {
	if err != nil {
		fmt.Printf("%-22s %-8s %s profile: %v\n", "", "", who, err)
		return
	}
	base := strings.TrimSuffix(file, ".pprof")
	// Flat (where the CPU is spent) and cumulative (who spends it).
	for _, view := range []struct{ suffix, order string }{{".top.txt", "-flat"}, {".cum.txt", "-cum"}} {
		out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", view.order, bin, file).CombinedOutput()
		if err != nil {
			fmt.Printf("%-22s %-8s go tool pprof: %v\n", "", "", err)
			return
		}
		if err := os.WriteFile(base+view.suffix, out, 0o644); err != nil {
			fmt.Printf("%-22s %-8s %s profile: %v\n", "", "", who, err)
			return
		}
	}
	fmt.Printf("%-22s %-8s %s %s profile (%d s): %s, top entries in %s\n", "", "", who, kind, seconds, file, base+".top.txt")
}

func fetchProfile(url, file string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
