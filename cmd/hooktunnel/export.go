package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

func messagesExportCommand(api *apiFlags) *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Write a message as the raw HTTP/1.1 request it was, for `hooktunnel verify` or a replay by hand",
		Long: `Write a stored message to standard output as one raw HTTP/1.1 request: the request
line (path and query), the headers as the journal kept them, Content-Length and the
body. The file is what ` + "`hooktunnel verify`" + ` reads, so a delivery the edge refused can be
checked again offline with other secrets:

  hooktunnel messages export ID > req.http
  hooktunnel verify --provider github --secret env:GITHUB_SECRET req.http

Values the journal redacted (tokens, Authorization, cookies) are written as
[redacted], and a note on standard error names them. A message whose body the
journal did not keep whole cannot be exported. The Host line is the one the journal
kept, else --host, else the tunnel's name; schemes that sign the URL (Twilio, Square,
HubSpot) need ` + "`verify --url`" + ` with the public URL the provider called.`,
		Example: `  hooktunnel messages export 01JDZ8Q3V6R8M2K7T1C9W4E5XA > req.http
  hooktunnel messages export 01JDZ8Q3V6R8M2K7T1C9W4E5XA | curl --data-binary @- ...`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			_, m, err := c.message(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := exportable(m); err != nil {
				return err
			}
			if names := redactedNames(m); len(names) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: the journal redacted %s; the export holds [redacted] there\n", strings.Join(names, ", "))
			}
			return writeRawRequest(cmd.OutOrStdout(), m, host)
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the Host line when the journal kept none (default: the tunnel's name)")
	return cmd
}

// errNotExportable is why a message cannot be written as the request it was.
var errNotExportable = errors.New("messages: the message cannot be exported")

// exportable says whether the journal holds all of m's request.
func exportable(m *store.Message) error {
	switch {
	case m.Header == nil:
		return fmt.Errorf("%w: the journal kept no headers of %s (its route's journal level is metadata)", errNotExportable, clean(m.ID, 40))
	case m.BodyDropped != "" || m.BodyTruncated || int64(len(m.Body)) < m.BodySize:
		return fmt.Errorf("%w: the journal did not keep the whole body of %s (%d of %d bytes)", errNotExportable, clean(m.ID, 40), len(m.Body), m.BodySize)
	}
	return nil
}

const redactedValue = "[redacted]"

// redactedNames lists the headers and the query of m that hold redacted
// values.
func redactedNames(m *store.Message) []string {
	var names []string
	for k, vs := range m.Header {
		if slices.Contains(vs, redactedValue) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	if strings.Contains(m.Query, url.QueryEscape(redactedValue)) || strings.Contains(m.Query, redactedValue) {
		names = append(names, "the query")
	}
	return names
}

// framing headers are written from the body the export holds, not copied.
var framing = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true}

// writeRawRequest writes m as one HTTP/1.1 request, in the form
// policy.ParseRawRequest (and so `hooktunnel verify`) reads: request line,
// Host, the journaled headers in name order, Content-Length, a blank line
// and the body. host is the Host line when the journal kept none.
func writeRawRequest(w io.Writer, m *store.Message, host string) error {
	bw := bufio.NewWriter(w)
	target := (&url.URL{Path: m.Path}).EscapedPath()
	if m.Query != "" {
		target += "?" + m.Query
	}
	fmt.Fprintf(bw, "%s %s HTTP/1.1\r\n", m.Method, target)
	switch {
	case m.Header.Get("Host") != "":
		host = m.Header.Get("Host")
	case host == "" && m.Header.Get("X-Forwarded-Host") != "":
		host = m.Header.Get("X-Forwarded-Host")
	case host == "":
		host = m.Tunnel
	}
	fmt.Fprintf(bw, "Host: %s\r\n", headerValue(host))
	names := make([]string, 0, len(m.Header))
	for k := range m.Header {
		if !framing[http.CanonicalHeaderKey(k)] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range m.Header[k] {
			fmt.Fprintf(bw, "%s: %s\r\n", k, headerValue(v))
		}
	}
	if len(m.Body) > 0 || m.Method == http.MethodPost || m.Method == http.MethodPut || m.Method == http.MethodPatch {
		fmt.Fprintf(bw, "Content-Length: %s\r\n", strconv.Itoa(len(m.Body)))
	}
	bw.WriteString("\r\n")
	bw.Write(m.Body)
	return bw.Flush()
}

// headerValue keeps a value on its line: the journal holds what a server
// accepted, which has no line breaks, but a file is no place to trust that.
func headerValue(v string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
}
