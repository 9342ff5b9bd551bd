package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// pair runs an edge-side handler that accepts the token "tok" on the
// upgrade, admits or refuses the Hello with decide, and dials it as an
// agent.
func pair(t *testing.T, hello Hello, decide func(Hello) (Welcome, *Refusal)) (agent, edge *Session, welcome Welcome, err error) {
	t.Helper()
	return pairWith(t, DefaultConfig(), hello, decide)
}

// pairWith is pair with both sides on cfg.
func pairWith(t *testing.T, cfg Config, hello Hello, decide func(Hello) (Welcome, *Refusal)) (agent, edge *Session, welcome Welcome, err error) {
	t.Helper()
	edgeCh := make(chan *Session, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsUpgrade(r) {
			http.NotFound(w, r)
			return
		}
		p, err := Accept(w, r, cfg, acceptToken("tok"))
		if err != nil {
			edgeCh <- nil
			return
		}
		wel, ref := decide(p.Hello)
		if ref != nil {
			p.Refuse(*ref)
			edgeCh <- nil
			return
		}
		s, err := p.Admit(wel)
		if err != nil {
			edgeCh <- nil
			return
		}
		edgeCh <- s
		<-s.Done()
	}))
	t.Cleanup(srv.Close)
	agent, welcome, err = Dial(context.Background(), srv.URL, hello, cfg, nil)
	edge = <-edgeCh
	if agent != nil {
		t.Cleanup(func() { agent.Close() })
	}
	if edge != nil {
		t.Cleanup(func() { edge.Close() })
	}
	return agent, edge, welcome, err
}

func TestHandshakeAdmits(t *testing.T) {
	t.Parallel()
	var got Hello
	agent, edge, welcome, err := pair(t, Hello{Token: "tok", Name: "demo", Target: "http://127.0.0.1:8000", AgentVersion: "v1"},
		func(h Hello) (Welcome, *Refusal) {
			got = h
			return Welcome{Tunnel: "demo", SessionID: "s1", URLs: []string{"https://demo.example.com/hook"}}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if got.Token != "tok" || got.Name != "demo" || got.Protocol != ProtocolVersion || got.Target != "http://127.0.0.1:8000" {
		t.Errorf("edge got hello %+v", got)
	}
	if welcome.Tunnel != "demo" || welcome.SessionID != "s1" || len(welcome.URLs) != 1 {
		t.Errorf("agent got welcome %+v", welcome)
	}
	// The edge opens a stream; the agent accepts it and echoes.
	go func() {
		c, err := agent.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := edge.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
}

func TestHandshakeRefusal(t *testing.T) {
	t.Parallel()
	_, _, _, err := pair(t, Hello{Token: "tok"}, func(Hello) (Welcome, *Refusal) {
		return Welcome{}, &Refusal{Code: RefusedName, Message: "not this name", Permanent: true}
	})
	var r *Refusal
	if !errors.As(err, &r) || r.Code != RefusedName || !IsPermanent(err) {
		t.Fatalf("Dial error = %v, want a permanent name_not_granted refusal", err)
	}
}

func TestGoAwayReachesThePeer(t *testing.T) {
	t.Parallel()
	agent, edge, _, err := pair(t, Hello{Token: "tok"}, func(Hello) (Welcome, *Refusal) { return Welcome{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.GoAway("restart"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-agent.GoingAway():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not hear the edge going away")
	}
	if agent.IsClosed() {
		t.Error("going away closed the session; in-flight streams must be able to finish")
	}
}

func TestDialRefusesNonEdge(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, _, err := Dial(context.Background(), srv.URL, Hello{Token: "t"}, DefaultConfig(), nil)
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "is it a hooktunnel edge") || IsPermanent(err) {
		t.Fatalf("Dial to a non-edge = %v", err)
	}
}

func TestConnectURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://hooks.example.com", "wss://hooks.example.com/_hooktunnel/v1/connect"},
		{"http://localhost:8080/", "ws://localhost:8080/_hooktunnel/v1/connect"},
		{"https://hooks.example.com/x?y=1", "wss://hooks.example.com/_hooktunnel/v1/connect"},
		{"ftp://hooks.example.com", ""},
		{"hooks.example.com", ""},
	}
	for _, tc := range tests {
		got, err := ConnectURL(tc.in)
		if (tc.want == "") != (err != nil) || got != tc.want {
			t.Errorf("ConnectURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// A peer that stops answering (its process frozen) is noticed by the
// keepalive: the session closes by itself.
func TestKeepaliveNoticesFrozenPeer(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 50*time.Millisecond, 100*time.Millisecond
	a, b := net.Pipe()
	frozen := &freezable{Conn: b, frozen: make(chan struct{}), thaw: make(chan struct{})}
	client, err := yamux.Client(a, cfg.yamux())
	if err != nil {
		t.Fatal(err)
	}
	server, err := yamux.Server(frozen, cfg.yamux())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(frozen.thaw); server.Close(); client.Close() })
	close(frozen.frozen)
	select {
	case <-client.CloseChan():
	case <-time.After(10 * time.Second):
		t.Fatal("a frozen peer went unnoticed")
	}
}

// freezable stops reading and writing once frozen, as a stopped process would.
type freezable struct {
	net.Conn
	frozen, thaw chan struct{}
}

func (f *freezable) Read(p []byte) (int, error) {
	select {
	case <-f.frozen:
		<-f.thaw // like a SIGSTOPped peer: no answer until the test ends
		return 0, io.EOF
	default:
		return f.Conn.Read(p)
	}
}

func FuzzDecodeHello(f *testing.F) {
	f.Add([]byte(`{"protocol":1,"token":"t","name":"demo","target":"http://127.0.0.1:8000","routes":{"routes":[{"path":"/a"}]}}`))
	f.Add([]byte(`{"protocol":2,"token":"t"}`))
	f.Add([]byte(`{"protocol":1,"token":"t","name":"Bad Name"}`))
	f.Add([]byte(`{"protocol":1,"token":"t","targets":[{"local":"http://127.0.0.1:8000"},{"name":"billing","path":"/b","local":"http://127.0.0.1:7000 (strips /b)"}]}`))
	f.Add([]byte(`{"protocol":1,"token":"t","targets":[{"name":"` + strings.Repeat("n", 64) + `","local":"x"}]}`))
	f.Add([]byte(`{"protocol":1,"token":"t","name":"a","tunnels":[{"name":"a","target":"x","routes":{"routes":[{"path":"/a"}]}},{"name":"b","targets":[{"name":"n","local":"y"}]}]}`))
	f.Add([]byte(`{"protocol":1,"token":"t","tunnels":[{"name":"a"},{"name":"a"}]}`))
	f.Add([]byte(`{"protocol":1,"token":"t","name":"b","tunnels":[{"name":"a"},{"name":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHello(b)
		if err != nil {
			return
		}
		if h.Protocol != ProtocolVersion || len(h.Token) > maxTokenLen || (h.Name != "" && !ValidName(h.Name)) {
			t.Fatalf("accepted an invalid hello: %+v", h)
		}
		if len(h.Targets) > maxTargets {
			t.Fatalf("accepted %d targets", len(h.Targets))
		}
		for _, tg := range h.Targets {
			if len(tg.Name) > 63 || len(tg.Path) > 1024 || len(tg.Local) > 1024 {
				t.Fatalf("accepted a target too long: %+v", tg)
			}
		}
		if len(h.Tunnels) > MaxTunnels {
			t.Fatalf("accepted %d tunnels", len(h.Tunnels))
		}
		seen := map[string]bool{}
		for _, tn := range h.Tunnels {
			if !ValidName(tn.Name) || seen[tn.Name] || len(tn.Target) > 1024 || len(tn.Targets) > maxTargets {
				t.Fatalf("accepted an invalid tunnel: %+v", tn)
			}
			seen[tn.Name] = true
			for _, tg := range tn.Targets {
				if len(tg.Name) > 63 || len(tg.Path) > 1024 || len(tg.Local) > 1024 {
					t.Fatalf("accepted a tunnel's target too long: %+v", tg)
				}
			}
		}
		if asked := h.TunnelsAsked(); len(h.Tunnels) > 0 && h.Name != "" && asked[0].Name != h.Name {
			t.Fatalf("the hello's name %q is not its first tunnel's %q", h.Name, asked[0].Name)
		}
	})
}
