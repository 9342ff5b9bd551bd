package need

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// executable writes a file with mode into dir and returns its path.
func executable(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBrowserTakesTheFirstCandidateThatRuns(t *testing.T) {
	dir := t.TempDir()
	onPath := t.TempDir()
	t.Setenv("PATH", onPath)
	chrome := executable(t, dir, "my-chrome", 0o755)
	notExec := executable(t, dir, "not-executable", 0o644)
	executable(t, onPath, "google-chrome", 0o755)
	nowhere := filepath.Join(dir, "nowhere")
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"an absolute path first", []string{chrome, "google-chrome"}, chrome},
		{"a name on PATH", []string{"chromium", "google-chrome", chrome}, filepath.Join(onPath, "google-chrome")},
		{"a file that cannot run is passed over", []string{notExec, nowhere, chrome}, chrome},
		{"none found", []string{"chromium", "chromium-browser", nowhere, notExec}, ""},
		{"no candidates", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Browser(tc.candidates)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Browser(%q) = %q, %v; want %q", tc.candidates, got, ok, tc.want)
			}
		})
	}
}

func TestBrowserCandidatesPutChromePathFirst(t *testing.T) {
	t.Setenv("CHROME_PATH", "/opt/chrome/chrome")
	want := []string{"/opt/chrome/chrome", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium"}
	if got := BrowserCandidates(); !slices.Equal(got, want) {
		t.Errorf("candidates = %q, want %q", got, want)
	}
	t.Setenv("CHROME_PATH", "")
	if got := BrowserCandidates(); !slices.Equal(got, want[1:]) {
		t.Errorf("without CHROME_PATH: candidates = %q, want %q", got, want[1:])
	}
	for _, c := range want[1:] {
		if !strings.Contains(BrowserMissing, c) {
			t.Errorf("the missing-browser line does not name %s: %s", c, BrowserMissing)
		}
	}
}

// recorder is a testing.TB whose Skip and Fatal end the calling goroutine,
// as the testing package's do, and remember the line.
type recorder struct {
	testing.TB
	skipped, failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = append(r.skipped, args[0].(string))
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = append(r.failed, args[0].(string))
	runtime.Goexit()
}

func missing(why string) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Missing(r, why)
	}()
	<-done
	return r
}

func TestMissingSkipsWithOneLineExceptInCI(t *testing.T) {
	_, found := Browser([]string{filepath.Join(t.TempDir(), "no-browser")})
	if found {
		t.Fatal("found a browser that is not there")
	}
	tests := []struct {
		name, ci string
		skip     bool
	}{
		{"on a laptop", "", true},
		{"CI=false", "false", true},
		{"CI=true", "true", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := missing(BrowserMissing)
			got := r.failed
			if tc.skip {
				got = r.skipped
			}
			if len(r.skipped)+len(r.failed) != 1 || len(got) != 1 {
				t.Fatalf("skipped %q, failed %q; want one %s", r.skipped, r.failed, map[bool]string{true: "skip", false: "failure"}[tc.skip])
			}
			if !strings.HasPrefix(got[0], BrowserMissing) || strings.Contains(got[0], "\n") || !strings.Contains(got[0], "apt-get install chromium") {
				t.Errorf("line %q: want one line naming what to install", got[0])
			}
		})
	}
}
