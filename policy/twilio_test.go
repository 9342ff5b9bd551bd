package policy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// twilioFixture is testdata/vectors/twilio.json, made by gen/twilio.mjs.
type twilioFixture struct {
	Source  string            `json:"source"`
	Secrets map[string]string `json:"secrets"`
	Vectors []struct {
		Name    string            `json:"name"`
		Secret  string            `json:"secret"`
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Valid   bool              `json:"valid"`
	} `json:"vectors"`
}

func loadTwilioFixture(t *testing.T) twilioFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors/twilio.json")
	if err != nil {
		t.Fatal(err)
	}
	var f twilioFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Source == "" || len(f.Vectors) == 0 {
		t.Fatal("twilio.json has no source or no vectors")
	}
	return f
}

// twilioRequest builds the request of the named vector.
func twilioRequest(t *testing.T, f twilioFixture, name string) *Request {
	t.Helper()
	for _, v := range f.Vectors {
		if v.Name != name {
			continue
		}
		u, err := url.Parse(v.URL)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		for k, val := range v.Headers {
			h.Set(k, val)
		}
		return &Request{Method: v.Method, URL: u, Header: h, Body: []byte(v.Body)}
	}
	t.Fatalf("no vector %q", name)
	return nil
}

func TestTwilioSDKVectors(t *testing.T) {
	t.Parallel()
	f := loadTwilioFixture(t)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			ver, err := NewVerifier(VerifyConfig{Provider: "twilio"}, rotationSecrets(f.Secrets[v.Secret]), 0)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ver.Verify(twilioRequest(t, f, v.Name), time.Now())
			if !v.Valid {
				if !errors.Is(err, ErrBadSignature) {
					t.Fatalf("SDK refuses this request; Verify = %v, want ErrBadSignature", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SDK accepts this request; Verify = %v", err)
			}
			if res.Signature != v.Headers["X-Twilio-Signature"] || res.Secret != 0 {
				t.Errorf("Result = %+v", res)
			}
		})
	}
}

func TestTwilioRefusals(t *testing.T) {
	t.Parallel()
	f := loadTwilioFixture(t)
	current, old := f.Secrets["current"], f.Secrets["old"]
	tests := []signatureCase{
		{name: "valid form post", vector: "docs example form post", secrets: []string{current}},
		{name: "delivery id from idempotency token", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("I-Twilio-Idempotency-Token", "idem-1") }, wantID: "idem-1"},
		{name: "form body tampered by one byte", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Body = []byte(strings.Replace(string(r.Body), "Digits=1234", "Digits=1235", 1)) }, wantErr: ErrBadSignature},
		{name: "form body with trailing newline", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "query tampered", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.URL.RawQuery = "foo=1&bar=3" }, wantErr: ErrBadSignature},
		{name: "form parameters only count on POST", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Method = http.MethodPut }, wantErr: ErrBadSignature},
		{name: "json body tampered by one byte", vector: "json body with bodySHA256", secrets: []string{current},
			mutate: func(r *Request) { r.Body[len(r.Body)-2] ^= 1 }, wantErr: ErrBadSignature},
		{name: "json body with trailing newline", vector: "json body with bodySHA256", secrets: []string{current},
			mutate: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "wrong auth token", vector: "docs example form post", secrets: []string{"not-the-token"}, wantErr: ErrBadSignature},
		{name: "old token during rotation", vector: "old token during rotation", secrets: []string{current, old}, wantSecret: 1},
		{name: "new token during rotation", vector: "docs example form post", secrets: []string{current, old}},
		{name: "truncated signature", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("X-Twilio-Signature", r.Header.Get("X-Twilio-Signature")[:27]) }, wantErr: ErrSignatureMalformed},
		{name: "signature of wrong length", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("X-Twilio-Signature", "AAAA") }, wantErr: ErrSignatureMalformed},
		{name: "signature not base64", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDg!=") }, wantErr: ErrSignatureMalformed},
		{name: "missing signature header", vector: "docs example form post", secrets: []string{current},
			mutate: func(r *Request) { r.Header.Del("X-Twilio-Signature") }, wantErr: ErrSignatureMissing},
	}
	runSignatureCases(t, tests, newTwilio, func(t *testing.T, v string) *Request { return twilioRequest(t, f, v) }, "X-Twilio-Signature", current)
}

func TestTwilioURLCandidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		want      []string
	}{
		{name: "https without port", url: "https://example.com/a?b=1",
			want: []string{"https://example.com/a?b=1", "https://example.com:443/a?b=1"}},
		{name: "http with port", url: "http://example.com:80/a",
			want: []string{"http://example.com/a", "http://example.com:80/a"}},
		{name: "other port kept", url: "https://example.com:8443/a",
			want: []string{"https://example.com/a", "https://example.com:8443/a"}},
		{name: "ipv6 literal", url: "https://[::1]:8443/a",
			want: []string{"https://[::1]/a", "https://[::1]:8443/a"}},
		{name: "escaped and legacy forms", url: "https://EXAMPLE.com/a?x=O'B+c&y=1&x=2",
			want: []string{"https://EXAMPLE.com/a?x=O'B+c&y=1&x=2", "https://EXAMPLE.com:443/a?x=O'B+c&y=1&x=2",
				"https://example.com/a?x=O%27B+c&y=1&x=2", "https://example.com:443/a?x=O%27B+c&y=1&x=2",
				"https://example.com/a?x=O'B%20c&x=2&y=1", "https://example.com:443/a?x=O'B%20c&x=2&y=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			got := twilioURLCandidates(u)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("candidates =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestNewTwilioNeedsAToken(t *testing.T) {
	t.Parallel()
	if _, err := newTwilio(VerifierSpec{}); err == nil {
		t.Fatal("newTwilio without auth token succeeded")
	}
}

// FuzzTwilioRequest feeds arbitrary headers, URLs and bodies through the
// signature, query and form parsers.
func FuzzTwilioRequest(f *testing.F) {
	f.Add("0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "https://mycompany.com/myapp.php?foo=1&bar=2", "application/x-www-form-urlencoded", "CallSid=CA1&Digits=1234")
	ver, err := newTwilio(VerifierSpec{Secrets: rotationSecrets("12345")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, rawURL, contentType, body string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return // only URLs the edge could have received
		}
		h := http.Header{"X-Twilio-Signature": {sig}, "Content-Type": {contentType}}
		r := &Request{Method: http.MethodPost, URL: u, Header: h, Body: []byte(body)}
		res, err := ver.Verify(r, time.Now())
		var refusal *Refusal
		if err != nil && !errors.As(err, &refusal) {
			t.Fatalf("Verify error %v is not a Refusal", err)
		}
		if err == nil && res.Signature != sig {
			t.Fatalf("verified with Signature %q, sent %q", res.Signature, sig)
		}
		// Re-encoding the query is idempotent, as node:querystring's is.
		once := legacyQueryString(parseLegacyQuery(body))
		if twice := legacyQueryString(parseLegacyQuery(once)); twice != once {
			t.Fatalf("legacy re-encoding of %q not stable: %q then %q", body, once, twice)
		}
	})
}
