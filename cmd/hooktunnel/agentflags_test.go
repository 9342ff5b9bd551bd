package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/agent"
)

func TestRouteFlagWithTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		value   string
		path    string
		methods []string
		target  *agent.TargetConfig
		err     string
	}{
		{name: "path only", value: "/webhooks/github", path: "/webhooks/github"},
		{name: "path to a port", value: "/webhooks/github=8000", path: "/webhooks/github",
			target: &agent.TargetConfig{Path: "/webhooks/github", Target: "8000"}},
		{name: "methods, path and URL", value: "POST,PUT /stripe/=https://localhost:9443", path: "/stripe/", methods: []string{"POST", "PUT"},
			target: &agent.TargetConfig{Path: "/stripe/", Target: "https://localhost:9443"}},
		{name: "wildcard route maps its literal prefix", value: "/hooks/{id}=127.0.0.1:7000", path: "/hooks/{id}",
			target: &agent.TargetConfig{Path: "/hooks/", Target: "127.0.0.1:7000"}},
		{name: "bad target", value: "/a=ftp://x", err: `--route "/a=ftp://x": agent: target "ftp://x" must be http:// or https://`},
		{name: "empty target", value: "/a=", err: `--route "/a=": agent: no target`},
		{name: "port out of range", value: "/a=99999", err: `--route "/a=99999": agent: target port 99999 is out of range`},
		{name: "bad path", value: "a=8000", err: `--route "a=8000": routes[0].path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes, targets, err := parseRoutes([]string{tc.value})
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(routes) != 1 || routes[0].Path != tc.path || !reflect.DeepEqual(routes[0].Methods, tc.methods) {
				t.Errorf("routes = %+v", routes)
			}
			var want []agent.TargetConfig
			if tc.target != nil {
				want = []agent.TargetConfig{*tc.target}
			}
			if !reflect.DeepEqual(targets, want) {
				t.Errorf("targets = %+v, want %+v", targets, want)
			}
		})
	}
}

func TestTargetFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		want        agent.TargetConfig
		err         string
	}{
		{name: "name and port", value: "billing=7000", want: agent.TargetConfig{Name: "billing", Target: "7000"}},
		{name: "name and URL", value: "shop=http://127.0.0.1:7001/base", want: agent.TargetConfig{Name: "shop", Target: "http://127.0.0.1:7001/base"}},
		{name: "no =", value: "billing", err: `--target "billing": want NAME=ADDR`},
		{name: "empty name", value: "=7000", err: `--target "=7000": "" is not a target name`},
		{name: "upper case name", value: "Billing=7000", err: `--target "Billing=7000": "Billing" is not a target name`},
		{name: "bad address", value: "billing=nowhere", err: `--target "billing=nowhere": agent: target "nowhere" is not a port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNamedTargets([]string{tc.value})
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line starting %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
