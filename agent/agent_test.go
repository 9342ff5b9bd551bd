package agent

import (
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"8000", "http://127.0.0.1:8000"},
		{"localhost:3000", "http://localhost:3000"},
		{":3000", "http://127.0.0.1:3000"},
		{"192.168.1.5:8080", "http://192.168.1.5:8080"},
		{"https://localhost:8443", "https://localhost:8443"},
		{"http://app.internal:8000/base?x=1", "http://app.internal:8000/base"},
		{"0", ""},
		{"70000", ""},
		{"ftp://x:1", ""},
		{"localhost", ""},
		{"localhost:abc", ""},
		{"localhost:0", ""},
		{"localhost:65536", ""},
		{":-1", ""},
		{"[::1]:8000", "http://[::1]:8000"},
		{"http://localhost:abc", ""},
		{"http://localhost:", ""},
		{"https://localhost:99999/x", ""},
		{"https://localhost", "https://localhost"},
		{"", ""},
	}
	for _, tc := range tests {
		u, err := ParseTarget(tc.in)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second}
	for failures, ceiling := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 7: 30 * time.Second, 50: 30 * time.Second} {
		for i := 0; i < 100; i++ {
			d := backoffDelay(b, failures)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("backoffDelay(%d) = %s, want within [%s, %s]", failures, d, ceiling/2, ceiling)
			}
		}
	}
}
