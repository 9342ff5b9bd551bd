package policy

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestHostsCheck(t *testing.T) {
	t.Parallel()
	listed, err := CompileHosts([]string{"Hooks-Admin.Example.", "admin.internal"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		hosts         *Hosts
		method, host  string
		origin, fetch string
		want          error
	}{
		{"loopback address", nil, "GET", "127.0.0.1:9090", "", "", nil},
		{"loopback address without port", nil, "GET", "127.0.0.1", "", "", nil},
		{"another address: a load balancer's health check", nil, "GET", "10.1.2.3:9090", "", "", nil},
		{"IPv6 loopback", nil, "GET", "[::1]:9090", "", "", nil},
		{"IPv6 without port", nil, "GET", "[::1]", "", "", nil},
		{"localhost", nil, "GET", "localhost:9090", "", "", nil},
		{"localhost, other case, trailing dot", nil, "GET", "LocalHost.:9090", "", "", nil},
		{"rebound name", nil, "GET", "evil.example:9090", "", "", ErrHostNotAllowed},
		{"rebound name on a write", nil, "POST", "evil.example:9090", "http://evil.example:9090", "", ErrHostNotAllowed},
		{"subdomain of localhost is not localhost", nil, "GET", "evil.localhost:9090", "", "", ErrHostNotAllowed},
		{"listed name", listed, "GET", "hooks-admin.example:9090", "", "", nil},
		{"listed name, other case", listed, "GET", "HOOKS-ADMIN.EXAMPLE", "", "", nil},
		{"name not listed", listed, "GET", "evil.example:9090", "", "", ErrHostNotAllowed},
		{"suffix of a listed name", listed, "GET", "x.hooks-admin.example", "", "", ErrHostNotAllowed},
		{"empty host", nil, "GET", "", "", "", ErrHostNotAllowed},
		{"port alone", nil, "GET", ":9090", "", "", ErrHostNotAllowed},
		{"bad port", nil, "GET", "127.0.0.1:http", "", "", ErrHostNotAllowed},
		{"brackets around a name", nil, "GET", "[localhost]:9090", "", "", ErrHostNotAllowed},
		{"write from the same origin", nil, "POST", "127.0.0.1:9090", "http://127.0.0.1:9090", "same-origin", nil},
		{"write without Origin (CLI)", nil, "POST", "127.0.0.1:9090", "", "", nil},
		{"write from another site", nil, "POST", "127.0.0.1:9090", "http://evil.example", "", ErrCrossSite},
		{"write from another address", nil, "POST", "127.0.0.1:9090", "http://203.0.113.5", "", ErrCrossSite},
		{"write from another local port", nil, "POST", "localhost:9090", "http://localhost:3000", "", ErrCrossSite},
		{"write from localhost to 127.0.0.1", nil, "POST", "127.0.0.1:9090", "http://localhost:9090", "", ErrCrossSite},
		{"write from a null origin", nil, "DELETE", "127.0.0.1:9090", "null", "", ErrCrossSite},
		{"write with Sec-Fetch-Site cross-site", nil, "POST", "127.0.0.1:9090", "", "cross-site", ErrCrossSite},
		{"write from a listed name behind a proxy", listed, "POST", "127.0.0.1:9090", "https://hooks-admin.example", "same-site", nil},
		{"write from a listed name, same origin", listed, "PUT", "admin.internal:9090", "http://admin.internal:9090", "", nil},
		{"write from an unlisted name", listed, "POST", "admin.internal:9090", "http://evil.example:9090", "", ErrCrossSite},
		{"read from another site: the browser hides the answer", nil, "GET", "127.0.0.1:9090", "http://evil.example", "cross-site", nil},
		{"origin with a path", nil, "POST", "127.0.0.1:9090", "http://127.0.0.1:9090/x", "", ErrCrossSite},
		{"origin with a query", nil, "POST", "127.0.0.1:9090", "http://127.0.0.1:9090?x", "", ErrCrossSite},
		{"origin with a user", nil, "POST", "127.0.0.1:9090", "http://u@127.0.0.1:9090", "", ErrCrossSite},
		{"origin of another scheme", nil, "POST", "127.0.0.1:9090", "file://127.0.0.1:9090", "", ErrCrossSite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			if tc.fetch != "" {
				h.Set("Sec-Fetch-Site", tc.fetch)
			}
			err := tc.hosts.Check(tc.method, h, tc.host)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Check(%s, Host %q, Origin %q) = %v, want %v", tc.method, tc.host, tc.origin, err, tc.want)
			}
			var r *Refusal
			if err != nil && (!errors.As(err, &r) || r.Detail == "") {
				t.Errorf("%v is not a Refusal with a detail", err)
			}
		})
	}
}

func TestCompileHostsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entry, want string
	}{
		{"empty", " ", "is empty"},
		{"URL", "https://hooks-admin.example", "is a URL"},
		{"wildcard", "*.example.com", "is a wildcard"},
		{"port", "hooks-admin.example:9090", "has a port"},
		{"address", "10.0.0.1", "is an IP address"},
		{"bracketed address", "[::1]", "is an IP address"},
		{"not a name", "hooks admin", "is not a DNS name"},
		{"empty label", "hooks..example", "is not a DNS name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := CompileHosts([]string{"ok.example", tc.entry})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "[1]" || !strings.Contains(fe.Err.Error(), tc.want) {
				t.Errorf("CompileHosts(%q) = %v, want [1]: %s", tc.entry, err, tc.want)
			}
		})
	}
}

// FuzzHostsCheck: whatever Host and Origin a browser or an attacker sends,
// only IP literals, localhost and listed names are answered, and a write
// passes only from its own origin or a listed name.
func FuzzHostsCheck(f *testing.F) {
	for _, s := range [][3]string{
		{"POST", "127.0.0.1:9090", "http://127.0.0.1:9090"},
		{"GET", "evil.example:9090", ""},
		{"POST", "[::1]:80", "http://[::1]:80"},
		{"DELETE", "hooks-admin.example", "https://hooks-admin.example"},
		{"POST", "localhost.:1", "http://LOCALHOST:1"},
		{"GET", "[fe80::1%25eth0]:9", "null"},
		{"POST", "::1", "http://[::1"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	hosts, err := CompileHosts([]string{"hooks-admin.example"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, host, origin string) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		err := hosts.Check(method, h, host)
		if errors.Is(err, ErrHostNotAllowed) {
			return
		}
		name, _, ok := splitHost(host)
		if !ok || (name != "localhost" && name != "hooks-admin.example" && !isIPLiteral(name)) {
			t.Fatalf("Host %q answered (name %q, ok %v)", host, name, ok)
		}
		if err == nil && origin != "" && method != "GET" && method != "HEAD" && method != "OPTIONS" {
			oName, oPort, ok := splitHost(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(origin, "/"), "http://"), "https://"))
			_, port, _ := splitHost(host)
			if !ok || (oName != "hooks-admin.example" && (oName != name || oPort != port)) {
				t.Fatalf("a %s from Origin %q to Host %q passed", method, origin, host)
			}
		}
	})
}

func isIPLiteral(name string) bool {
	_, err := netip.ParseAddr(name)
	return err == nil
}
