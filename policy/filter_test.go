package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// payload is a captured provider delivery from testdata/filter.
func payload(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "filter", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// delivery is a provider request as a filter sees it.
func delivery(tb testing.TB, name, event string, headers ...string) *Request {
	tb.Helper()
	h := append([]string{"Content-Type", "application/json"}, headers...)
	r := newReq("POST", "https://h/hooks?source=prod&source=other", payload(tb, name), "192.30.252.1", h...)
	r.Event = event
	return r
}

func TestFilterProviderPayloads(t *testing.T) {
	t.Parallel()
	const (
		prOpenedOrSync = `event == "pull_request" && body.action in ["opened", "synchronize"]`
		pushToMain     = `event == "push" && body.ref == "refs/heads/main"`
		invoicesButUp  = `body.type.startsWith("invoice.") && body.type != "invoice.upcoming"`
	)
	gh := func(name, event string) *Request {
		return delivery(t, name, event, "X-GitHub-Event", event, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	}
	tests := []struct {
		name string
		req  *Request
		expr string
		want bool
	}{
		{"github pr opened: in", gh("github_pull_request_opened", "pull_request"), prOpenedOrSync, true},
		{"github pr closed: in", gh("github_pull_request_closed", "pull_request"), prOpenedOrSync, false},
		{"github pr merged: nested bools", gh("github_pull_request_closed", "pull_request"), `body.pull_request.merged && body.pull_request.base.ref == "main"`, true},
		{"github pr labels: list exists", gh("github_pull_request_opened", "pull_request"), `body.pull_request.labels.exists(l, l.name == "queue")`, true},
		{"github pr labels: list map", gh("github_pull_request_opened", "pull_request"), `"enhancement" in body.pull_request.labels.map(l, l.name)`, true},
		{"github pr draft: has and negation", gh("github_pull_request_opened", "pull_request"), `has(body.pull_request.draft) && !body.pull_request.draft`, true},
		{"github pr number: numbers compare across int and double", gh("github_pull_request_opened", "pull_request"), `body.number == 128 && body.pull_request.additions > 100`, true},
		{"github event header in any case", gh("github_pull_request_opened", "pull_request"), `headers["x-github-event"] == "pull_request" && headers["X-GITHUB-EVENT"] == "pull_request"`, true},
		{"github push to main", gh("github_push_main", "push"), pushToMain, true},
		{"github push to a feature branch", gh("github_push_feature", "push"), pushToMain, false},
		{"github push: branch by regexp", gh("github_push_feature", "push"), `body.ref.matches("^refs/heads/(retry|fix)-")`, true},
		{"github push: a docs file in a commit", gh("github_push_main", "push"), `body.commits.exists(c, c.added.exists(f, f.startsWith("docs/")))`, true},
		{"github push: no tags", gh("github_push_main", "push"), `!body.ref.startsWith("refs/tags/")`, true},
		{"stripe invoice.paid", delivery(t, "stripe_invoice_paid", "invoice.paid"), invoicesButUp, true},
		{"stripe invoice.upcoming", delivery(t, "stripe_invoice_upcoming", "invoice.upcoming"), invoicesButUp, false},
		{"stripe: live mode only", delivery(t, "stripe_invoice_paid", "invoice.paid"), `body.livemode`, false},
		{"stripe: amount in cents", delivery(t, "stripe_invoice_paid", ""), `body.data.object.amount_paid >= 2900 && body.data.object.currency == "usd"`, true},
		{"stripe: metadata has()", delivery(t, "stripe_invoice_paid", ""), `has(body.data.object.metadata.tenant) && body.data.object.metadata.tenant == "acme"`, true},
		{"stripe: missing metadata guarded by has()", delivery(t, "stripe_invoice_paid", ""), `has(body.data.object.metadata.region) && body.data.object.metadata.region == "eu"`, false},
		{"slack event_callback app_mention", delivery(t, "slack_event_callback", ""), `body.type == "event_callback" && body.event.type in ["app_mention", "message"]`, true},
		{"slack: text contains", delivery(t, "slack_event_callback", ""), `body.event.text.contains("deploy")`, true},
		{"slack: team allowlist", delivery(t, "slack_event_callback", ""), `body.team_id in ["T0123ABCD"]`, true},
		{"shopify orders/create by topic header", delivery(t, "shopify_orders_create", "", "X-Shopify-Topic", "orders/create"), `headers["X-Shopify-Topic"] == "orders/create"`, true},
		{"shopify: any line item by sku", delivery(t, "shopify_orders_create", ""), `body.line_items.exists(i, i.sku.startsWith("IPOD2008"))`, true},
		{"shopify: all line items in the US", delivery(t, "shopify_orders_create", ""), `body.shipping_address.country_code == "US" && body.line_items.all(i, i.quantity >= 1)`, true},
		{"shopify: tags split", delivery(t, "shopify_orders_create", ""), `"priority" in body.tags.split(", ")`, true},
		{"shopify: price as a number", delivery(t, "shopify_orders_create", ""), `double(body.total_price) > 300.0`, true},
		{"query: first value", delivery(t, "slack_event_callback", ""), `query.source == "prod"`, true},
		{"method, path and client_ip", delivery(t, "slack_event_callback", ""), `method == "POST" && path == "/hooks" && client_ip.startsWith("192.30.")`, true},
		{"time", delivery(t, "slack_event_callback", ""), `time.getFullYear() == 2023`, true},
		{"provider and delivery id", delivery(t, "slack_event_callback", ""), `provider == "github" && delivery_id == "d-1"`, true},
		{"a missing field read without has() does not match", delivery(t, "stripe_invoice_paid", ""), `body.data.object.metadata.region == "eu"`, false},
	}
	in := FilterInput{Provider: "github", DeliveryID: "d-1", Now: time.Unix(1_700_000_000, 0)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := CompileFilter(tc.expr)
			if err != nil {
				t.Fatalf("compile %s: %v", tc.expr, err)
			}
			got, err := f.Match(tc.req, in)
			if got != tc.want {
				t.Fatalf("%s = %v (err %v), want %v", tc.expr, got, err, tc.want)
			}
		})
	}
}

func TestFilterBodyIsRawWhenNotJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body, expr string
	}{
		{"form body", "application/x-www-form-urlencoded", "payload=%7B%22type%22%3A%22block_actions%22%7D", `body.startsWith("payload=")`},
		{"JSON content type, broken JSON", "application/json", `{"type":`, `body == "{\"type\":"`},
		{"vendor +json type", "application/vnd.github+json; charset=utf-8", `{"a":[1,2]}`, `body.a[1] == 2`},
		{"no content type", "", `{"a":1}`, `body == "{\"a\":1}"`},
		{"bytes that are not UTF-8", "text/plain", "a\xffb", `body == "a\ufffdb"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := CompileFilter(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			r := newReq("POST", "https://h/x", []byte(tc.body), "10.0.0.1", "Content-Type", tc.contentType)
			if ok, err := f.Match(r, FilterInput{}); !ok {
				t.Fatalf("%s did not match (err %v)", tc.expr, err)
			}
		})
	}
}

func TestFilterCostLimit(t *testing.T) {
	t.Parallel()
	items := make([]string, 3000)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	body := []byte(`{"items":[` + strings.Join(items, ",") + `]}`)
	r := newReq("POST", "https://h/x", body, "10.0.0.1", "Content-Type", "application/json")

	// 3000 × 3000 comparisons: stopped at the limit, long before the end.
	f, err := CompileFilter(`body.items.all(x, body.items.all(y, y != x + 0.5))`)
	if err != nil {
		t.Fatal(err)
	}
	// Without the limit it would run to the end and answer false, nil.
	ok, err := f.Match(r, FilterInput{})
	if ok || !errors.Is(err, ErrFilterCost) {
		t.Fatalf("Match = %v, %v; want the cost limit", ok, err)
	}

	// Three comprehensions deep is refused when the config is loaded.
	_, err = CompileFilter(`body.items.all(x, body.items.all(y, body.items.all(z, x == y)))`)
	if err == nil || !strings.Contains(err.Error(), "nest") {
		t.Fatalf("three nested comprehensions: err = %v, want a nesting limit error", err)
	}
	// So is an expression longer than the limit.
	if _, err := CompileFilter(strings.Repeat(`method == "POST" && `, 300) + "true"); err == nil {
		t.Fatal("a 6 KB expression compiled")
	}
}

func TestFilterConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route RouteConfig
		field string
		say   string
	}{
		{"unknown variable", RouteConfig{Path: "/a", Filter: `evnt == "push"`}, "routes[0].filter", "undeclared reference to 'evnt'"},
		{"type error", RouteConfig{Path: "/a", Filter: `method == 1`}, "routes[0].filter", "no matching overload"},
		{"not a bool", RouteConfig{Path: "/a", Filter: `size(body)`}, "routes[0].filter", "must be a bool"},
		{"syntax error", RouteConfig{Path: "/a", Filter: `event == "push`}, "routes[0].filter", "(at 1:"},
		{"bad regexp literal", RouteConfig{Path: "/a", Filter: `path.matches("(")`}, "routes[0].filter", "matches"},
		{"blank", RouteConfig{Path: "/a", Filter: "  "}, "routes[0].filter", "is empty"},
		{"unknown on_mismatch", RouteConfig{Path: "/a", Filter: "true", OnMismatch: "drop"}, "routes[0].on_mismatch", "not one of ack, reject, queue_hold"},
		{"reject_status with queue_hold", RouteConfig{Path: "/a", Filter: "true", OnMismatch: "queue_hold", RejectStatus: 409}, "routes[0].reject_status", "on_mismatch: reject"},
		{"on_mismatch without filter", RouteConfig{Path: "/a", OnMismatch: "ack"}, "routes[0].on_mismatch", "only meaningful with filter"},
		{"reject_status without reject", RouteConfig{Path: "/a", Filter: "true", RejectStatus: 409}, "routes[0].reject_status", "on_mismatch: reject"},
		{"reject_status not an error", RouteConfig{Path: "/a", Filter: "true", OnMismatch: "reject", RejectStatus: 204}, "routes[0].reject_status", "not a 4xx or 5xx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Config{Routes: []RouteConfig{tc.route}}.Compile()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Err.Error(), tc.say) {
				t.Fatalf("error = %v, want field %s saying %q", err, tc.field, tc.say)
			}
		})
	}
}

func TestFilterQueueHoldCompiles(t *testing.T) {
	t.Parallel()
	p, err := Config{Routes: []RouteConfig{{Path: "/a", Filter: `event == "push"`, OnMismatch: "queue_hold"}}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Routes()[0]; r.OnMismatch != OnMismatchHold {
		t.Errorf("OnMismatch = %q, want %q", r.OnMismatch, OnMismatchHold)
	}
}

// A filter error in a file names the file, the line and the field.
func TestFilterConfigErrorHasFileAndLine(t *testing.T) {
	t.Parallel()
	data := []byte(`routes:
  - path: /gh
    filter: event == "push"
  - path: /stripe
    filter: |
      body.type.startsWith("invoice.") &&
      bodytype != "invoice.upcoming"
`)
	var c Config
	err := DecodeFile("policy.yaml", data, &c, func() error { _, err := c.Compile(); return err })
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Line != 5 || ce.Field != "routes[1].filter" {
		t.Fatalf("error = %v, want policy.yaml:5 routes[1].filter", err)
	}
	if want := "policy.yaml:5: routes[1].filter: undeclared reference to 'bodytype' (at 2:1)"; err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
}

func TestFilterRoutesSharingAPath(t *testing.T) {
	t.Parallel()
	secret := "gh-secret"
	cache := NewMemoryReplayCache(100)
	gh := &VerifyConfig{Provider: "github", Secrets: []string{secret}}
	p, err := Config{Routes: []RouteConfig{
		{Path: "/other", Filter: "true"},
		{Path: "/gh", Verify: gh, Filter: `event == "pull_request" && body.action in ["opened", "synchronize"]`, Mode: "queue"},
		{Path: "/gh", Verify: gh, Filter: `event == "push" && body.ref == "refs/heads/main"`, OnMismatch: "reject", RejectStatus: 409},
	}}.CompileEnv(Env{Replay: cache, Scope: "t"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	signed := func(name, event, id string) *Request {
		r := delivery(t, name, event, "X-GitHub-Event", event, "X-GitHub-Delivery", id)
		r.URL.Path = "/gh"
		r.Header.Set("X-Hub-Signature-256", signGitHub(secret, r.Body))
		return r
	}
	run := func(t *testing.T, r *Request) Decision {
		d := p.Admit(r, now)
		p.Verify(&d, r, now)
		p.Filter(&d, r, now)
		t.Cleanup(func() { p.Abandon(d) })
		return d
	}
	tests := []struct {
		name      string
		req       *Request
		wantRoute int
		wantErr   error
	}{
		{"first route takes a pr opened", signed("github_pull_request_opened", "pull_request", "1"), 1, nil},
		{"second route takes a push to main", signed("github_push_main", "push", "2"), 2, nil},
		{"neither takes a push to a branch: the last route's on_mismatch", signed("github_push_feature", "push", "3"), 2, ErrFiltered},
		{"neither takes a pr closed", signed("github_pull_request_closed", "pull_request", "4"), 2, ErrFiltered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := run(t, tc.req)
			if !errors.Is(d.Err, tc.wantErr) || (d.Err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", d.Err, tc.wantErr)
			}
			if d.Route == nil || d.Route.Index != tc.wantRoute {
				t.Fatalf("route = %+v, want routes[%d]", d.Route, tc.wantRoute)
			}
			if tc.wantErr != nil && (d.Route.OnMismatch != OnMismatchReject || d.Route.RejectStatus != 409) {
				t.Errorf("on_mismatch = %s %d, want reject 409", d.Route.OnMismatch, d.Route.RejectStatus)
			}
		})
	}

	t.Run("a bad signature is refused before any filter reads the body", func(t *testing.T) {
		r := signed("github_pull_request_opened", "pull_request", "5")
		r.Header.Set("X-Hub-Signature-256", signGitHub("not-the-secret", r.Body))
		d := run(t, r)
		if !errors.Is(d.Err, ErrBadSignature) || d.Route.Index != 1 {
			t.Fatalf("err = %v on routes[%d], want a bad signature on routes[1]", d.Err, d.Route.Index)
		}
		if r.filterVals.body != nil {
			t.Fatal("the body was parsed for a filter though its signature failed")
		}
	})

	t.Run("the body is parsed once for both routes", func(t *testing.T) {
		r := signed("github_push_main", "push", "6")
		d := p.Admit(r, now)
		p.Verify(&d, r, now)
		reader, err := CompileFilter(`body.action == "opened"`)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := reader.Match(r, FilterInput{}); ok || r.filterVals.body == nil {
			t.Fatal("a filter reading the body should parse it and not take a push")
		}
		parsed := r.filterVals.body
		p.Filter(&d, r, now)
		if d.Err != nil || d.Route.Index != 2 {
			t.Fatalf("err = %v on routes[%d], want routes[2]", d.Err, d.Route.Index)
		}
		if r.filterVals.body != parsed {
			t.Fatal("the body was parsed again for the second route")
		}
		p.Abandon(d)
	})
}

func TestFilterWarnings(t *testing.T) {
	t.Parallel()
	p, err := Config{Routes: []RouteConfig{
		{Path: "/a"},
		{Path: "/a", Filter: `event == "push"`},
		{Path: "/b", Filter: "false", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"s"}}},
		{Path: "/c", Methods: []string{"*"}, Filter: `event == "x"`, OnMismatch: "reject", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"s"}}},
		{Path: "/c", Verify: &VerifyConfig{Provider: "github", Secrets: []string{"s"}}},
	}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, w := range p.Warnings() {
		lines = append(lines, w.Error())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"routes[1]: can never match: routes[0] has the same path and methods",
		"routes[1].filter: the route verifies no signature",
		"routes[2].filter: is false",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	// routes[4] allows only POST, routes[3] every method: its on_mismatch
	// still answers the other methods, so no warning.
	if strings.Contains(got, "routes[3].on_mismatch") || strings.Contains(got, "routes[4]") {
		t.Errorf("unexpected warning:\n%s", got)
	}
}

// BenchmarkFilter is a typical GitHub filter on a 10 KiB pull_request
// delivery: "parse+eval" is the cost per webhook (the body parsed once),
// "eval" the cost of each further filter on the same request.
func BenchmarkFilter(b *testing.B) {
	f, err := CompileFilter(`event == "pull_request" && body.action in ["opened", "synchronize"] && body.pull_request.base.ref == "main"`)
	if err != nil {
		b.Fatal(err)
	}
	body := payload(b, "github_pull_request_opened")
	in := FilterInput{Provider: "github", Now: time.Now()}
	b.Run(fmt.Sprintf("parse+eval-%dKiB", len(body)>>10), func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		template := delivery(b, "github_pull_request_opened", "pull_request")
		for b.Loop() {
			r := &Request{Method: template.Method, URL: template.URL, Header: template.Header, Body: body, Event: template.Event}
			if ok, err := f.Match(r, in); !ok {
				b.Fatal(err)
			}
		}
	})
	b.Run("eval", func(b *testing.B) {
		r := delivery(b, "github_pull_request_opened", "pull_request")
		for b.Loop() {
			if ok, err := f.Match(r, in); !ok {
				b.Fatal(err)
			}
		}
	})
}

// The filters docs/filters.md offers to paste all compile.
func TestFilterDocsExamplesCompile(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "filters.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, ten, _ := strings.Cut(string(doc), "## Ten filters to paste")
	ten, _, _ = strings.Cut(ten, "\n## ")
	n := 0
	for line := range strings.Lines(ten) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "`") || !strings.HasSuffix(line, "`") {
			continue
		}
		n++
		if _, err := CompileFilter(strings.Trim(line, "`")); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
	if n != 10 {
		t.Errorf("found %d filters in docs/filters.md, want 10", n)
	}
}

// Warnings about a config file's fields land on the fields' lines.
func TestLocateWarnings(t *testing.T) {
	t.Parallel()
	data := []byte("tunnels:\n  gh:\n    routes:\n      - path: /a\n      - path: /a\n        filter: \"false\"\n")
	for _, tc := range []struct {
		name, field string
		line        int
	}{
		{"a route", "tunnels.gh.routes[1]", 5},
		{"a route's field", "tunnels.gh.routes[1].filter", 6},
		{"a field the file leaves out: its parent", "tunnels.gh.routes[0].on_mismatch", 4},
		{"a tunnel the file does not have", "tunnels.other.routes[0]", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := LocateWarnings("edge.yaml", data, []*FieldError{{Field: tc.field, Err: errors.New("w")}})
			if len(got) != 1 || got[0].Line != tc.line || got[0].File != "edge.yaml" || got[0].Field != tc.field {
				t.Fatalf("got %+v, want line %d", got[0], tc.line)
			}
		})
	}
	if got := LocateWarnings("edge.yaml", []byte("{not: yaml"), []*FieldError{{Field: "tunnels", Err: errors.New("w")}}); got[0].Line != 0 {
		t.Errorf("unreadable data: line %d, want 0", got[0].Line)
	}
}
