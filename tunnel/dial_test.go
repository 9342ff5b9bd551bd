package tunnel

import (
	"strings"
	"testing"
)

func TestParseAnswerCode(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"the admin listener", `{"error":"not_public_listener","message":"…"}`, RefusedNotPublic},
		{"a tunnel host", `{"error": "no_route", "request_id": "x"}` + "\n", "no_route"},
		{"not JSON", `<html>404</html>`, ""},
		{"no error field", `{"message":"x"}`, ""},
		{"not a string", `{"error":{"code":"x"}}`, ""},
		{"not a code", `{"error":"Not Found"}`, ""},
		{"a newline in it", `{"error":"a\nb"}`, ""},
		{"too long", `{"error":"` + strings.Repeat("a", maxCodeLen+1) + `"}`, ""},
		{"empty", ``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseAnswerCode([]byte(tc.body)); got != tc.want {
				t.Errorf("parseAnswerCode(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

// FuzzAnswerCode: whatever a server answers the upgrade with, the code
// read from it is empty or a short run of [a-z0-9_], safe to print and to
// compare.
func FuzzAnswerCode(f *testing.F) {
	f.Add([]byte(`{"error":"not_public_listener","message":"this is the admin listener"}`))
	f.Add([]byte(`{"error":"unknown_host"}`))
	f.Add([]byte(`{"error":"\u001b[31m"}`))
	f.Add([]byte(`Client sent an HTTP request to an HTTPS server.`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code := parseAnswerCode(body)
		if len(code) > maxCodeLen {
			t.Fatalf("code of %d bytes", len(code))
		}
		for _, c := range []byte(code) {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
				t.Fatalf("code %q has %q", code, c)
			}
		}
	})
}
