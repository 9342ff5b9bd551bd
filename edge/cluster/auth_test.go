package cluster

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	t0         = time.Unix(1_700_000_000, 0)
)

// peerRequest is a relayed request from edge-a to edge-b signed at at.
func peerRequest(at time.Time, secret []byte, message, attempt string) *http.Request {
	r, _ := http.NewRequest("POST", "http://edge-b"+PeerPath, nil)
	r.Header.Set(tunnel.HeaderTunnel, "demo")
	r.Header.Set(tunnel.HeaderMessageID, message)
	r.Header.Set(tunnel.HeaderAttempt, attempt)
	if err := Sign(r, secret, "edge-a", "edge-b", at); err != nil {
		panic(err) // no body to read
	}
	return r
}

// withBody is a relayed request of body from edge-a to edge-b, signed at
// t0, then changed by tamper.
func withBody(message, body string, tamper func(*http.Request)) func() *http.Request {
	return func() *http.Request {
		r, _ := http.NewRequest("POST", "http://edge-b"+PeerPath, strings.NewReader(body))
		r.Header.Set(tunnel.HeaderTunnel, "demo")
		r.Header.Set(tunnel.HeaderMessageID, message)
		r.Header.Set(tunnel.HeaderAttempt, "1")
		r.Header.Set(HeaderMethod, "POST")
		r.Header.Set(HeaderURI, "/hook?x=1")
		r.Header.Set(HeaderHost, "demo.hooks.example.com")
		if err := Sign(r, testSecret, "edge-a", "edge-b", t0); err != nil {
			panic(err) // a strings.Reader cannot fail
		}
		if tamper != nil {
			tamper(r)
		}
		return r
	}
}

// The signature covers the request relayed: its method, path with query,
// host, declared length and a body up to relay.MaxRetryBody, which the
// receiver can read again afterwards. A larger body is not covered.
func TestAuthenticateCoversTheRequest(t *testing.T) {
	large := strings.Repeat("x", relay.MaxRetryBody+1)
	tests := []struct {
		name string
		req  func() *http.Request
		want error
		body string // what r.Body reads after a success
	}{
		{name: "as signed", req: withBody("m1", "payload", nil), body: "payload"},
		{name: "no body", req: withBody("m2", "", nil)},
		{name: "another method", req: withBody("m3", "payload", func(r *http.Request) { r.Header.Set(HeaderMethod, "PUT") }), want: ErrBadMAC},
		{name: "another uri", req: withBody("m4", "payload", func(r *http.Request) { r.Header.Set(HeaderURI, "/hook?x=2") }), want: ErrBadMAC},
		{name: "another host", req: withBody("m5", "payload", func(r *http.Request) { r.Header.Set(HeaderHost, "other.example.com") }), want: ErrBadMAC},
		{name: "another body", req: withBody("m6", "payload", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("PAYLOAD")) }), want: ErrBadMAC},
		{name: "another length", req: withBody("m7", "payload", func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("payload!")), 8
		}), want: ErrBadMAC},
		{name: "length unknown", req: withBody("m8", "payload", func(r *http.Request) { r.ContentLength = -1 }), want: ErrBadMAC},
		{name: "body shorter than declared", req: withBody("m9", "payload", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("pay")) }), want: ErrBodyUnread},
		{name: "a large body is not covered", req: withBody("m10", large, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("y", len(large))))
		}), body: strings.Repeat("y", len(large))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			_, err := NewAuthenticator("edge-b").Authenticate(testSecret, r, t0)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrNotAuthenticated) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if r.Body != nil {
				got, _ = io.ReadAll(r.Body)
			}
			if string(got) != tc.body {
				t.Fatalf("the body reads %d bytes after the check, want %d", len(got), len(tc.body))
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name    string
		req     func() *http.Request
		secret  []byte
		at      time.Time
		want    error
		wantErr bool
	}{
		{name: "a signed request", req: func() *http.Request { return peerRequest(t0, testSecret, "m1", "1") }, at: t0},
		{name: "59 s late", req: func() *http.Request { return peerRequest(t0, testSecret, "m2", "1") }, at: t0.Add(59 * time.Second)},
		{name: "59 s early", req: func() *http.Request { return peerRequest(t0, testSecret, "m3", "1") }, at: t0.Add(-59 * time.Second)},
		{name: "stale", req: func() *http.Request { return peerRequest(t0, testSecret, "m4", "1") }, at: t0.Add(61 * time.Second), want: ErrStale},
		{name: "from the future", req: func() *http.Request { return peerRequest(t0, testSecret, "m5", "1") }, at: t0.Add(-61 * time.Second), want: ErrStale},
		{name: "wrong secret", req: func() *http.Request {
			return peerRequest(t0, []byte("another secret of thirty-two bytes!!"), "m6", "1")
		}, at: t0, want: ErrBadMAC},
		{name: "no secret configured", req: func() *http.Request { return peerRequest(t0, testSecret, "m7", "1") }, secret: []byte{}, at: t0, want: ErrBadMAC},
		{name: "missing header", req: func() *http.Request {
			r := peerRequest(t0, testSecret, "m8", "1")
			r.Header.Del(HeaderPeer)
			return r
		}, at: t0, want: ErrNoPeerHeader},
		{name: "two headers", req: func() *http.Request {
			r := peerRequest(t0, testSecret, "m9", "1")
			r.Header.Add(HeaderPeer, r.Header.Get(HeaderPeer))
			return r
		}, at: t0, want: ErrMalformedHeader},
		{name: "another tunnel under the same signature", req: func() *http.Request {
			r := peerRequest(t0, testSecret, "m10", "1")
			r.Header.Set(tunnel.HeaderTunnel, "other")
			return r
		}, at: t0, want: ErrBadMAC},
		{name: "another attempt under the same signature", req: func() *http.Request {
			r := peerRequest(t0, testSecret, "m11", "1")
			r.Header.Set(tunnel.HeaderAttempt, "2")
			return r
		}, at: t0, want: ErrBadMAC},
		{name: "addressed to another edge", req: func() *http.Request {
			r, _ := http.NewRequest("POST", "http://edge-c"+PeerPath, nil)
			r.Header.Set(tunnel.HeaderMessageID, "m12")
			if err := Sign(r, testSecret, "edge-a", "edge-c", t0); err != nil {
				panic(err) // no body to read
			}
			return r
		}, at: t0, want: ErrBadMAC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAuthenticator("edge-b")
			secret := testSecret
			if tc.secret != nil {
				secret = tc.secret
			}
			from, err := a.Authenticate(secret, tc.req(), tc.at)
			if tc.want == nil {
				if err != nil || from != "edge-a" {
					t.Fatalf("got %q, %v; want edge-a", from, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrNotAuthenticated) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), string(testSecret)) {
				t.Fatal("the error carries the secret")
			}
		})
	}
}

// A request taken once is refused when it comes again within the window;
// the next attempt of the same message is another request.
func TestAuthenticateRefusesAReplay(t *testing.T) {
	a := NewAuthenticator("edge-b")
	first := peerRequest(t0, testSecret, "m1", "1")
	if _, err := a.Authenticate(testSecret, first, t0); err != nil {
		t.Fatal(err)
	}
	again := peerRequest(t0, testSecret, "m1", "1")
	if _, err := a.Authenticate(testSecret, again, t0.Add(30*time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v, want ErrReplayed", err)
	}
	if _, err := a.Authenticate(testSecret, peerRequest(t0, testSecret, "m1", "2"), t0.Add(time.Second)); err != nil {
		t.Fatalf("the next attempt: %v", err)
	}
	// After the window the copy is stale, whatever the memory says.
	if _, err := a.Authenticate(testSecret, again, t0.Add(61*time.Second)); !errors.Is(err, ErrStale) {
		t.Fatalf("replay after the window: %v, want ErrStale", err)
	}
}

// The replay memory is bounded: full of requests still in the window, it
// refuses new ones rather than forget one; once they age out it takes
// new ones again.
func TestReplayMemoryIsBounded(t *testing.T) {
	a := NewAuthenticator("edge-b")
	for i := range maxSeen {
		if err := a.remember(seenKey{from: "edge-a", message: "m", attempt: strconv.Itoa(i)}, t0.Unix()+60, t0.Unix()); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if err := a.remember(seenKey{from: "edge-a", message: "one more"}, t0.Unix()+60, t0.Unix()); !errors.Is(err, ErrBusy) {
		t.Fatalf("full memory: %v, want ErrBusy", err)
	}
	if err := a.remember(seenKey{from: "edge-a", message: "one more"}, t0.Unix()+121, t0.Unix()+61); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if len(a.seen) != 1 {
		t.Fatalf("%d entries kept after the window, want 1", len(a.seen))
	}
}

func FuzzParsePeerHeader(f *testing.F) {
	r, _ := http.NewRequest("POST", "http://edge2"+PeerPath, nil)
	if err := Sign(r, testSecret, "edge1-a1b2c3", "edge2-d4e5f6", t0); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		r.Header.Get(HeaderPeer),
		"v1,a,0," + strings.Repeat("0", 64),
		"v1,a,01," + strings.Repeat("0", 64),
		"v1,a,-1," + strings.Repeat("0", 64),
		"v2,a,1," + strings.Repeat("0", 64),
		"v1,,1," + strings.Repeat("0", 64),
		"v1,a,1," + strings.Repeat("A", 64),
		"v1,a b,1,xx",
		"v1,a,99999999999999999999," + strings.Repeat("0", 64),
		"",
		",,,",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ph, err := parsePeerHeader(v)
		if err != nil {
			if !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("%q: %v is not ErrMalformedHeader", v, err)
			}
			return
		}
		if got := ph.String(); got != v {
			t.Fatalf("%q parsed and printed as %q: one header, two spellings", v, got)
		}
		if len(ph.mac) != 32 || ph.ts < 0 || !validEdgeID(ph.from) {
			t.Fatalf("%q parsed into %+v", v, ph)
		}
	})
}
