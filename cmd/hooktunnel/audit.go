package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// auditFlags are the filters of `hooktunnel audit`.
type auditFlags struct {
	action, since string
	before        int64
	limit         int
}

func auditCommand() *cobra.Command {
	var api apiFlags
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the admin actions the edge recorded: who, when and what",
		Long: `List the edge's audit trail through its admin API, newest first: replays, deleted
messages, config reloads, agent tokens issued or revoked by a reload. Each entry says
who acted: admin (the bearer admin token), local (the loopback admin listener without a
token), inspector:<tunnel> (an agent's inspector) or signal (SIGHUP). The trail is
kept for good; the journal's retention does not purge it.`,
		Example: `  hooktunnel audit
  hooktunnel audit --action message.replay --since 24h
  hooktunnel audit --api https://admin.example.com --token "$ADMIN_TOKEN" --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			body, printed, err := api.get(cmd, "/api/v1/audit", q)
			if err != nil || printed {
				return err
			}
			out := cmd.OutOrStdout()
			var page struct {
				Entries []store.AuditEntry `json:"entries"`
				Next    int64              `json:"next"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return fmt.Errorf("the admin API answered with something else than audit entries: %w", err)
			}
			printAuditTable(out, page.Entries)
			if page.Next != 0 {
				fmt.Fprintf(out, "\nOlder entries: add --before %d\n", page.Next)
			}
			return nil
		},
	}
	api.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.action, "action", "", "only this action: message.replay, message.release, message.delete, config.reload, token.issued, token.revoked")
	fl.StringVar(&f.since, "since", "", "only entries since: an RFC 3339 time or a duration ago (30m, 24h)")
	fl.Int64Var(&f.before, "before", 0, "the cursor printed under the previous page")
	fl.IntVar(&f.limit, "limit", 50, "how many entries, at most 500")
	return cmd
}

// query turns the flags into the listing's query parameters.
func (f *auditFlags) query(now time.Time) (url.Values, error) {
	q := url.Values{}
	if f.limit < 1 || f.limit > 500 {
		return nil, usageError{fmt.Errorf("--limit %d is not between 1 and 500", f.limit)}
	}
	if f.before < 0 {
		return nil, usageError{fmt.Errorf("--before %d is not an entry id", f.before)}
	}
	since, err := timeFlag(f.since, now)
	if err != nil {
		return nil, usageError{fmt.Errorf("--since %q: %w", f.since, err)}
	}
	if since != "" {
		q.Set("since", since)
	}
	if f.action != "" {
		q.Set("action", f.action)
	}
	if f.before > 0 {
		q.Set("before", strconv.FormatInt(f.before, 10))
	}
	q.Set("limit", strconv.Itoa(f.limit))
	return q, nil
}

// printAuditTable prints audit entries as aligned columns.
func printAuditTable(w io.Writer, entries []store.AuditEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "No audit entries.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"),
			clean(e.Actor, 40), clean(e.Action, 30), auditCell(e.Target, 40), auditCell(e.Detail, 120))
	}
	tw.Flush()
}

// auditCell is a cell safe for the terminal, "-" when empty.
func auditCell(s string, max int) string {
	if s == "" {
		return "-"
	}
	return clean(s, max)
}
