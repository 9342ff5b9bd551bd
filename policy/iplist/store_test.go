package iplist

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

func TestSnapshotIsValidAndTraceable(t *testing.T) {
	t.Parallel()
	ls, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github", "stripe", "pagerduty-us", "pagerduty-eu"} {
		if _, ok := ls.Get(want); !ok {
			t.Errorf("snapshot lacks %q", want)
		}
	}
	for _, name := range ls.Names() {
		l, _ := ls.Get(name)
		src, err := SourceFor(name)
		if err != nil {
			t.Errorf("snapshot list %q has no registered source: %v", name, err)
			continue
		}
		if l.Source != src.URL || l.Format != src.Format {
			t.Errorf("%s: snapshot says %s (%s), the source table %s (%s)", name, l.Source, l.Format, src.URL, src.Format)
		}
		if l.Note == "" || l.Fetched.IsZero() || !l.FromSnapshot {
			t.Errorf("%s: every snapshot list says where and when its data is from", name)
		}
		if l.Fetched.After(time.Now()) {
			t.Errorf("%s: fetched in the future (%s)", name, l.Fetched)
		}
	}
	// Spot checks against the published documents, so an edit that drops a
	// range shows up here.
	gh, _ := ls.Get("github")
	for _, p := range []string{"192.30.252.0/22", "140.82.112.0/20", "2a0a:a440::/29", "9.234.106.48/28"} {
		if !slices.Contains(gh.Prefixes, netip.MustParsePrefix(p)) {
			t.Errorf("github lacks %s", p)
		}
	}
	if st, _ := ls.Get("stripe"); st.Count() != 15 {
		t.Errorf("stripe has %d addresses, the published list 15", st.Count())
	}
}

// writeFile writes <dir>/iplists.json through Save, from lists built here.
func saveLists(t *testing.T, dir string, lists ...List) {
	t.Helper()
	var ls Lists
	for _, l := range lists {
		ls = ls.With(l)
	}
	if err := Save(dir, ls); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	snap, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	snapGitHub, _ := snap.Get("github")
	newer := snapGitHub.Fetched.Add(24 * time.Hour)
	older := snapGitHub.Fetched.Add(-24 * time.Hour)
	fresh := List{Name: "github", Source: "https://api.github.com/meta", Format: FormatGitHubMeta,
		Fetched: newer, Prefixes: prefixes(t, "192.30.252.0/22")}

	t.Run("no data dir is the snapshot", func(t *testing.T) {
		t.Parallel()
		ls, err := Load("")
		if err != nil || !slices.Equal(ls.Names(), snap.Names()) {
			t.Fatalf("Load(\"\") = %v, %v", ls.Names(), err)
		}
	})
	t.Run("missing file is the snapshot", func(t *testing.T) {
		t.Parallel()
		ls, err := Load(t.TempDir())
		if err != nil || !slices.Equal(ls.Names(), snap.Names()) {
			t.Fatalf("Load = %v, %v", ls.Names(), err)
		}
	})
	t.Run("newer list wins, others stay", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		saveLists(t, dir, fresh)
		ls, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		gh, _ := ls.Get("github")
		if gh.FromSnapshot || !slices.Equal(gh.Prefixes, fresh.Prefixes) || !gh.Fetched.Equal(newer) {
			t.Errorf("github = %+v, want the fetched one", gh)
		}
		if st, _ := ls.Get("stripe"); !st.FromSnapshot {
			t.Error("stripe should still be the snapshot's")
		}
		if got := ls.Prefixes()["github"]; !slices.Equal(got, fresh.Prefixes) {
			t.Errorf("Prefixes()[github] = %v", got)
		}
	})
	t.Run("older list loses to a fresher snapshot", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		stale := fresh
		stale.Fetched = older
		saveLists(t, dir, stale)
		ls, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if gh, _ := ls.Get("github"); !gh.FromSnapshot {
			t.Errorf("github = %+v, want the snapshot's", gh)
		}
	})
	t.Run("a list the snapshot lacks is added", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		saveLists(t, dir, List{Name: "atlassian", Source: "https://ip-ranges.atlassian.com/",
			Format: FormatAtlassianEgress, Fetched: older, Prefixes: prefixes(t, "104.192.136.0/21")})
		ls, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := ls.Get("atlassian"); !ok || a.Count() != 1 {
			t.Errorf("atlassian = %+v, %v", a, ok)
		}
	})
}

func TestLoadCorruptFileNamesIt(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, content, want string }{
		{"not JSON", `{"version":1,"lists":[`, "not a list document"},
		{"wrong version", `{"version":2,"lists":[]}`, "version 2"},
		{"bad name", `{"version":1,"lists":[{"name":"Git Hub","fetched":"2026-01-01T00:00:00Z","cidrs":["8.8.8.0/24"]}]}`, `lists[0].name "Git Hub"`},
		{"no date", `{"version":1,"lists":[{"name":"github","cidrs":["8.8.8.0/24"]}]}`, "lists[0] (github).fetched: missing"},
		{"empty list", `{"version":1,"lists":[{"name":"github","fetched":"2026-01-01T00:00:00Z","cidrs":[]}]}`, "lists[0] (github).cidrs: iplist: source lists no addresses"},
		{"bad CIDR", `{"version":1,"lists":[{"name":"github","fetched":"2026-01-01T00:00:00Z","cidrs":["8.8.8.0/24","nope"]}]}`, `lists[0] (github).cidrs[1]: iplist: bad address entry: "nope"`},
		{"twice", `{"version":1,"lists":[{"name":"a","fetched":"2026-01-01T00:00:00Z","cidrs":["8.8.8.0/24"]},{"name":"a","fetched":"2026-01-01T00:00:00Z","cidrs":["8.8.8.0/24"]}]}`, "lists[1] (a): listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}

func TestSave(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "not", "yet")
	snap, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := snap.Get("stripe")
	fetched := List{Name: "stripe", Source: "http://127.0.0.1:1/ips.json", Format: FormatStripeIPs,
		Fetched: st.Fetched.Add(time.Hour + 123*time.Millisecond), Prefixes: prefixes(t, "3.18.12.63/32", "3.69.109.8/32")}
	// Saving the merged set writes only what was fetched.
	if err := Save(dir, snap.With(fetched)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "github") || !strings.Contains(string(data), `"3.69.109.8/32"`) {
		t.Errorf("file holds more or less than the fetched list:\n%s", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only %s (no temp file left)", len(entries), FileName)
	}
	ls, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := ls.Get("stripe")
	if got.FromSnapshot || got.Source != fetched.Source || !slices.Equal(got.Prefixes, fetched.Prefixes) ||
		!got.Fetched.Equal(fetched.Fetched.Truncate(time.Second)) {
		t.Errorf("round trip: got %+v, want %+v", got, fetched)
	}
	// Saving again replaces the file rather than appending.
	if err := Save(dir, snap); err != nil {
		t.Fatal(err)
	}
	if ls, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := ls.Get("stripe"); !got.FromSnapshot {
		t.Error("after saving the snapshot alone, stripe should be the snapshot's")
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	a := List{Prefixes: prefixes(t, "8.8.8.0/24", "9.9.9.0/24", "1.1.1.0/24")}
	b := List{Prefixes: prefixes(t, "8.8.8.0/24", "4.4.4.0/24")}
	if added, removed := a.Diff(b); added != 1 || removed != 2 {
		t.Errorf("Diff = +%d -%d, want +1 -2", added, removed)
	}
	if added, removed := a.Diff(a); added != 0 || removed != 0 {
		t.Errorf("Diff with itself = +%d -%d", added, removed)
	}
}

// The lists are what policy.Env.IPLists takes: a route can name them, and an
// unknown name is still a config error.
func TestPrefixesFeedPolicy(t *testing.T) {
	t.Parallel()
	ls, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	env := policy.Env{IPLists: ls.Prefixes()}
	cfg := policy.Config{Routes: []policy.RouteConfig{{Path: "/hook", AllowIPs: []string{"github", "203.0.113.0/24"}}}}
	if _, err := cfg.CompileEnv(env); err != nil {
		t.Fatalf("allow_ips [github, 203.0.113.0/24]: %v", err)
	}
	cfg.Routes[0].AllowIPs = []string{"slack"}
	if _, err := cfg.CompileEnv(env); err == nil || !strings.Contains(err.Error(), "github") {
		t.Errorf("allow_ips [slack]: err = %v, want one listing the known lists", err)
	}
}
