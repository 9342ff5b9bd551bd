package certs

import (
	"context"
	"errors"
	"testing"
)

func TestTunnelHostsPolicy(t *testing.T) {
	t.Parallel()
	asked := map[string]int{}
	known := func(_ context.Context, name string) (bool, error) {
		asked[name]++
		switch name {
		case "demo", "ci-swift-otter-3f9a":
			return true, nil
		case "broken":
			return false, errors.New("store unavailable")
		}
		return false, nil
	}
	policy := TunnelHosts("Hooks.Example.com.", known)
	for _, tc := range []struct {
		name, host string
		allowed    bool
		askedFor   string // the name known must have been asked about, "" for none
	}{
		{"the apex", "hooks.example.com", true, ""},
		{"the apex, any case, final dot and port", "HOOKS.example.com.:443", true, ""},
		{"a configured or registered tunnel", "demo.hooks.example.com", true, "demo"},
		{"an allocated name", "ci-swift-otter-3f9a.hooks.example.com", true, "ci-swift-otter-3f9a"},
		{"a port from the HTTP-01 Host header", "demo.hooks.example.com:80", true, "demo"},
		{"an unknown tunnel", "random.hooks.example.com", false, "random"},
		{"two labels below the apex", "a.demo.hooks.example.com", false, ""},
		{"another domain", "demo.example.org", false, ""},
		{"a suffix that is not a label boundary", "demohooks.example.com", false, ""},
		{"the apex inside another name", "hooks.example.com.evil.test", false, ""},
		{"an invalid label", "de_mo.hooks.example.com", false, ""},
		{"a label ending in '-'", "demo-.hooks.example.com", false, ""},
		{"an IP address", "127.0.0.1", false, ""},
		{"no SNI", "", false, ""},
		{"a lookup error fails closed", "broken.hooks.example.com", false, "broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clear(asked)
			err := policy(context.Background(), tc.host)
			if tc.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.allowed && !errors.Is(err, ErrHostNotAllowed) {
				t.Fatalf("got %v, want ErrHostNotAllowed", err)
			}
			if tc.askedFor == "" && len(asked) > 0 {
				t.Errorf("known was asked about %v; a host outside the shape must not reach it", asked)
			}
			if tc.askedFor != "" && asked[tc.askedFor] != 1 {
				t.Errorf("known was asked %v, want once about %q", asked, tc.askedFor)
			}
		})
	}
}

func TestDefaultModeFollowsTheDomain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		domain, mode string
	}{
		{"hooks.example.com", ModeACME},
		{"HOOKS.Example.COM.", ModeACME},
		{"tunnel.dev", ModeACME},
		{"localhost", ModeOff},
		{"hooks.localhost", ModeOff},
		{"127.0.0.1", ModeOff},
		{"::1", ModeOff},
		{"hooks.test", ModeOff},
		{"example", ModeOff},
		{"hooks.internal", ModeOff},
		{"nas.home.arpa", ModeOff},
		{"printer.local", ModeOff},
		{"intranet", ModeOff},
	} {
		if got := DefaultMode(tc.domain); got != tc.mode {
			t.Errorf("DefaultMode(%q) = %s, want %s", tc.domain, got, tc.mode)
		}
	}
}
