package test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
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
	go tunneltest.ServeRaw(sess.Accept, tunneltest.ForgedEcho)

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
