package test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// providerStub serves provider list documents on loopback; each path's
// answer can be changed between runs of `ips update`.
type providerStub struct {
	srv *httptest.Server
	mu  sync.Mutex
	doc map[string]stubAnswer
}

type stubAnswer struct {
	status int
	body   string
}

func startProviderStub(t *testing.T) *providerStub {
	t.Helper()
	s := &providerStub{doc: map[string]stubAnswer{
		"/meta": {200, `{"verifiable_password_authentication":false,
			"hooks":["192.0.2.0/24","198.51.100.0/24","2001:db8::/32"],
			"web":["203.0.113.0/24"]}`},
		"/stripe":       {200, `{"WEBHOOKS":["203.0.113.5","203.0.113.6"],"API":["203.0.113.9"]}`},
		"/pagerduty-us": {200, `["198.51.100.10","198.51.100.11"]`},
	}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		a, ok := s.doc[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("User-Agent") == "" {
			http.Error(w, "User-Agent required", http.StatusForbidden) // as GitHub's API does
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *providerStub) set(path string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc[path] = stubAnswer{status, body}
}

// updateArgs refreshes exactly the stubbed lists: every list is named with
// --only, so a source added to hooktunnel later never reaches the network.
func (s *providerStub) updateArgs(dir string) []string {
	args := []string{"ips", "update", "--data", dir, "--timeout", "10s"}
	for _, name := range []string{"github", "stripe", "pagerduty-us"} {
		path := "/" + name
		if name == "github" {
			path = "/meta"
		}
		args = append(args, "--only", name, "--source", name+"="+s.srv.URL+path)
	}
	return args
}

// runIps runs hooktunnel with args and returns its exit code and stdout.
func runIps(t *testing.T, args ...string) (int, *proc) {
	t.Helper()
	p := startProc(t, "hooktunnel "+strings.Join(args[:2], " "), args...)
	code, ok := p.exited(60 * time.Second)
	if !ok {
		t.Fatalf("hooktunnel %s did not finish", strings.Join(args, " "))
	}
	return code, p
}

type ipsFile struct {
	Version int `json:"version"`
	Lists   []struct {
		Name    string    `json:"name"`
		Source  string    `json:"source"`
		Format  string    `json:"format"`
		Fetched time.Time `json:"fetched"`
		CIDRs   []string  `json:"cidrs"`
	} `json:"lists"`
}

func readIPsFile(t *testing.T, dir string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "iplists.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f ipsFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("iplists.json: %v\n%s", err, data)
	}
	out := map[string][]string{}
	for _, l := range f.Lists {
		if l.Source == "" || l.Format == "" || time.Since(l.Fetched) > time.Hour {
			t.Errorf("list %s: source %q, format %q, fetched %s", l.Name, l.Source, l.Format, l.Fetched)
		}
		out[l.Name] = l.CIDRs
	}
	return out
}

// wantLine fails unless out has a line matching the pattern.
func wantLine(t *testing.T, out, pattern string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)` + pattern).MatchString(out) {
		t.Errorf("no line matches %q in:\n%s", pattern, out)
	}
}

func TestIpsUpdateAndList(t *testing.T) {
	t.Parallel()
	stub := startProviderStub(t)
	dir := filepath.Join(t.TempDir(), "data") // created by the command

	code, p := runIps(t, stub.updateArgs(dir)...)
	if code != 0 {
		t.Fatalf("ips update exited %d\n%s%s", code, p.stdout.String(), p.stderr.String())
	}
	out := p.stdout.String()
	// Change is against the embedded snapshot the first time.
	wantLine(t, out, `^github\s+3 prefixes\s+\+3 −9\s+`+regexp.QuoteMeta(stub.srv.URL)+`/meta$`)
	wantLine(t, out, `^stripe\s+2 prefixes\s+\+2 −15\s`)
	wantLine(t, out, `^pagerduty-us\s+2 prefixes\s+\+2 −13\s`)

	lists := readIPsFile(t, dir)
	if got, want := lists["github"], []string{"192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"}; !slices.Equal(got, want) {
		t.Errorf("github = %v, want %v (hooks only, not web)", got, want)
	}
	if got, want := lists["stripe"], []string{"203.0.113.5/32", "203.0.113.6/32"}; !slices.Equal(got, want) {
		t.Errorf("stripe = %v, want %v (WEBHOOKS only, not API)", got, want)
	}
	if _, ok := lists["pagerduty-eu"]; ok || len(lists) != 3 {
		t.Errorf("file holds %v; lists not refreshed belong to the snapshot, not the file", slices.Sorted(maps.Keys(lists)))
	}

	code, p = runIps(t, "ips", "list", "--data", dir)
	if code != 0 {
		t.Fatalf("ips list exited %d\n%s", code, p.stderr.String())
	}
	out = p.stdout.String()
	wantLine(t, out, `^github\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+3\s+iplists\.json\s+`+regexp.QuoteMeta(stub.srv.URL)+`/meta$`)
	wantLine(t, out, `^pagerduty-eu\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+12\s+snapshot\s+https://developer\.pagerduty\.com/`)
	wantLine(t, out, `^atlassian\s+-\s+0\s+not loaded\s`)

	// A second run with nothing changed reports no change.
	code, p = runIps(t, stub.updateArgs(dir)...)
	if code != 0 {
		t.Fatalf("second ips update exited %d\n%s", code, p.stdout.String())
	}
	wantLine(t, p.stdout.String(), `^github\s+3 prefixes\s+\+0 −0\s`)
}

func TestIpsUpdateKeepsListsThatFail(t *testing.T) {
	t.Parallel()
	stub := startProviderStub(t)
	dir := t.TempDir()
	if code, p := runIps(t, stub.updateArgs(dir)...); code != 0 {
		t.Fatalf("first ips update exited %d\n%s", code, p.stdout.String())
	}

	// GitHub adds a range; Stripe is down; PagerDuty serves an empty list.
	stub.set("/meta", 200, `{"hooks":["192.0.2.0/24","198.51.100.0/24","2001:db8::/32","203.0.113.128/25"]}`)
	stub.set("/stripe", http.StatusServiceUnavailable, "try later")
	stub.set("/pagerduty-us", 200, `[]`)
	code, p := runIps(t, stub.updateArgs(dir)...)
	if code != 1 {
		t.Errorf("exit code %d, want 1 when a source fails", code)
	}
	out := p.stdout.String()
	wantLine(t, out, `^github\s+4 prefixes\s+\+1 −0\s`)
	wantLine(t, out, `^stripe\s+FAILED: GET .*/stripe: 503 Service Unavailable; keeping 2 prefixes from \d{4}-\d\d-\d\d$`)
	wantLine(t, out, `^pagerduty-us\s+FAILED: .*no addresses; keeping 2 prefixes from `)
	if !strings.Contains(p.stderr.String(), "2 of 3 lists could not be refreshed") {
		t.Errorf("stderr: %s", p.stderr.String())
	}

	lists := readIPsFile(t, dir)
	if got := lists["github"]; len(got) != 4 {
		t.Errorf("github = %v, want the 4 fetched prefixes", got)
	}
	if got, want := lists["stripe"], []string{"203.0.113.5/32", "203.0.113.6/32"}; !slices.Equal(got, want) {
		t.Errorf("stripe = %v, want the previous %v", got, want)
	}
	if got := lists["pagerduty-us"]; len(got) != 2 {
		t.Errorf("pagerduty-us = %v, want the previous 2 prefixes", got)
	}
}

func TestIpsUpdateRefusesBadUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"unknown list", []string{"--only", "slack"}},
		{"source without URL", []string{"--only", "github", "--source", "github"}},
		{"source not http", []string{"--only", "github", "--source", "github=file:///etc/passwd"}},
		{"source for an unselected list", []string{"--only", "github", "--source", "stripe=http://127.0.0.1:1/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			code, p := runIps(t, append([]string{"ips", "update", "--data", dir}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit code %d, want 2\n%s", code, p.stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "iplists.json")); !os.IsNotExist(err) {
				t.Errorf("bad usage wrote iplists.json (stat: %v)", err)
			}
		})
	}
}

func TestIpsCorruptFileIsNamed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "iplists.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"lists":[{"name":"github"`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, p := runIps(t, "ips", "list", "--data", dir)
	if code != 1 || !strings.Contains(p.stderr.String(), path) {
		t.Errorf("exit %d, stderr %q; want 1 and the file named", code, p.stderr.String())
	}
}

func TestIpsUpdateKeepsMirrorPasswordsOut(t *testing.T) {
	t.Parallel()
	stub := startProviderStub(t)
	dir := t.TempDir()
	mirror := strings.Replace(stub.srv.URL, "http://", "http://mirror:s3cret@", 1) + "/meta"
	code, p := runIps(t, "ips", "update", "--data", dir, "--only", "github", "--source", "github="+mirror)
	if code != 0 {
		t.Fatalf("ips update exited %d\n%s", code, p.stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "iplists.json"))
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"stdout": p.stdout.String(), "iplists.json": string(data)} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%s holds the mirror's password:\n%s", what, s)
		}
	}
	wantLine(t, p.stdout.String(), `^github\s+3 prefixes\s+.*mirror:xxxxx@`)
}
