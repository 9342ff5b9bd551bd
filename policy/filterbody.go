package policy

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// BodyValue is a request body as a filter's `body`: the parsed JSON when
// contentType is JSON (application/json, text/json, anything +json) and
// the body parses, else the body as a string (bytes that are not UTF-8
// become U+FFFD). JSON numbers are doubles; the filter's reads of fields
// and elements find them in the body's text, decoding nothing else.
func BodyValue(contentType string, body []byte) ref.Val {
	r := &Request{Header: http.Header{"Content-Type": {contentType}}, Body: body}
	return r.bodyValue()
}

// bodyValue is BodyValue of r, sharing r's parse of the body with the
// event it names.
func (r *Request) bodyValue() ref.Val {
	if isJSON(r.Header.Get("Content-Type")) {
		if doc := r.jsonBody(); doc != nil {
			return doc.value(doc.top())
		}
	}
	body := r.Body
	if !utf8.Valid(body) {
		return types.String(strings.ToValidUTF8(string(body), "\uFFFD"))
	}
	return types.String(body)
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	typ, sub, _ := strings.Cut(mt, "/")
	return sub == "json" && (typ == "application" || typ == "text") || strings.HasSuffix(sub, "+json")
}

// headersValue is the request's headers as a filter's `headers`: names in
// lowercase, looked up in any case, repeated values joined with ", ".
func headersValue(h http.Header) ref.Val {
	m := make(map[string]string, len(h))
	for name, vals := range h {
		m[strings.ToLower(name)] = strings.Join(vals, ", ")
	}
	return foldedMap{types.NewStringStringMap(types.DefaultTypeAdapter, m)}
}

// queryValue is the query as a filter's `query`: each parameter's first
// value.
func queryValue(q url.Values) ref.Val {
	m := make(map[string]string, len(q))
	for name, vals := range q {
		if len(vals) > 0 {
			m[name] = vals[0]
		}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

// foldedMap is a map with lowercase string keys that looks keys up in any
// case: headers["X-GitHub-Event"] is headers["x-github-event"].
type foldedMap struct{ traits.Mapper }

func fold(key ref.Val) ref.Val {
	if s, ok := key.(types.String); ok {
		return types.String(strings.ToLower(string(s)))
	}
	return key
}

func (m foldedMap) Contains(key ref.Val) ref.Val { return m.Mapper.Contains(fold(key)) }
func (m foldedMap) Get(key ref.Val) ref.Val      { return m.Mapper.Get(fold(key)) }
func (m foldedMap) Find(key ref.Val) (ref.Val, bool) {
	return m.Mapper.Find(fold(key))
}
