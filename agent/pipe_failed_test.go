package agent

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// firstConnApp answers every request on its first connection with bad,
// and on every later one with a good answer ("ok"). It counts the
// connections it accepts.
func firstConnApp(t *testing.T, bad string) (addr string, accepts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepts = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			answer := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			if accepts.Add(1) == 1 {
				answer = bad
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), accepts
}

// An answer the pipe refuses is the agent's 502, and the connection it
// came on is closed, not kept for the next request: the next one goes to
// a new connection and gets the app's answer.
func TestPipeFailedAnswerNotKept(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, bad string
		interims  int
	}{
		{name: "malformed length", bad: "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n"},
		{name: "malformed head", bad: "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n"},
		{name: "unasked 101", bad: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"},
		{name: "10,000 Connection names", bad: "HTTP/1.1 200 OK\r\nConnection: " + connectionNames(10000) + "\r\n" +
			strings.Repeat("X-Field: 1\r\n", 10000) + "Content-Length: 2\r\n\r\nok"},
		{name: "too many 1xx", bad: strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", max1xx+1), interims: max1xx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, accepts := firstConnApp(t, tc.bad)
			_, piped, _ := twoAgents(t, addr, nil, "")
			got := roundTrip(t, piped, "POST", request("POST", "/a", "", "x"), request("POST", "/b", "", "y"))
			if len(got) != 2 {
				t.Fatalf("the edge read %d answers: %+v", len(got), got)
			}
			if got[0].Status != http.StatusBadGateway || got[0].Header.Get(tunnel.HeaderError) != "app_error" || got[0].Interims != tc.interims {
				t.Errorf("first answer %+v, want the agent's 502 app_error after %d interim answers", got[0], tc.interims)
			}
			if got[1].Status != http.StatusOK || got[1].Body != "ok" || got[1].ReadErr != "" {
				t.Errorf("second answer %+v, want the app's 200 ok", got[1])
			}
			if n := accepts.Load(); n != 2 {
				t.Errorf("the app accepted %d connections, want 2 (the failed one not reused)", n)
			}
		})
	}
}
