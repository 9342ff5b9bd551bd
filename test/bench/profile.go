package main

// Profiles: with -profile DIR, the bench fetches a CPU profile from the
// edge's admin listener (/debug/pprof/profile) while the 1 KiB 64-connection
// scenario runs with the journal full, writes it to DIR and saves what
// `go tool pprof -top` says of it beside it. The agent serves no pprof
// endpoint, so only the edge is profiled.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// profileDir is -profile; empty profiles nothing.
var profileDir string

// profileName names the profile of the scenario at level, or is empty for
// the scenarios that are not profiled.
func profileName(level string, sc scenario) string {
	if profileDir == "" || level != "full" || sc.body != 1<<10 || sc.conns != 64 {
		return ""
	}
	return "edge-1kib-64conns-full"
}

// startProfile starts fetching a CPU profile of the edge for as much of
// duration as whole seconds allow; the function it returns waits for it,
// writes it and its pprof summaries to profileDir and says where they are.
func startProfile(name, bin string, edge *edgeProcess, duration time.Duration) func() {
	if name == "" {
		return func() {}
	}
	seconds := max(int((duration-time.Second)/time.Second), 1)
	url := fmt.Sprintf("http://%s:%s/debug/pprof/profile?seconds=%d", edge.host, edge.adminPort, seconds)
	done := make(chan error, 1)
	file := filepath.Join(profileDir, name+".pprof")
	go func() { done <- fetchProfile(url, file, time.Duration(seconds+30)*time.Second) }()
	return func() {
		if err := <-done; err != nil {
			fmt.Printf("%-22s %-8s profile: %v\n", "", "", err)
			return
		}
		// Flat (where the CPU is spent) and cumulative (who spends it).
		for _, view := range []struct{ suffix, order string }{{".top.txt", "-flat"}, {".cum.txt", "-cum"}} {
			out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", view.order, bin, file).CombinedOutput()
			if err != nil {
				fmt.Printf("%-22s %-8s go tool pprof: %v\n", "", "", err)
				return
			}
			if err := os.WriteFile(filepath.Join(profileDir, name+view.suffix), out, 0o644); err != nil {
				fmt.Printf("%-22s %-8s profile: %v\n", "", "", err)
				return
			}
		}
		fmt.Printf("%-22s %-8s edge CPU profile (%d s, the agent has no pprof endpoint): %s, top entries in %s\n", "", "", seconds, file, filepath.Join(profileDir, name+".top.txt"))
	}
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
