package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestExitCodeIsDecidedByType(t *testing.T) {
	t.Parallel()
	// An admin API whose error message says "flag": a runtime failure,
	// however it is worded.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"internal","message":"unknown flag: the store lost a flag"}`))
	}))
	t.Cleanup(api.Close)

	for _, tc := range []struct {
		name string
		args []string
		want int
		says string
	}{
		{"bad flag", []string{"edge", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"bad flag value", []string{"agent", "--give-up-after", "soon"}, exitUsage, `invalid argument "soon"`},
		{"unknown command", []string{"bogus"}, exitUsage, `unknown command "bogus" for "hooktunnel"`},
		{"argument to a command that takes none", []string{"version", "extra"}, exitUsage, `unknown command "extra"`},
		{"too many arguments", []string{"doctor", "a", "b"}, exitUsage, "accepts at most 1 arg(s)"},
		{"required flag missing", []string{"token", "new"}, exitUsage, `required flag(s) "name" not set`},
		{"runtime error that mentions a flag", []string{"messages", "list", "--api", api.URL}, exitFailure, "unknown flag: the store lost a flag"},
		{"success", []string{"version"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if got := run(context.Background(), tc.args, &stdout, &stderr); got != tc.want {
				t.Errorf("hooktunnel %s exited %d, want %d; stderr: %s", strings.Join(tc.args, " "), got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.says)
			}
		})
	}
}

func TestExitCodeOfAPlainError(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"flag", "unknown command", "unknown flag: --x"} {
		if got := exitCode(errors.New(text)); got != exitFailure {
			t.Errorf("exitCode(%q) = %d, want %d: only a usageError's type makes a usage error", text, got, exitFailure)
		}
	}
	if got := exitCode(usageError{errors.New("x")}); got != exitUsage {
		t.Errorf("exitCode(usageError) = %d, want %d", got, exitUsage)
	}
}

// Root's PersistentPreRunE checks flags and notes that a command started;
// cobra runs only the nearest PersistentPreRun, so no subcommand may have one.
func TestNoSubcommandHidesRootsPreRun(t *testing.T) {
	t.Parallel()
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			if sub.PersistentPreRun != nil || sub.PersistentPreRunE != nil {
				t.Errorf("%s has a PersistentPreRun; root's usage checks would not run for it", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(rootCommand())
}
