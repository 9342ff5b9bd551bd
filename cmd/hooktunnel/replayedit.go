package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// editReplay opens a stored message's headers and body in the user's
// editor and returns the replay API's edit for what was saved, or nil
// when the file was emptied (cancelled).
func editReplay(ctx context.Context, c *apiClient, id string) ([]byte, error) {
	_, m, err := c.message(ctx, id)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hooktunnel-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, id+".http")
	if err := os.WriteFile(file, formatEditable(m), 0o600); err != nil {
		return nil, err
	}
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// The editor may carry arguments ("code --wait"), as git allows.
	args := strings.Fields(editor)
	run := exec.CommandContext(ctx, args[0], append(args[1:], file)...)
	run.Stdin, run.Stdout, run.Stderr = os.Stdin, os.Stderr, os.Stderr
	if err := run.Run(); err != nil {
		return nil, fmt.Errorf("the editor %q failed: %w", editor, err)
	}
	saved, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(saved)) == 0 {
		fmt.Fprintln(os.Stderr, "The file is empty: nothing replayed.")
		return nil, nil
	}
	header, body, err := parseEditable(saved)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return json.Marshal(map[string]any{"header": header, "body": body})
}

// editableComment starts the file: lines starting with # before the
// headers are ignored.
const editableComment = "# Edit the headers (Name: value) and the body below the blank line; save and quit\n# to send it. Values shown as [redacted] are not sent. An empty file cancels.\n"

// formatEditable writes a message as its comment, "Name: value" lines, a
// blank line and the body.
func formatEditable(m *store.Message) []byte {
	var b bytes.Buffer
	b.WriteString(editableComment)
	fmt.Fprintf(&b, "# %s %s\n", m.Method, m.Path)
	for _, name := range slices.Sorted(maps.Keys(m.Header)) {
		for _, v := range m.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	b.WriteString("\n")
	b.Write(m.Body)
	return b.Bytes()
}

// parseEditable reads what formatEditable wrote, as the user left it: the
// body is every byte after the first blank line.
func parseEditable(data []byte) (http.Header, []byte, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	header := http.Header{}
	inHeaders := false
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return header, []byte{}, nil // no blank line: headers only, empty body
		}
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case !inHeaders && strings.HasPrefix(trimmed, "#"):
			continue
		case trimmed == "":
			rest, err := io.ReadAll(r)
			return header, rest, err
		}
		inHeaders = true
		name, value, ok := strings.Cut(trimmed, ":")
		if !ok || strings.TrimSpace(name) != name || name == "" {
			return nil, nil, fmt.Errorf("line %d: %q is not a header (Name: value)", n, trimmed)
		}
		header.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
}
