package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// A hostile agent (a token holder, not a trusted peer) that answers each
// request twice has queued an answer for the next request on the same
// stream. The edge must give every sender its own answer: a kept stream is
// reused only at a message boundary.
func TestHostileAgentCannotQueueAnswersForTheNextRequest(t *testing.T) {
	tok := newToken("evil", false, "evil")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  evil:
    routes:
      - path: /hook
        methods: [POST]
`))
	sess, _, err := tunnel.Dial(context.Background(), e.url(), tunnel.Hello{Token: tok.token, Name: "evil", Target: "http://127.0.0.1:1"}, tunnel.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	go func() {
		for {
			c, err := sess.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					answer := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
					forged := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
					if _, err := io.WriteString(c, answer+forged); err != nil {
						return
					}
				}
			}()
		}
	}()

	c := e.client(10 * time.Second)
	for i := range 10 {
		want := fmt.Sprintf("webhook-%d", i)
		resp, err := c.Post(e.hookURL("evil", "/hook"), "text/plain", strings.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != want {
			t.Fatalf("sender %d got %q, want its own answer %q", i, got, want)
		}
	}
}
