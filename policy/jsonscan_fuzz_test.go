package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// referenceJSON is how the body was read before jsonDoc: trimmed, an
// object or an array, decoded whole by encoding/json.
func referenceJSON(body []byte) (any, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' && body[0] != '[' {
		return nil, false
	}
	var doc any
	return doc, json.Unmarshal(body, &doc) == nil
}

// referenceFieldText is fieldText over the decoded body, as it was.
func referenceFieldText(doc any, path []string) string {
	for _, key := range path {
		switch v := doc.(type) {
		case map[string]any:
			doc = v[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(v) {
				return ""
			}
			doc = v[i]
		default:
			return ""
		}
	}
	switch v := doc.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// checkSame fails unless the lazy value got reads, key by key and index
// by index, as the decoded want.
func checkSame(t *testing.T, where string, got ref.Val, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		o, ok := got.(*jsonObject)
		if !ok {
			t.Fatalf("%s: got %T, want an object", where, got)
		}
		if o.Size() != types.Int(len(w)) {
			t.Fatalf("%s: size %v, want %d", where, o.Size(), len(w))
		}
		for k, wv := range w {
			v, found := o.Find(types.String(k))
			if !found {
				t.Fatalf("%s: key %q not found", where, k)
			}
			checkSame(t, where+"."+k, v, wv)
		}
	case []any:
		a, ok := got.(*jsonArray)
		if !ok {
			t.Fatalf("%s: got %T, want an array", where, got)
		}
		for i, wv := range w {
			v, found := a.GetInt64Index(int64(i))
			if !found {
				t.Fatalf("%s: index %d not found", where, i)
			}
			checkSame(t, where+"["+strconv.Itoa(i)+"]", v.(ref.Val), wv)
		}
		if _, found := a.GetInt64Index(int64(len(w))); found {
			t.Fatalf("%s: index %d found past the end", where, len(w))
		}
		if a.Size() != types.Int(len(w)) {
			t.Fatalf("%s: size %v, want %d", where, a.Size(), len(w))
		}
	default:
		if wv := types.DefaultTypeAdapter.NativeToValue(want); got.Equal(wv) != types.True || got.Type() != wv.Type() {
			t.Fatalf("%s: got %v (%T), want %v", where, got, got, want)
		}
	}
}

// FuzzJSONDoc compares the lazy reads of a body with encoding/json's
// decoding of it: the same bodies are JSON, and every key, index and
// path (path is keys and indexes separated by '/') reads the same value.
func FuzzJSONDoc(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "filter", "*.json"))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "pull_request/base/ref")
	}
	for _, body := range []string{
		`{"action":"opened","action":"closed"}`,
		`{"a\u0063tion":1,"action":2,"actio\n":3}`,
		`{"\ud800":1,"\ufffd":2,"é":3,"\u00e9":4}`,
		"{\"\xff\":1,\"a\":\"\xfe\"}",
		`[1,-0,0.5e-3,1E+2,-1e400]`,
		`[1e-400,123456789012345678901234567890]`,
		`{"a":[[],[{}],[[1,2],[3]]],"b":{"c":{"d":"e"}}}`,
		`{"a":"\"\\\/\b\f\n\r\t\u0041"}`,
		" \t\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \r\n",
		"\v{\"a\":1}\u00a0",
		`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":01}`, `[1.]`, `[.1]`, `[-]`, `[1e]`, `["a\x"]`,
		"[\"a\tb\"]", `["\u12"]`, `[tru]`, `[nul]`, `{"a":1}x`, `[][]`, `[}`, `{]`,
		`{"a":true,"b":false,"c":null}`,
		`[` + strings.Repeat("\"0123456789abcdef\",", 20) + `"\\"]`,
	} {
		f.Add([]byte(body), "a/0/b")
	}
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		want, wantOK := referenceJSON(body)
		req := &Request{Body: body}
		doc := req.jsonBody()
		if (doc != nil) != wantOK {
			t.Fatalf("%q: JSON to jsonDoc: %v, to encoding/json: %v", body, doc != nil, wantOK)
		}
		if doc == nil {
			return
		}
		got := doc.value(doc.top())
		checkSame(t, "body", got, want)
		if got.Equal(types.DefaultTypeAdapter.NativeToValue(want)) != types.True ||
			types.DefaultTypeAdapter.NativeToValue(want).Equal(got) != types.True {
			t.Fatalf("%q: not equal to the decoded body", body)
		}
		keys := strings.Split(path, "/")
		if got, want := fieldText(doc, keys), referenceFieldText(want, keys); got != want {
			t.Fatalf("%q at %q: fieldText %q, want %q", body, path, got, want)
		}
		v, w := got, want
		for _, k := range keys {
			switch wv := w.(type) {
			case map[string]any:
				x, found := v.(*jsonObject).Find(types.String(k))
				if _, ok := wv[k]; ok != found {
					t.Fatalf("%q: key %q found %v, want %v", body, k, found, ok)
				}
				if !found {
					return
				}
				v, w = x, wv[k]
			case []any:
				i, err := strconv.ParseInt(k, 10, 64)
				if err != nil {
					return
				}
				x, found := v.(*jsonArray).GetInt64Index(i)
				if ok := i >= 0 && i < int64(len(wv)); ok != found {
					t.Fatalf("%q: index %d found %v, want %v", body, i, found, ok)
				}
				if !found {
					return
				}
				v, w = x.(ref.Val), wv[i]
			default:
				return
			}
		}
	})
}

// encoding/json refuses documents nested deeper than 10000: so does
// jsonDoc.
func TestJSONDocDepth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		depth int
		json  bool
	}{
		{"at the limit", 10000, true},
		{"past the limit", 10001, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(strings.Repeat("[", tc.depth) + strings.Repeat("]", tc.depth))
			_, want := referenceJSON(body)
			if want != tc.json {
				t.Fatalf("encoding/json took it: %v, the test expected %v", want, tc.json)
			}
			if got := (&Request{Body: body}).jsonBody() != nil; got != tc.json {
				t.Errorf("jsonDoc took it: %v, want %v", got, tc.json)
			}
		})
	}
}
