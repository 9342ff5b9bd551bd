package tunnel

import "testing"

func TestPathUnder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix, path string
		want         bool
	}{
		{"/webhooks/github", "/webhooks/github", true},
		{"/webhooks/github", "/webhooks/github/push", true},
		{"/webhooks/github", "/webhooks/githubx", false},
		{"/webhooks/github", "/webhooks", false},
		{"/webhooks/", "/webhooks/a", true},
		{"/webhooks/", "/webhooks", false},
		{"/", "/anything", true},
		{"", "/anything", false},
	} {
		if got := PathUnder(tc.prefix, tc.path); got != tc.want {
			t.Errorf("PathUnder(%q, %q) = %v, want %v", tc.prefix, tc.path, got, tc.want)
		}
	}
}
