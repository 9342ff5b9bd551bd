// Command report prints one line for each tool the tests need beyond Go
// that this machine lacks, and which tests skip for it; `make test` runs
// it first, since go test shows a passing package's skips only with -v.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/hooktunnel/hooktunnel/test/need"
)

func main() {
	verb := "skipped"
	if need.CI() {
		verb = "failing (CI=true)"
	}
	if _, ok := need.Browser(need.BrowserCandidates()); !ok {
		fmt.Fprintf(os.Stderr, "make test: web UI tests %s: %s\n", verb, need.BrowserMissing)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		fmt.Fprintf(os.Stderr, "make test: the dev signing recipe check %s: openssl is missing (apt-get install openssl)\n", verb)
	}
	if _, ok := need.PostgreSQL(); !ok {
		fmt.Fprintf(os.Stderr, "make test: shared-store and cluster tests %s: %s\n", verb, need.PostgreSQLMissing)
	}
	if _, ok := need.SystemdAnalyze(); !ok {
		fmt.Fprintf(os.Stderr, "make test: unit-file check %s: %s\n", verb, need.SystemdAnalyzeMissing)
	}
}
