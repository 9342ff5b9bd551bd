package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/policy/iplist"
)

// defaultDataDir matches the edge's default, so `ips update` on the edge's
// machine writes where the edge reads.
const defaultDataDir = "/var/lib/hooktunnel"

func ipsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ips",
		Short: "Show and refresh the provider IP lists allow_ips can name (github, stripe…)",
	}
	cmd.AddCommand(ipsUpdateCommand(), ipsListCommand())
	return cmd
}

type ipsUpdateFlags struct {
	data    string
	sources []string
	only    []string
	timeout time.Duration
}

func ipsUpdateCommand() *cobra.Command {
	var flags ipsUpdateFlags
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Fetch the providers' published lists into the data directory",
		Long: `Fetches each provider's published list of webhook source addresses, checks it,
and writes it to <data>/iplists.json, where the edge reads it. A source that fails
keeps its previous data; the command tries the others and then exits 1.`,
		Example: `  hooktunnel ips update --data /var/lib/hooktunnel
  hooktunnel ips update --only github --source github=http://127.0.0.1:8080/meta`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIPsUpdate(cmd, flags)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.data, "data", defaultDataDir, "data directory (the edge's --data)")
	f.StringArrayVar(&flags.sources, "source", nil, "NAME=URL: fetch list NAME from URL instead of the provider (repeatable)")
	f.StringArrayVar(&flags.only, "only", nil, "refresh only list NAME (repeatable; default: all)")
	f.DurationVar(&flags.timeout, "timeout", 30*time.Second, "limit for each provider's answer")
	return cmd
}

func runIPsUpdate(cmd *cobra.Command, flags ipsUpdateFlags) error {
	if flags.timeout <= 0 {
		return usageError{fmt.Errorf("--timeout %s: must be positive", flags.timeout)}
	}
	selected, err := selectSources(flags.only)
	if err != nil {
		return err
	}
	overrides, err := sourceOverrides(flags.sources, selected)
	if err != nil {
		return err
	}
	before, err := iplist.Load(flags.data)
	if err != nil {
		return err
	}
	fetcher := newListFetcher(flags.timeout)
	defer fetcher.close()

	out := cmd.OutOrStdout()
	now := time.Now().UTC()
	after, updated, failed := before, 0, 0
	for _, src := range selected {
		source := src.URL
		if u, ok := overrides[src.Name]; ok {
			source = u
		}
		next, err := refreshList(cmd.Context(), fetcher, src, source, now)
		prev, had := before.Get(src.Name)
		if err != nil {
			failed++
			printFailure(out, src.Name, err, prev, had)
			continue
		}
		added, removed := prev.Diff(next)
		fmt.Fprintf(out, "%-13s %5d %s  +%d −%d  %s\n", src.Name, next.Count(), prefixWord(next.Count()), added, removed, next.Source)
		after = after.With(next)
		updated++
	}
	if updated > 0 {
		if err := iplist.Save(flags.data, after); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d lists could not be refreshed; they keep their previous data", failed, len(selected))
	}
	return nil
}

// refreshList fetches src from source and parses it.
func refreshList(ctx context.Context, f *listFetcher, src iplist.Source, source string, now time.Time) (iplist.List, error) {
	// Keep a mirror's password out of messages and of the world-readable file.
	shown := source
	if u, err := url.Parse(source); err == nil {
		shown = u.Redacted()
	}
	doc, err := f.fetch(ctx, source)
	if err != nil {
		return iplist.List{}, err
	}
	ps, err := src.Parse(doc)
	if err != nil {
		return iplist.List{}, fmt.Errorf("%s: %w", shown, err)
	}
	return iplist.List{Name: src.Name, Source: shown, Format: src.Format, Fetched: now, Prefixes: ps}, nil
}

func prefixWord(n int) string {
	if n == 1 {
		return "prefix"
	}
	return "prefixes"
}

func printFailure(out io.Writer, name string, err error, prev iplist.List, had bool) {
	kept := "no previous data"
	if had {
		kept = fmt.Sprintf("keeping %d prefixes from %s", prev.Count(), prev.Fetched.UTC().Format(time.DateOnly))
	}
	fmt.Fprintf(out, "%-13s FAILED: %s; %s\n", name, oneLine(err.Error()), kept)
}

// selectSources returns the sources --only names, or all of them.
func selectSources(only []string) ([]iplist.Source, error) {
	if len(only) == 0 {
		return iplist.Sources(), nil
	}
	var out []iplist.Source
	for _, name := range only {
		src, err := iplist.SourceFor(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("--only %s: %w", name, err)}
		}
		if !slices.ContainsFunc(out, func(s iplist.Source) bool { return s.Name == name }) {
			out = append(out, src)
		}
	}
	return out, nil
}

// sourceOverrides reads --source NAME=URL flags.
func sourceOverrides(flags []string, selected []iplist.Source) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		name, raw, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("--source %q: want NAME=URL", f)}
		}
		if _, err := iplist.SourceFor(name); err != nil {
			return nil, usageError{fmt.Errorf("--source %s: %w", name, err)}
		}
		if !slices.ContainsFunc(selected, func(s iplist.Source) bool { return s.Name == name }) {
			return nil, usageError{fmt.Errorf("--source %s: the list is not selected by --only", name)}
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError{fmt.Errorf("--source %s: %q is not an http(s) URL", name, raw)}
		}
		out[name] = raw
	}
	return out, nil
}

func ipsListCommand() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show each provider list with its date, source and size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ls, err := iplist.Load(data)
			if err != nil {
				return err
			}
			printLists(cmd.OutOrStdout(), ls)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", defaultDataDir, "data directory (the edge's --data)")
	return cmd
}

// printLists shows every known source, loaded or not, so a list that still
// needs a first `ips update` is visible rather than just missing.
func printLists(w io.Writer, ls iplist.Lists) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFETCHED\tCOUNT\tFROM\tSOURCE")
	names := ls.Names()
	for _, src := range iplist.Sources() {
		if !slices.Contains(names, src.Name) {
			names = append(names, src.Name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		l, ok := ls.Get(name)
		if !ok {
			fmt.Fprintf(tw, "%s\t-\t0\tnot loaded\trun `hooktunnel ips update --only %s`\n", name, name)
			continue
		}
		from := iplist.FileName
		if l.FromSnapshot {
			from = "snapshot"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", name, l.Fetched.UTC().Format("2006-01-02 15:04 MST"), l.Count(), from, l.Source)
	}
	tw.Flush()
}
