package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// listFlags are the filters of `hooktunnel messages list`.
type listFlags struct {
	tunnel, route, decision, status, q, since, until, before string
	limit                                                    int
}

var (
	statusClass = regexp.MustCompile(`^[2-5]xx$`)
)

func messagesCommand() *cobra.Command {
	var api apiFlags
	cmd := &cobra.Command{
		Use:   "messages",
		Short: "List, show, replay and release the webhooks the edge received",
		Long: `List, show, replay and release the messages of the edge's journal through its admin API
(docs/api.md): every request to a tunnel host, refused ones included, kept for the
retention period. The same commands work against an agent's inspector
(--api http://127.0.0.1:4040) for that agent's tunnels.

Output is a readable table or text; --json prints the API's JSON as it is. A failed
API call prints the server's message and exits with status 1.`,
		Example: `  hooktunnel messages list --decision refused
  hooktunnel messages list --tunnel github --status 5xx --since 1h
  hooktunnel messages show 01JDZ8Q3V6R8M2K7T1C9W4E5XA
  hooktunnel messages replay 01JDZ8Q3V6R8M2K7T1C9W4E5XA
  hooktunnel messages release 01JDZ8Q3V6R8M2K7T1C9W4E5XA
  hooktunnel messages export 01JDZ8Q3V6R8M2K7T1C9W4E5XA > req.http
  hooktunnel messages list --api https://admin.example.com --token "$ADMIN_TOKEN" --json`,
		Args: cobra.NoArgs, // an unknown subcommand is a usage error
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	api.register(cmd)
	cmd.AddCommand(messagesListCommand(&api), messagesShowCommand(&api), messagesReplayCommand(&api))
	cmd.AddCommand(messagesReleaseCommand(&api), messagesExportCommand(&api))
	return cmd
}

func messagesListCommand(api *apiFlags) *cobra.Command {
	var f listFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List messages, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			// Which edge (or inspector) answers is not obvious from the
			// table: say it on stderr, out of the way of the output.
			fmt.Fprintf(cmd.ErrOrStderr(), "asking %s\n", api.where())
			body, printed, err := api.get(cmd, "/api/v1/messages", q)
			if err != nil || printed {
				return err
			}
			out := cmd.OutOrStdout()
			var page store.Page
			if err := json.Unmarshal(body, &page); err != nil {
				return fmt.Errorf("the admin API answered with something else than a page of messages: %w", err)
			}
			printMessageTable(out, page.Messages)
			if page.Next != "" {
				fmt.Fprintf(out, "\nOlder messages: add --before %s\n", page.Next)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tunnel, "tunnel", "", "only this tunnel")
	fl.StringVar(&f.route, "route", "", "only this route (its path as configured)")
	fl.StringVar(&f.decision, "decision", "", "only "+strings.Join(decisionWords(), ", ")+" messages")
	fl.StringVar(&f.status, "status", "", "only this status class: 2xx, 3xx, 4xx or 5xx")
	fl.StringVar(&f.q, "q", "", "only messages with this text in the path, event, delivery id, a header value or the body")
	fl.StringVar(&f.since, "since", "", "only messages received since: an RFC 3339 time or a duration ago (30m, 24h)")
	fl.StringVar(&f.until, "until", "", "only messages received until: an RFC 3339 time or a duration ago")
	fl.StringVar(&f.before, "before", "", "the cursor printed under the previous page")
	fl.IntVar(&f.limit, "limit", 50, "how many messages, at most 500")
	_ = cmd.RegisterFlagCompletionFunc("tunnel", api.completeTunnels)
	_ = cmd.RegisterFlagCompletionFunc("decision", completeWords(decisionWords()...))
	_ = cmd.RegisterFlagCompletionFunc("status", completeWords("2xx", "3xx", "4xx", "5xx"))
	return cmd
}

// query turns the flags into the listing's query parameters.
func (f *listFlags) query(now time.Time) (url.Values, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.decision != "" && !outcome.Decision(f.decision).Valid() {
		return nil, usageError{fmt.Errorf("--decision %q is not one of %s", f.decision, strings.Join(decisionWords(), ", "))}
	}
	status := strings.ToLower(f.status)
	if status != "" && !statusClass.MatchString(status) {
		return nil, usageError{fmt.Errorf("--status %q is not one of 2xx, 3xx, 4xx, 5xx", f.status)}
	}
	if f.limit < 1 || f.limit > 500 {
		return nil, usageError{fmt.Errorf("--limit %d is not between 1 and 500", f.limit)}
	}
	for _, t := range []struct{ name, value string }{{"since", f.since}, {"until", f.until}} {
		v, err := timeFlag(t.value, now)
		if err != nil {
			return nil, usageError{fmt.Errorf("--%s %q: %w", t.name, t.value, err)}
		}
		set(t.name, v)
	}
	set("tunnel", f.tunnel)
	set("route", f.route)
	set("decision", f.decision)
	set("status", status)
	set("q", f.q)
	set("before", f.before)
	q.Set("limit", strconv.Itoa(f.limit))
	return q, nil
}

// timeFlag reads an RFC 3339 time, or a duration before now, as RFC 3339.
func timeFlag(s string, now time.Time) (string, error) {
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.RFC3339), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return "", errors.New("want an RFC 3339 time (2026-11-23T06:45:00Z) or a duration ago (30m, 24h)")
	}
	return now.Add(-d).UTC().Format(time.RFC3339), nil
}

func messagesShowCommand(api *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "show ID",
		Short:             "Show a message: request, headers, body, decision, response and attempts",
		Args:              oneID,
		ValidArgsFunction: api.completeMessageIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			body, m, err := c.message(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if api.json {
				return writeRaw(cmd.OutOrStdout(), body)
			}
			printMessage(cmd.OutOrStdout(), m)
			return nil
		},
	}
}

func messagesReplayCommand(api *apiFlags) *cobra.Command {
	var edit bool
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Send a stored message to the app again, as a new message",
		Long: `Send a stored message to the app again through its tunnel's current route, as the
provider sent it (its signature header included). The policy is checked again except the
timestamp's freshness and the duplicate check. The new message is journaled with
replay_of set to ID.

With --edit, the request's headers and body open in $VISUAL or $EDITOR (else vi) as
"Name: value" lines, a blank line and the body; what is saved is sent. An empty file
cancels.`,
		Args:              oneID,
		ValidArgsFunction: api.completeMessageIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			var change []byte
			if edit {
				if change, err = editReplay(cmd.Context(), c, args[0]); err != nil || change == nil {
					return err
				}
			}
			var r struct {
				ID       string `json:"id"`
				ReplayOf string `json:"replay_of"`
				Status   int    `json:"status"`
			}
			if printed, err := api.post(cmd, c, args[0], "replay", change, &r); err != nil || printed {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Replayed %s as %s", clean(args[0], 64), clean(r.ID, 64))
			if r.Status != 0 {
				fmt.Fprintf(out, " (the app answered %d)", r.Status)
			}
			fmt.Fprintf(out, "\nSee it with: hooktunnel messages show %s\n", clean(r.ID, 64))
			return nil
		},
	}
	cmd.Flags().BoolVar(&edit, "edit", false, "change the headers or the body in an editor before sending")
	return cmd
}

func messagesReleaseCommand(api *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "release ID",
		Short: "Deliver a held message: one a route's filter did not take, kept by on_mismatch: queue_hold",
		Long: `Release a held message (decision filtered, queue state held: a request no route's
filter took, on a route with on_mismatch: queue_hold). It becomes pending in the queue,
and the queue worker delivers it to the app as any queued message, through the route that
now takes its method and path, with the same id (the app sees it in
Hooktunnel-Message-Id). A message that is not held is refused (409).`,
		Args:              oneID,
		ValidArgsFunction: api.completeMessageIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			var r struct {
				ID    string `json:"id"`
				Queue string `json:"queue"`
			}
			if printed, err := api.post(cmd, c, args[0], "release", nil, &r); err != nil || printed {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Released %s: %s in the queue\nSee it with: hooktunnel messages show %s\n",
				clean(r.ID, 64), clean(r.Queue, 20), clean(r.ID, 64))
			return nil
		},
	}
}

// post asks the API for an action on message id (replay, release), with
// a JSON body or none, and decodes the answer into v, which must have an
// ID; with --json it prints the answer as it came instead (printed).
func (f *apiFlags) post(cmd *cobra.Command, c *apiClient, id, action string, body []byte, v any) (printed bool, err error) {
	answer, err := c.send(cmd.Context(), http.MethodPost, "/api/v1/messages/"+url.PathEscape(id)+"/"+action, nil, body)
	if err != nil {
		return false, err
	}
	if f.json {
		return true, writeRaw(cmd.OutOrStdout(), answer)
	}
	var got struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(answer, v) != nil || json.Unmarshal(answer, &got) != nil || got.ID == "" {
		return false, fmt.Errorf("the admin API answered the %s with something unexpected: %q", action, clean(string(answer), 200))
	}
	return false, nil
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	return nil
}

func oneID(_ *cobra.Command, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return usageError{errors.New("name one message ID (the ID column of `hooktunnel messages list`)")}
	}
	return nil
}

// writeRaw prints the API's JSON as it came, ending with a newline.
func writeRaw(w io.Writer, body []byte) error {
	if _, err := w.Write(body); err != nil {
		return err
	}
	if !bytes.HasSuffix(body, []byte("\n")) {
		_, err := io.WriteString(w, "\n")
		return err
	}
	return nil
}

// printMessageTable prints a listing as aligned columns.
func printMessageTable(w io.Writer, msgs []store.Message) {
	if len(msgs) == 0 {
		fmt.Fprintln(w, "No messages.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tID\tTUNNEL\tREQUEST\tEVENT\tDELIVERY\tSTATUS\tDECISION\tDURATION")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			m.ReceivedAt.Local().Format("2006-01-02 15:04:05"), clean(m.ID, 40), clean(m.Tunnel, 30),
			clean(m.Method+" "+target(&m), 60), orDash(clean(m.Event, 40)), orDash(clean(m.DeliveryID, 40)),
			statusText(m.Status), clean(decisionText(&m), 50), durationText(m.Duration))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func target(m *store.Message) string {
	if m.Query == "" {
		return m.Path
	}
	return m.Path + "?" + m.Query
}

func statusText(s int) string {
	if s == 0 {
		return "-"
	}
	return strconv.Itoa(s)
}

// decisionWords are the values of --decision: outcome's decisions.
func decisionWords() []string {
	ds := outcome.Decisions()
	words := make([]string, len(ds))
	for i, d := range ds {
		words[i] = string(d)
	}
	return words
}

// decisionText is the decision with its reason and its queue state: a
// filtered message a route holds reads "filtered: filtered (held)".
func decisionText(m *store.Message) string {
	s := m.Decision
	if m.Reason != "" {
		s += ": " + m.Reason
	}
	if m.Queue != "" {
		s += " (" + m.Queue + ")"
	}
	return s
}

func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// clean makes text from a sender safe to print on a terminal: control
// characters (escape sequences included) are shown escaped, and the text
// is cut at max runes.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// printMessage prints one message for a reader: the request, what the edge
// decided, what the app answered, and each delivery attempt.
func printMessage(w io.Writer, m *store.Message) {
	fmt.Fprintf(w, "%s %s\n\n", clean(m.Method, 20), clean(target(m), 2000))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", name, value)
		}
	}
	field("id", clean(m.ID, 40))
	field("received", m.ReceivedAt.Local().Format("2006-01-02 15:04:05.000 -07:00"))
	field("tunnel", clean(m.Tunnel, 100))
	field("route", clean(m.Route, 200))
	field("source", clean(m.SourceIP, 100))
	field("decision", clean(decisionText(m), 100))
	field("detail", clean(m.Detail, 500))
	field("provider", clean(m.Provider, 100))
	field("event", clean(m.Event, 200))
	field("secret", clean(m.SecretRef, 200))
	field("delivery id", clean(m.DeliveryID, 200))
	field("client cert", clean(m.ClientCert, 300))
	field("replay of", clean(m.ReplayOf, 40))
	field("status", statusText(m.Status))
	field("duration", durationText(m.Duration))
	tw.Flush()

	fmt.Fprintln(w, "\nRequest headers")
	printHeader(w, m.Header)
	fmt.Fprintf(w, "\nRequest body (%s)\n", bodySummary(m.BodySize, m.Body, m.BodyTruncated))
	printBody(w, m.Body)

	if m.Status != 0 || len(m.ResponseHeader) > 0 || len(m.ResponseBody) > 0 {
		fmt.Fprintf(w, "\nResponse %s\n", statusText(m.Status))
		printHeader(w, m.ResponseHeader)
		if len(m.ResponseBody) > 0 {
			fmt.Fprintln(w)
			printBody(w, m.ResponseBody)
		}
	}
	if len(m.Attempts) > 0 {
		fmt.Fprintln(w, "\nAttempts")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range m.Attempts {
			fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s", a.N, a.At.Local().Format("2006-01-02 15:04:05.000"), statusText(a.Status), durationText(a.Duration))
			if a.Error != "" {
				fmt.Fprintf(tw, "\t%s", clean(a.Error, 300))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
}

func printHeader(w io.Writer, h http.Header) {
	if len(h) == 0 {
		fmt.Fprintln(w, "  (none)")
		return
	}
	names := slices.Sorted(maps.Keys(h))
	for _, name := range names {
		for _, v := range h[name] {
			fmt.Fprintf(w, "  %s: %s\n", clean(name, 200), clean(v, 2000))
		}
	}
}

func bodySummary(size int64, kept []byte, truncated bool) string {
	switch {
	case size == 0:
		return "empty"
	case kept == nil:
		return fmt.Sprintf("%d bytes, not kept", size)
	case truncated:
		return fmt.Sprintf("%d bytes, first %d kept", size, len(kept))
	}
	return fmt.Sprintf("%d bytes", size)
}

// Bodies are printed up to these sizes; --json has all of them.
const (
	maxTextBody = 64 << 10
	maxHexBody  = 512
)

// printBody prints a body indented: JSON pretty, text as it is, binary as
// a hex dump. The bytes decide, not the Content-Type: senders mislabel.
func printBody(w io.Writer, body []byte) {
	if len(body) == 0 {
		return
	}
	var out string
	var pretty bytes.Buffer
	switch {
	case !utf8.Valid(body) || bytes.ContainsFunc(body, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }):
		n := min(len(body), maxHexBody)
		out = hex.Dump(body[:n])
		if n < len(body) {
			out += fmt.Sprintf("… binary, %d more bytes (--json has all of it)\n", len(body)-n)
		}
	case json.Indent(&pretty, body, "", "  ") == nil:
		out = pretty.String()
	default:
		out = string(body)
	}
	if len(out) > maxTextBody {
		cut := maxTextBody
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + fmt.Sprintf("\n… %d more bytes (--json has all of it)", len(out)-cut)
	}
	for line := range strings.Lines(strings.TrimRight(out, "\n")) {
		fmt.Fprintf(w, "  %s\n", cleanLine(strings.TrimRight(line, "\r\n")))
	}
}

// cleanLine is clean for one line of a body, tabs as spaces.
func cleanLine(s string) string {
	return clean(strings.ReplaceAll(s, "\t", "    "), len(s))
}
