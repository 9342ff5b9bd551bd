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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	started := false
	markUsageErrors(root, &started)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if !started {
		// cobra refused the command line before any command started:
		// an unknown command, arguments a command's Args refuses.
		err = usageError{err}
	}
	fmt.Fprintln(stderr, "hooktunnel: "+oneLine(err.Error()))
	return exitCode(err)
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "hooktunnel",
		Short:         "A self-hosted tunnel for webhooks",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate(versionLine())
	root.AddCommand(edgeCommand(), agentCommand(), devCommand(), tokenCommand(), verifyCommand(), ipsCommand(), messagesCommand(), auditCommand(), doctorCommand(), versionCommand())
	return root
}

// exitCode is the exit status for err, decided by its type.
func exitCode(err error) int {
	var ue usageError
	var unfixable *agent.EdgeError
	if errors.As(err, &ue) || tunnel.IsPermanent(err) || errors.As(err, &unfixable) {
		return exitUsage
	}
	return exitFailure
}

// markUsageErrors makes the usage errors cobra finds usageErrors: a flag
// it cannot parse (root's flag error func, which every command inherits),
// a required flag not given or flags given together that must not be
// (checked in root's PersistentPreRunE, before cobra checks them). That
// hook also sets *started: a command line cobra refused before it ran is
// a usage error. No subcommand may have a PersistentPreRun of its own
// (cobra would run it instead of root's).
func markUsageErrors(root *cobra.Command, started *bool) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		*started = true
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usageError{err}
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usageError{err}
		}
		return nil
	}
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
