package relay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

// fakeRemote is another edge's answer as the relay sees it: it records the
// bodies it was given.
type fakeRemote struct {
	online   bool
	declared *policy.Policy
	err      error

	mu     sync.Mutex
	bodies []string
}

func (f *fakeRemote) Deliver(_ string, req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("remote"))}, nil
}
func (f *fakeRemote) Online(string) bool             { return f.online }
func (f *fakeRemote) Declared(string) *policy.Policy { return f.declared }
func (f *fakeRemote) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}
func answerOf(t *testing.T, resp *http.Response) string { t.Helper(); return readAll(t, resp) }

func TestDeliverGoesRemoteOnlyWhenNoLocalSession(t *testing.T) {
	edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	go http.Serve(agentSide, http.HandlerFunc(echoBody))
	tests := []struct {
		name       string
		tunnel     string
		peered     bool
		remote     *fakeRemote
		wantAnswer string
		wantErr    error
		wantRemote []string
	}{
		{name: "a local session comes first", tunnel: "demo", remote: &fakeRemote{online: true}, wantAnswer: "local body"},
		{name: "no local session: the remote, with the whole body", tunnel: "other", remote: &fakeRemote{online: true}, wantAnswer: "remote", wantRemote: []string{"local body"}},
		{name: "no remote set: no agent", tunnel: "other", wantErr: ErrNoAgent},
		{name: "the remote's no agent is the answer", tunnel: "other", remote: &fakeRemote{err: ErrNoAgent}, wantErr: ErrNoAgent, wantRemote: []string{"local body"}},
		{name: "a request from a peer never makes a second hop", tunnel: "other", peered: true, remote: &fakeRemote{online: true}, wantErr: ErrNoAgent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := relayWith(t, edgeSide)
			if tc.remote != nil {
				r.SetRemote(tc.remote)
			}
			req, _ := http.NewRequest("POST", "http://"+tc.tunnel+"/hook", strings.NewReader("local body"))
			deliver := r.Deliver
			if tc.peered {
				deliver = r.DeliverLocal // what the peer endpoint calls
			}
			resp, err := deliver(tc.tunnel, req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if got := answerOf(t, resp); got != tc.wantAnswer {
				t.Fatalf("answer %q, want %q", got, tc.wantAnswer)
			}
			if tc.remote != nil {
				if got := tc.remote.delivered(); strings.Join(got, "|") != strings.Join(tc.wantRemote, "|") {
					t.Fatalf("the remote got %q, want %q", got, tc.wantRemote)
				}
			}
		})
	}
}

// Online, Known and Declared see the other edges' sessions, so an edge
// with none of its own applies the tunnel's policy and relays instead of
// answering "offline".
func TestOnlineKnownDeclaredConsultTheRemote(t *testing.T) {
	declared, err := policy.Config{}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	r := New(nil)
	if r.Online("x") || r.Known("x") || r.Declared("x") != nil {
		t.Fatal("a lone relay knows a tunnel nobody served")
	}
	rm := &fakeRemote{online: true, declared: declared}
	r.SetRemote(rm)
	if !r.Online("x") || !r.Known("x") || r.Declared("x") != declared {
		t.Fatalf("with a peer holding the tunnel: online %v known %v declared %v", r.Online("x"), r.Known("x"), r.Declared("x"))
	}
	rm.online = false
	if r.Online("x") || r.Known("x") || r.Declared("x") != nil {
		t.Fatal("the peer's session ended, the relay still sees it")
	}
	r.SetRemote(nil)
	if _, err := r.Deliver("x", newRequest("b")); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("remote unset: %v", err)
	}
}

func TestErrorCodesRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"no agent", ErrNoAgent, CodeNoAgent},
		{"agent lost", ErrAgentLost, CodeAgentLost},
		{"body aborted", &BodyError{io.ErrUnexpectedEOF}, CodeBodyAborted},
		{"app unreachable", ErrAppUnreachable, CodeAppUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorCode(tc.err); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
			back := ErrorOf(tc.code, "edge-b")
			if ErrorCode(back) != tc.code {
				t.Fatalf("%q came back as %v", tc.code, back)
			}
		})
	}
	if ErrorCode(context.Canceled) != "" {
		t.Fatal("a caller's cancellation has a relay code")
	}
	if !errors.Is(ErrorOf("made-up", "edge-b"), ErrAgentLost) {
		t.Fatal("an unknown code is not agent lost")
	}
}
