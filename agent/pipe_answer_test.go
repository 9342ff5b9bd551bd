package agent

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// connectionNames is a Connection value listing n names, n0 to n(n-1).
func connectionNames(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	return strings.Join(names, ", ")
}

// The Connection header of an app's answer: close, and the names of the
// headers the proxy removes (none when it closes an HTTP/1.1 answer,
// whose Connection header net/http drops whole); more names than
// maxConnectionNames are refused.
func TestAnswerConnection(t *testing.T) {
	t.Parallel()
	many := connectionNames(10000)
	for _, tc := range []struct {
		name, version string
		connection    []string
		wantErr       error
		wantClose     bool
		wantDropped   []string
	}{
		{name: "none", version: "HTTP/1.1"},
		{name: "keep-alive", version: "HTTP/1.1", connection: []string{"keep-alive"}, wantDropped: []string{"keep-alive"}},
		{name: "close", version: "HTTP/1.1", connection: []string{"close"}, wantClose: true},
		{name: "Close, X-Foo", version: "HTTP/1.1", connection: []string{"X-Foo, Close"}, wantClose: true},
		{name: "names in two headers, empty elements", version: "HTTP/1.1", connection: []string{" X-Foo ,, keep-alive", ",X-Bar"},
			wantDropped: []string{"X-Foo", "keep-alive", "X-Bar"}},
		{name: "HTTP/1.0 close keeps the names", version: "HTTP/1.0", connection: []string{"close, X-Foo"}, wantClose: true,
			wantDropped: []string{"close", "X-Foo"}},
		{name: "as many names as allowed", version: "HTTP/1.1", connection: []string{connectionNames(maxConnectionNames)},
			wantDropped: strings.Split(connectionNames(maxConnectionNames), ", ")},
		{name: "one name too many", version: "HTTP/1.1", connection: []string{connectionNames(maxConnectionNames + 1)}, wantErr: errAppConnection},
		{name: "10,000 names", version: "HTTP/1.1", connection: []string{many}, wantErr: errAppConnection},
		{name: "10,000 names in as many headers", version: "HTTP/1.1", connection: strings.Split(many, ", "), wantErr: errAppConnection},
		{name: "10,000 names and close", version: "HTTP/1.1", connection: []string{many + ", close"}, wantClose: true},
		{name: "HTTP/1.0, 10,000 names and close", version: "HTTP/1.0", connection: []string{"close, " + many}, wantErr: errAppConnection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			b.WriteString(tc.version + " 200 OK\r\nContent-Length: 2\r\n")
			for _, v := range tc.connection {
				b.WriteString("Connection: " + v + "\r\n")
			}
			b.WriteString("\r\n")
			var a answer
			err := a.read([]byte(b.String()), []byte("POST"))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("read: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var dropped []string
			for _, name := range a.dropped {
				dropped = append(dropped, string(name))
			}
			if a.close != tc.wantClose || !slices.Equal(dropped, tc.wantDropped) {
				t.Errorf("close %v, dropped %q; want %v, %q", a.close, dropped, tc.wantClose, tc.wantDropped)
			}
		})
	}
}
