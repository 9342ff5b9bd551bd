package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

func TestEditableRoundTrip(t *testing.T) {
	t.Parallel()
	body := []byte(strings.Repeat(`{"big":"body"}`, 1000) + "\n\nwith blank lines\r\n")
	m := &store.Message{Method: "POST", Path: "/hook", Body: body, Header: http.Header{
		"Content-Type":        {"application/json"},
		"X-Hub-Signature-256": {"sha256=ab"},
		"X-Multi":             {"one", "two"},
	}}
	header, got, err := parseEditable(formatEditable(m))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("body changed: %d bytes, want %d", len(got), len(body))
	}
	for k, vs := range m.Header {
		if strings.Join(header[k], "|") != strings.Join(vs, "|") {
			t.Errorf("%s = %v, want %v", k, header[k], vs)
		}
	}
}

func TestParseEditableRefusesWhatIsNotAHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"no colon", "# comment\nContent-Type application/json\n\n{}"},
		{"space before colon", "X-A : b\n\n"},
		{"empty name", ": b\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := parseEditable([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), "line") {
				t.Errorf("err = %v, want one naming the line", err)
			}
		})
	}
}
