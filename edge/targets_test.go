package edge

import (
	"testing"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

func TestLocalTargetOfARoute(t *testing.T) {
	t.Parallel()
	targets := []tunnel.TargetInfo{
		{Local: "http://127.0.0.1:8000"},
		{Path: "/stripe", Local: "http://127.0.0.1:9000 (strips /stripe)"},
		{Path: "/stripe/connect", Local: "http://127.0.0.1:9001"},
		{Name: "billing", Local: "http://127.0.0.1:7000"},
	}
	p, err := policy.Config{Routes: []policy.RouteConfig{
		{Path: "/github"},
		{Path: "/stripe/"},
		{Path: "/stripe/connect/{id}"},
		{Path: "/stripex"},
		{Path: "/invoices", Target: "billing"},
		{Path: "/payroll", Target: "payroll"},
	}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/github":              "http://127.0.0.1:8000",
		"/stripe/":             "http://127.0.0.1:9000 (strips /stripe)",
		"/stripe/connect/{id}": "http://127.0.0.1:9001",
		"/stripex":             "http://127.0.0.1:8000",
		"/invoices":            "http://127.0.0.1:7000",
		"/payroll":             "",
	}
	for _, rt := range p.Routes() {
		t.Run(rt.Path, func(t *testing.T) {
			if got := localTargetOf(targets, rt); got != want[rt.Path] {
				t.Errorf("got %q, want %q", got, want[rt.Path])
			}
		})
	}
	if got := localTargetOf(nil, p.Routes()[0]); got != "" {
		t.Errorf("an agent that described nothing: %q", got)
	}
}
