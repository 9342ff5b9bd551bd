package policy

import "testing"

func TestRouteTargetCompiles(t *testing.T) {
	t.Parallel()
	p, err := Config{Routes: []RouteConfig{{Path: "/a", Target: "billing-v2_eu"}, {Path: "/b"}}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range p.Routes() {
		want := map[string]string{"/a": "billing-v2_eu", "/b": ""}[rt.Path]
		if rt.Target != want {
			t.Errorf("%s: target %q, want %q", rt.Path, rt.Target, want)
		}
	}
}
