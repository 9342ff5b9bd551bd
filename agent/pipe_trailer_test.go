package agent

import (
	"bufio"
	"errors"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// A chunked body's trailer section is read whole, every field line of
// it, and nothing past its end: what follows stays in the reader for the
// next message.
func TestChunkedBodyTrailers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, trailers string
		wantErr        error // nil: the section is read as it came
	}{
		{name: "none", trailers: "\r\n"},
		{name: "one", trailers: "X-A: 1\r\n\r\n"},
		{name: "two", trailers: "X-A: 1\r\nX-B: 2\r\n\r\n"},
		{name: "three, LF ends", trailers: "X-A: 1\nX-B: 2\nX-C:3\n\n"},
		{name: "space before the colon", trailers: "X-A : 1\r\n\r\n", wantErr: errBadHead},
		{name: "folded", trailers: "X-A: 1\r\n folded\r\n\r\n", wantErr: errBadHead},
		{name: "no colon", trailers: "X-A: 1\r\nX-B\r\n\r\n", wantErr: errBadHead},
		{name: "control character", trailers: "X-A: 1\x01\r\n\r\n", wantErr: errBadHead},
		{name: "bare CR", trailers: "X-A: 1\rX-B: 2\r\n\r\n", wantErr: errBadHead},
		{name: "cut short", trailers: "X-A: 1\r\nX-B: 2\r\n", wantErr: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const next = "HTTP/1.1 200 OK\r\n"
			in := "2\r\nok\r\n0\r\n" + tc.trailers
			if tc.wantErr != io.ErrUnexpectedEOF {
				in += next
			}
			br := bufio.NewReader(strings.NewReader(in))
			c := &chunkedBody{br: br, r: httputil.NewChunkedReader(br)}
			body, err := io.ReadAll(c)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read %q, err %v; want %v", body, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(body) != "ok" {
				t.Fatalf("read %q, err %v", body, err)
			}
			want := strings.TrimSuffix(strings.TrimSuffix(tc.trailers, "\n"), "\r")
			if string(c.trailers) != want {
				t.Errorf("trailers %q, want %q", c.trailers, want)
			}
			if rest, _ := io.ReadAll(br); string(rest) != next {
				t.Errorf("left in the reader %q, want %q", rest, next)
			}
		})
	}
}
