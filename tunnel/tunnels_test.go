package tunnel

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// helloWith is a valid Hello's JSON with the given tunnels.
func helloWith(t *testing.T, name string, tunnels []TunnelHello) []byte {
	t.Helper()
	b, err := json.Marshal(Hello{Protocol: ProtocolVersion, Token: "tok", Name: name, Tunnels: tunnels})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeHelloTunnels(t *testing.T) {
	t.Parallel()
	many := make([]TunnelHello, MaxTunnels+1)
	for i := range many {
		many[i] = TunnelHello{Name: fmt.Sprintf("t%d", i)}
	}
	for _, tc := range []struct {
		name    string
		hello   string // the Hello's name
		tunnels []TunnelHello
		wantErr string // "" to accept
	}{
		{"two tunnels", "github", []TunnelHello{{Name: "github", Target: "http://127.0.0.1:8000"}, {Name: "stripe", Target: "http://127.0.0.1:9000"}}, ""},
		{"no name repeats the first", "", []TunnelHello{{Name: "github"}, {Name: "stripe"}}, ""},
		{"the limit", "", many[:MaxTunnels], ""},
		{"over the limit", "", many, "more than 32 tunnels"},
		{"a tunnel without a name", "", []TunnelHello{{Name: "github"}, {Name: ""}}, `tunnels[1]: "" is not a valid tunnel name`},
		{"a bad name", "", []TunnelHello{{Name: "Bad Name"}}, `tunnels[0]: "Bad Name" is not a valid`},
		{"a name twice", "", []TunnelHello{{Name: "github"}, {Name: "github"}}, "tunnels[1]: github is asked for twice"},
		{"name not the first tunnel's", "stripe", []TunnelHello{{Name: "github"}, {Name: "stripe"}}, "not its first tunnel's"},
		{"target too long", "", []TunnelHello{{Name: "a", Target: strings.Repeat("x", 1025)}}, "tunnels[0]: hello field too long"},
		{"too many targets", "", []TunnelHello{{Name: "a", Targets: make([]TargetInfo, maxTargets+1)}}, "tunnels[0]: hello describes more than"},
		{"target name too long", "", []TunnelHello{{Name: "a", Targets: []TargetInfo{{Name: strings.Repeat("n", 64)}}}}, "tunnels[0]: hello target field too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := DecodeHello(helloWith(t, tc.hello, tc.tunnels))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !reflect.DeepEqual(h.TunnelsAsked(), tc.tunnels) {
					t.Fatalf("asked for %+v, want %+v", h.TunnelsAsked(), tc.tunnels)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}

// TestSingleTunnelHello: a Hello without Tunnels (an older agent's) asks
// for the one tunnel its own fields describe, and a Welcome without them
// (an older edge's) admits that one.
func TestSingleTunnelHello(t *testing.T) {
	t.Parallel()
	h, err := DecodeHello([]byte(`{"protocol":1,"token":"t","name":"demo","target":"http://127.0.0.1:8000","targets":[{"name":"b","local":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []TunnelHello{{Name: "demo", Target: "http://127.0.0.1:8000", Targets: []TargetInfo{{Name: "b", Local: "x"}}}}
	if got := h.TunnelsAsked(); !reflect.DeepEqual(got, want) {
		t.Fatalf("asked %+v, want %+v", got, want)
	}
	var w Welcome
	if err := json.Unmarshal([]byte(`{"protocol":1,"tunnel":"demo","urls":["https://demo.example.com/a"],"targets":["b"],"warnings":["w"]}`), &w); err != nil {
		t.Fatal(err)
	}
	wantW := []TunnelWelcome{{Tunnel: "demo", URLs: []string{"https://demo.example.com/a"}, Targets: []string{"b"}, Warnings: []string{"w"}}}
	if got := w.TunnelsServed(); !reflect.DeepEqual(got, wantW) {
		t.Fatalf("served %+v, want %+v", got, wantW)
	}
}

// TestWelcomeTunnelsRoundTrip: the Welcome's tunnels survive the wire in
// their order.
func TestWelcomeTunnelsRoundTrip(t *testing.T) {
	t.Parallel()
	in := Welcome{Protocol: ProtocolVersion, Tunnel: "github", Tunnels: []TunnelWelcome{
		{Tunnel: "github", URLs: []string{"https://github.example.com/h"}, Targets: []string{""}},
		{Tunnel: "stripe", URLs: []string{"https://stripe.example.com/h"}, Warnings: []string{"no routes"}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Welcome
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.TunnelsServed(), in.Tunnels) {
		t.Fatalf("got %+v, want %+v", out.TunnelsServed(), in.Tunnels)
	}
}
