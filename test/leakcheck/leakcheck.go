// Package leakcheck fails a package's tests when a goroutine they started
// outlives them: every goroutine must have an owner that stops it.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests, then waits up to a few seconds for every goroutine
// whose stack names one of markers ("hooktunnel/tunnel.") to end; any left
// make the run fail with their stacks. Call it from TestMain.
func Main(m *testing.M, markers ...string) {
	code := m.Run()
	if code == 0 {
		if leaked := leftBehind(5*time.Second, markers); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left behind:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func leftBehind(wait time.Duration, markers []string) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakcheck.") || strings.Contains(g, ".TestMain(") {
				continue
			}
			for _, mk := range markers {
				if strings.Contains(g, mk) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
