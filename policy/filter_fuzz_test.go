package policy

import (
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
)

// FuzzFilterBody feeds any body, under JSON and other content types, to
// the conversion filters read it through and to filters that walk it: no
// panic, JSON becomes values, anything else the string it was.
func FuzzFilterBody(f *testing.F) {
	for _, name := range []string{"github_push_main", "stripe_invoice_paid", "slack_event_callback", "shopify_orders_create"} {
		f.Add("application/json", payload(f, name))
	}
	f.Add("application/json", []byte(`[1,"a",{"b":null},true,-1e400,"\ud800"]`))
	f.Add("application/json; charset=utf-8", []byte(`{"a":{"a":{"a":[]}}`))
	f.Add("text/plain", []byte("a\xffb"))
	f.Add("application/x-www-form-urlencoded", []byte("a=1&b=2"))
	filters := []string{
		`has(body.action) && body.action == "opened"`,
		`type(body) == map && body.exists(k, k.startsWith("a"))`,
		`type(body) == list && body.all(x, x != null)`,
		`type(body) == string && body.contains("a")`,
		`body == body`,
	}
	var compiled []*Filter
	for _, src := range filters {
		c, err := CompileFilter(src)
		if err != nil {
			f.Fatal(src, err)
		}
		compiled = append(compiled, c)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		v := BodyValue(contentType, body)
		var parsed any
		switch {
		case isJSON(contentType) && json.Unmarshal(body, &parsed) == nil:
			if _, isString := v.(types.String); isString != (func() bool { _, ok := parsed.(string); return ok })() {
				t.Fatalf("JSON %q became %T", body, v)
			}
		default:
			s, ok := v.(types.String)
			if !ok || !utf8.ValidString(string(s)) || (utf8.Valid(body) && string(s) != string(body)) {
				t.Fatalf("raw body %q became %v", body, v)
			}
		}
		r := &Request{Method: "POST", Header: http.Header{"Content-Type": {contentType}}, Body: body}
		for _, c := range compiled {
			_, _ = c.Match(r, FilterInput{})
		}
	})
}
