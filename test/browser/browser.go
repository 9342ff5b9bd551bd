// Package browser drives a headless Chromium (chromedp) for the web UI
// tests: start a tab, run steps with a deadline, evaluate, poll, and
// take screenshots when something fails.
package browser

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktunnel/hooktunnel/test/need"
)

// stepTimeout bounds each group of steps.
const stepTimeout = 20 * time.Second

// Path finds the browser ($CHROME_PATH, chromium, chromium-browser,
// google-chrome, google-chrome-stable on PATH, /usr/bin/chromium). None:
// the test is skipped with one line saying what to install, or fails under
// CI=true (.ci/run installs Debian's chromium).
func Path(t testing.TB) string {
	t.Helper()
	p, ok := need.Browser(need.BrowserCandidates())
	if !ok {
		need.Missing(t, need.BrowserMissing)
	}
	return p
}

// Start launches a headless Chromium and returns its tab, and a func that
// reports what the page logged as errors (CSP violations included).
// Without a browser the test is skipped (see Path).
func Start(t *testing.T, timeout time.Duration) (context.Context, func() []string) {
	t.Helper()
	chromium := Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	// As root on this machine: no sandbox; no background traffic (the
	// network is closed beyond loopback).
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)

	var mu sync.Mutex
	var problems []string
	console := chromedp.Console(tab)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	return tab, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// Do runs steps within 20 s, failing the test with what was being done and
// a screenshot of the page.
func Do(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		Screenshot(t, tab, "failed.png")
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates JavaScript in the page.
func Eval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// Wait polls a JavaScript condition in the page for up to timeout.
func Wait(t *testing.T, tab context.Context, what, js string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js)); err != nil {
		Screenshot(t, tab, "failed.png")
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Screenshot saves the page as PNG in the test's temp dir, and in
// $HOOKTUNNEL_UI_SHOTS when set, to look at.
func Screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("HOOKTUNNEL_UI_SHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Error(err)
		}
	}
}
