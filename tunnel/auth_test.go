package tunnel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
)

// acceptToken is an Authorize that accepts one token.
func acceptToken(want string) Authorize {
	return func(_ *http.Request, token string) error {
		if token != want {
			return errors.New("unknown token")
		}
		return nil
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxTokenLen)
	tests := []struct {
		name   string
		values []string
		want   string // "" for a refusal
	}{
		{name: "bearer", values: []string{"Bearer ht_abc"}, want: "ht_abc"},
		{name: "scheme in any case", values: []string{"bEARER ht_abc"}, want: "ht_abc"},
		{name: "token68 characters", values: []string{"Bearer a-._~+/b=="}, want: "a-._~+/b=="},
		{name: "other visible characters", values: []string{`Bearer a!"#$%&'()*,:;<>?@[\]^{|}`}, want: `a!"#$%&'()*,:;<>?@[\]^{|}`},
		{name: "longest token", values: []string{"Bearer " + long}, want: long},
		{name: "no header", values: nil},
		{name: "two headers", values: []string{"Bearer a", "Bearer a"}},
		{name: "empty", values: []string{""}},
		{name: "scheme only", values: []string{"Bearer"}},
		{name: "empty token", values: []string{"Bearer "}},
		{name: "two spaces", values: []string{"Bearer  ht_abc"}},
		{name: "tab", values: []string{"Bearer\tht_abc"}},
		{name: "space in token", values: []string{"Bearer ht abc"}},
		{name: "trailing space", values: []string{"Bearer ht_abc "}},
		{name: "other scheme", values: []string{"Basic ht_abc"}},
		{name: "no scheme", values: []string{"ht_abc"}},
		{name: "scheme prefix", values: []string{"Bearerx ht_abc"}},
		{name: "non-ASCII", values: []string{"Bearer ht_äbc"}},
		{name: "control character", values: []string{"Bearer ht_\x00abc"}},
		{name: "too long", values: []string{"Bearer " + long + "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Authorization": tc.values}
			got, err := BearerToken(h)
			if tc.want == "" {
				if !errors.Is(err, ErrNoBearerToken) || got != "" {
					t.Fatalf("BearerToken(%q) = %q, %v; want ErrNoBearerToken", tc.values, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("BearerToken(%q) = %q, %v; want %q", tc.values, got, err, tc.want)
			}
		})
	}
}

// upgradeEdge is an edge side that accepts token "tok" and records what
// Accept returned.
func upgradeEdge(t *testing.T) (*httptest.Server, <-chan error) {
	t.Helper()
	errs := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := Accept(w, r, DefaultConfig(), acceptToken("tok"))
		errs <- err
		if err != nil {
			return
		}
		if s, err := p.Admit(Welcome{Tunnel: "demo"}); err == nil {
			// Closing at once could end the session before the agent has
			// read the Welcome: wait for the agent to close it (bounded).
			select {
			case <-s.Done():
			case <-time.After(10 * time.Second):
			}
			s.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, errs
}

// TestUpgradeRefusesBadToken: a token authorize refuses is answered 401
// before the upgrade, and Dial reports it as a permanent bad_token
// refusal.
func TestUpgradeRefusesBadToken(t *testing.T) {
	t.Parallel()
	srv, errs := upgradeEdge(t)
	_, _, err := Dial(context.Background(), srv.URL, Hello{Token: "not-tok"}, DefaultConfig(), nil)
	var r *Refusal
	if !errors.As(err, &r) || r.Code != RefusedBadToken || !IsPermanent(err) || !strings.Contains(r.Message, "token is not valid") {
		t.Fatalf("Dial with a bad token = %v, want a permanent bad_token refusal", err)
	}
	if err := <-errs; !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Accept = %v, want ErrUnauthorized", err)
	}
}

// TestUpgradeWithoutToken: a plain upgrade request with no Authorization
// gets a 401 JSON answer and no websocket.
func TestUpgradeWithoutToken(t *testing.T) {
	t.Parallel()
	srv, errs := upgradeEdge(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+Path, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error, Message string }
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(raw, &body) != nil || body.Error != RefusedBadToken {
		t.Fatalf("answer %s %q, want 401 with a bad_token body", resp.Status, raw)
	}
	if !errors.Is(<-errs, ErrUnauthorized) {
		t.Fatal("Accept did not report ErrUnauthorized")
	}
}

func TestInvalidTokenIsNotSent(t *testing.T) {
	t.Parallel()
	_, _, err := Dial(context.Background(), "http://127.0.0.1:1", Hello{Token: "has space"}, DefaultConfig(), nil)
	if !errors.Is(err, ErrInvalidToken) || !IsPermanent(err) {
		t.Fatalf("Dial with an unsendable token = %v, want permanent ErrInvalidToken", err)
	}
}

// TestHelloToken: once the upgrade is authenticated, the Hello may leave
// the token out or repeat it, but not carry another one.
func TestHelloToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, helloToken string
		wantRefusal      bool
	}{
		{name: "repeated", helloToken: "tok"},
		{name: "left out", helloToken: ""},
		{name: "another token", helloToken: "other", wantRefusal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, errs := upgradeEdge(t)
			w := handshakeAs(t, srv.URL, "tok", Hello{Protocol: ProtocolVersion, Token: tc.helloToken})
			err := <-errs
			if tc.wantRefusal {
				if w.Refusal == nil || w.Refusal.Code != RefusedBadToken || !errors.Is(err, ErrTokenMismatch) {
					t.Fatalf("welcome %+v, Accept %v; want a bad_token refusal and ErrTokenMismatch", w, err)
				}
				return
			}
			if w.Refusal != nil || err != nil || w.Tunnel != "demo" {
				t.Fatalf("welcome %+v, Accept %v; want the agent admitted", w, err)
			}
		})
	}
}

// handshakeAs upgrades with token in the header and sends hello as is.
func handshakeAs(t *testing.T, edge, token string, hello Hello) Welcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL, _ := ConnectURL(edge)
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatal(err)
	}
	mux, err := yamux.Client(websocket.NetConn(context.Background(), ws, websocket.MessageBinary), DefaultConfig().yamux())
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	ctl, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	if err := writeJSON(ctl, hello, deadline); err != nil {
		t.Fatal(err)
	}
	s := newSession(mux, ctl)
	_ = ctl.SetReadDeadline(deadline)
	line, err := readLine(s.reader)
	if err != nil {
		t.Fatal(err)
	}
	var w Welcome
	if err := json.Unmarshal(line, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// Seeds are in testdata/fuzz/FuzzBearerToken.
func FuzzBearerToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, value string) {
		token, err := BearerToken(http.Header{"Authorization": {value}})
		if err != nil {
			if token != "" {
				t.Fatalf("refused %q but returned %q", value, token)
			}
			return
		}
		if !ValidToken(token) || !strings.EqualFold(value[:7], "Bearer ") || value[7:] != token {
			t.Fatalf("accepted %q as token %q", value, token)
		}
	})
}
