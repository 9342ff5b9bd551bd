// Command hooktunnel runs the edge, the agent, or both in one process for
// trying it out.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/agent"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes: 1 for a runtime failure, 2 for something retrying won't fix
// (bad usage or config, an edge that refuses the agent's token, an agent
// that gave up on an --edge it cannot reach this way).
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors that exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	root := &cobra.Command{
		Use:           "hooktunnel",
		Short:         "A self-hosted tunnel for webhooks",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate(versionLine())
	root.AddCommand(edgeCommand(), agentCommand(), devCommand(), tokenCommand(), verifyCommand(), ipsCommand(), messagesCommand(), auditCommand(), doctorCommand(), versionCommand())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "hooktunnel: "+oneLine(err.Error()))
	var ue usageError
	var unfixable *agent.EdgeError
	if errors.As(err, &ue) || tunnel.IsPermanent(err) || errors.As(err, &unfixable) || strings.HasPrefix(err.Error(), "unknown ") || strings.Contains(err.Error(), "flag") {
		os.Exit(exitUsage)
	}
	os.Exit(exitFailure)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// logFlags are the logging flags every long-running command takes.
type logFlags struct {
	level, format string
}

func (l *logFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&l.level, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&l.format, "log-format", "text", "text or json")
	_ = cmd.RegisterFlagCompletionFunc("log-level", completeWords("debug", "info", "warn", "error"))
	_ = cmd.RegisterFlagCompletionFunc("log-format", completeWords("text", "json"))
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q is not one of debug, info, warn, error", l.level)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q is not one of text, json", l.format)}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), versionLine())
		},
	}
}

// versionLine is what `hooktunnel version` and `hooktunnel --version` print.
func versionLine() string {
	return fmt.Sprintf("hooktunnel %s (protocol %d)\n", version, tunnel.ProtocolVersion)
}
