package edge

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/policy"
)

const goodHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		wantLine   int
		wantField  string
		wantMsg    string
	}{
		{"missing domain", "agents: []\n", 1, "domain", "is required"},
		{"bad glob", "domain: h.test\nagents:\n  - name: a\n    token_sha256: " + goodHash + "\n    tunnels: [\"[\"]\n", 5, "agents[0].tunnels[0]", "not a name or glob"},
		{"duplicate agent", "domain: h.test\nagents:\n  - name: a\n    token_sha256: " + goodHash + "\n    tunnels: [a]\n  - name: a\n    token_sha256: " + goodHash + "\n    tunnels: [b]\n", 6, "agents[1].name", "used twice"},
		{"bad tunnel name", "domain: h.test\ntunnels:\n  Bad_Name:\n    routes: []\n", 3, "tunnels.Bad_Name", "not a valid tunnel name"},
		{"route path", "domain: h.test\ntunnels:\n  gh:\n    routes:\n      - path: /ok\n      - path: nope\n", 6, "tunnels.gh.routes[1].path", "must start with /"},
		{"unknown field", "domain: h.test\nlisten_on: x\n", 2, "", `unknown field "listen_on" (did you mean "listen"?)`},
		{"unknown route field", "domain: h.test\ntunnels:\n  demo:\n    routes:\n      - path: /a\n        methds: [POST]\n", 6, "tunnels.demo.routes[0]", `unknown field "methds" (did you mean "methods"?)`},
		{"unknown agent field", "domain: h.test\nagents:\n  - name: a\n    token: abc\n", 4, "agents[0]", `unknown field "token" (did you mean "token_sha256"?)`},
		{"retention in words", "domain: h.test\nretention: 7 days\n", 2, "retention", `"7 days" is not a duration (use Go's form: 168h, 90m, 30s)`},
		{"journal size", "domain: h.test\njournal:\n  max_database: 1 gig\n", 3, "journal.max_database", `"1 gig" is not a size (e.g. 10MiB, 512KiB or 4096)`},
		{"limit not a number", "domain: h.test\nlimits:\n  max_header_bytes: 1 KiB\n", 3, "limits.max_header_bytes", `"1 KiB" is not a whole number`},
		{"bool", "domain: h.test\nproxy_protocol: maybe\n", 2, "proxy_protocol", `"maybe" is not true or false`},
		{"one value for a list", "domain: h.test\ntrusted_proxies: 10.0.0.1\n", 2, "trusted_proxies", `"10.0.0.1" is not a list (write [10.0.0.1], or one "- item" line each)`},
		{"tls mode", "domain: h.test\ntls: maybe\n", 2, "tls", "not one of"},
		{"admin host with a port", "domain: h.test\nadmin:\n  hosts:\n    - hooks-admin.example\n    - hooks-admin.example:9090\n", 5, "admin.hosts[1]", "has a port"},
		{"admin host wildcard", "domain: h.test\nadmin:\n  hosts: [\"*.example.com\"]\n", 3, "admin.hosts[0]", "wildcard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "edge.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfigFile(file, DefaultConfig())
			var ce *policy.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a ConfigError", err)
			}
			if ce.File != file || ce.Line != tc.wantLine || ce.Field != tc.wantField || !strings.Contains(ce.Err.Error(), tc.wantMsg) {
				t.Errorf("got %s:%d field %q: %v; want line %d field %q containing %q", ce.File, ce.Line, ce.Field, ce.Err, tc.wantLine, tc.wantField, tc.wantMsg)
			}
		})
	}
}

func TestConfigFileFlagsAndDefaults(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "edge.yaml")
	os.WriteFile(file, []byte("domain: Hooks.Example.com.\nlisten: 127.0.0.1:8443\n"), 0o600)
	cfg, err := LoadConfigFile(file, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if c.domain != "hooks.example.com" || cfg.AdminListen != "127.0.0.1:9090" || c.publicPort != "8443" {
		t.Errorf("domain %q, admin %q, public port %q", c.domain, cfg.AdminListen, c.publicPort)
	}
	if got := c.publicURL("gh", "/hook"); got != "https://gh.hooks.example.com:8443/hook" {
		t.Errorf("publicURL = %q", got)
	}
}

func TestGrantAllows(t *testing.T) {
	t.Parallel()
	g := &grant{tunnels: []string{"demo", "ci-*"}}
	for name, want := range map[string]bool{"demo": true, "ci-1": true, "ci-": true, "demo2": false, "x-ci-1": false} {
		if got := g.allows(name); got != want {
			t.Errorf("allows(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCanonicalHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Demo.Hooks.Test:8080": "demo.hooks.test",
		"demo.hooks.test.":     "demo.hooks.test",
		"[::1]:80":             "::1",
		"localhost":            "localhost",
	} {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}
