package policy

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignatureHeadersNameWhereSignaturesLive fails when a provider's
// verifier reads its signature from a header that its provider table
// entry, and so SignatureHeaders, does not name: the journal would redact
// that header (its name looks like a credential) and a replay would lose
// the signature. For each provider, every request of its vectors that the
// verifier accepts is stripped of each header in turn; a header whose
// value holds the signature and whose removal changes what Verify says is
// where the signature lives.
func TestSignatureHeadersNameWhereSignaturesLive(t *testing.T) {
	t.Parallel()
	kept := map[string]bool{}
	for _, h := range SignatureHeaders() {
		kept[h] = true
	}
	for _, h := range CredentialHeaders() {
		kept[http.CanonicalHeaderKey(h)] = true // never kept, by a decision of its own
	}
	for name, p := range providers {
		if name == "hmac" {
			continue // its header is the route's verify.header, which the route redacts
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			named := map[string]bool{}
			for _, h := range p.signatures {
				named[http.CanonicalHeaderKey(h)] = true
			}
			homes := map[string]bool{}
			for _, vec := range loadAnyVectors(t, name) {
				v, err := NewVerifier(VerifyConfig{Provider: name}, []Secret{{Ref: "test", Value: []byte(vec.secret)}}, 0)
				if err != nil {
					t.Fatalf("%s: %v", vec.name, err)
				}
				for h := range signatureHomes(v, vec.request, vec.now, 2) {
					homes[h] = true
				}
			}
			if len(homes) == 0 {
				t.Fatal("no vector was accepted with a signature, so nothing was checked")
			}
			for h := range homes {
				if !named[h] {
					t.Errorf("the verifier reads its signature from %s, which the provider table's signatures do not name", h)
				}
				if !kept[h] {
					t.Errorf("%s is neither in SignatureHeaders nor in CredentialHeaders", h)
				}
			}
		})
	}
}

// signatureHomes returns the headers the signature of r lives in, if v
// accepts r; depth > 1 also strips each header and looks again, which
// finds the headers a verifier falls back to (svix-signature, then
// webhook-signature).
func signatureHomes(v Verifier, r func() *Request, now time.Time, depth int) map[string]bool {
	homes := map[string]bool{}
	res, err := v.Verify(r(), now)
	if err != nil || res.Signature == "" || depth == 0 {
		return homes
	}
	for h, vals := range r().Header {
		stripped := func() *Request {
			req := r()
			req.Header.Del(h)
			return req
		}
		again, err := v.Verify(stripped(), now)
		changed := err != nil || again.Signature != res.Signature
		if changed && strings.Contains(strings.ToLower(strings.Join(vals, ",")), strings.ToLower(res.Signature)) {
			homes[h] = true
		}
		for h2 := range signatureHomes(v, stripped, now, depth-1) {
			homes[h2] = true
		}
	}
	return homes
}

// anyVector is a request of testdata/vectors/<provider>.json, whichever
// generator wrote it, with the secret and the time it was signed with.
type anyVector struct {
	name    string
	secret  string
	now     time.Time
	request func() *Request
}

// loadAnyVectors reads the vectors of provider's file: the fields the
// generators share (secrets by name or given in the vector, method, url,
// headers, body) and the time as now (Unix seconds or RFC 3339) or the
// signed timestamp.
func loadAnyVectors(t *testing.T, provider string) []anyVector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors/" + provider + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Secrets map[string]string `json:"secrets"`
		Vectors []struct {
			Name      string            `json:"name"`
			Secret    string            `json:"secret"`
			Method    string            `json:"method"`
			URL       string            `json:"url"`
			Headers   map[string]string `json:"headers"`
			Body      string            `json:"body"`
			Now       json.RawMessage   `json:"now"`
			Timestamp json.RawMessage   `json:"timestamp"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []anyVector
	for _, v := range f.Vectors {
		secret, ok := f.Secrets[v.Secret]
		if !ok {
			secret = v.Secret
		}
		method, raw := cmp.Or(v.Method, http.MethodPost), cmp.Or(v.URL, "https://hooks.example.com/t/demo/webhook")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		headers, body := v.Headers, v.Body
		out = append(out, anyVector{name: v.Name, secret: secret, now: vectorTime(v.Now, v.Timestamp), request: func() *Request {
			h := http.Header{}
			for k, val := range headers {
				h.Set(k, val)
			}
			return &Request{Method: method, URL: u, Header: h, Body: []byte(body)}
		}})
	}
	if len(out) == 0 {
		t.Fatalf("%s.json has no vectors", provider)
	}
	return out
}

// vectorTime is the first of the raw JSON times that reads as one: a
// number or string of Unix seconds, or RFC 3339; else the present.
func vectorTime(raws ...json.RawMessage) time.Time {
	for _, raw := range raws {
		var n int64
		if json.Unmarshal(raw, &n) == nil && n > 0 {
			return time.Unix(n, 0)
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0)
		}
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return ts
		}
	}
	return time.Now()
}

// TestSignatureHeadersComeFromTheProviderTable checks that the list the
// journal keeps is the table's: each provider's signatures, canonical,
// less the credential headers.
func TestSignatureHeadersComeFromTheProviderTable(t *testing.T) {
	t.Parallel()
	got := SignatureHeaders()
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("SignatureHeaders() = %v, want sorted and without repeats", got)
	}
	for name, p := range providers {
		for _, h := range p.signatures {
			c := http.CanonicalHeaderKey(h)
			if slices.Contains(got, c) == slices.Contains(credentialHeaders, c) {
				t.Errorf("%s's signature header %s: in SignatureHeaders %v, a credential header %v; want exactly one", name, c, slices.Contains(got, c), slices.Contains(credentialHeaders, c))
			}
		}
	}
}
