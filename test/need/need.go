// Package need says what a test needs from the machine beyond Go, and
// what to install when it is missing: the test is skipped with one line
// naming the package, except under CI=true, where nothing may be skipped
// (.ci/run installs everything) and the test fails instead.
package need

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// CI reports whether the tests run in CI, where a missing tool fails.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because something it needs is not installed:
// why says what is missing and what to install, in one line.
func Missing(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatal(why + " (CI=true: nothing is skipped)")
	}
	t.Skip(why)
}

// BrowserCandidates are where Browser looks, in order: $CHROME_PATH, the
// usual names on PATH, then Debian's path.
func BrowserCandidates() []string {
	var c []string
	if p := os.Getenv("CHROME_PATH"); p != "" {
		c = append(c, p)
	}
	return append(c, "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium")
}

// BrowserMissing is the line a test without a browser prints.
const BrowserMissing = "no Chromium found ($CHROME_PATH, chromium, chromium-browser, google-chrome, google-chrome-stable, /usr/bin/chromium): the web UI tests need it: apt-get install chromium, or set CHROME_PATH"

// Browser returns the first candidate that is an executable file: a path
// as it is, a bare name looked up on PATH.
func Browser(candidates []string) (string, bool) {
	for _, c := range candidates {
		if filepath.Base(c) == c {
			if p, err := exec.LookPath(c); err == nil {
				return p, true
			}
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return c, true
		}
	}
	return "", false
}

// SystemdAnalyzeMissing is the line the unit-file check prints without
// systemd-analyze.
const SystemdAnalyzeMissing = "no systemd-analyze on PATH: the deploy/*.service check needs it: apt-get install systemd"

// SystemdAnalyze finds systemd-analyze on PATH.
func SystemdAnalyze() (string, bool) {
	p, err := exec.LookPath("systemd-analyze")
	return p, err == nil
}

// PostgreSQLMissing is the line the shared-store and cluster tests print
// without PostgreSQL.
const PostgreSQLMissing = "no PostgreSQL server programs (initdb, pg_ctl, postgres under /usr/lib/postgresql/*/bin or on PATH): the shared-store and cluster tests need them: apt-get install postgresql"

// PostgreSQL finds the directory of PostgreSQL's server programs: the
// newest Debian version under /usr/lib/postgresql, else pg_ctl's on PATH.
func PostgreSQL() (binDir string, ok bool) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest version first.
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "postgres")) {
			return d, true
		}
	}
	return "", false
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
