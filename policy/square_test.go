package policy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// squareFixture is testdata/vectors/square.json, made by gen/square.mjs.
type squareFixture struct {
	Source  string            `json:"source"`
	Secrets map[string]string `json:"secrets"`
	Vectors []struct {
		Name    string            `json:"name"`
		Secret  string            `json:"secret"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"vectors"`
}

func loadSquareFixture(t *testing.T) squareFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors/square.json")
	if err != nil {
		t.Fatal(err)
	}
	var f squareFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Source == "" || len(f.Vectors) == 0 {
		t.Fatal("square.json has no source or no vectors")
	}
	return f
}

func squareRequest(t *testing.T, f squareFixture, name string) *Request {
	t.Helper()
	for _, v := range f.Vectors {
		if v.Name != name {
			continue
		}
		u, err := url.Parse(v.URL)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Content-Type": {"application/json"}}
		for k, val := range v.Headers {
			h.Set(k, val)
		}
		return &Request{Method: http.MethodPost, URL: u, Header: h, Body: []byte(v.Body)}
	}
	t.Fatalf("no vector %q", name)
	return nil
}

func TestSquareSDKVectors(t *testing.T) {
	t.Parallel()
	f := loadSquareFixture(t)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			ver, err := NewVerifier(VerifyConfig{Provider: "square"}, rotationSecrets(f.Secrets[v.Secret]), 0)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ver.Verify(squareRequest(t, f, v.Name), time.Now())
			if err != nil {
				t.Fatalf("SDK accepts this request; Verify = %v", err)
			}
			if res.Signature != v.Headers["X-Square-Hmacsha256-Signature"] || res.Secret != 0 {
				t.Errorf("Result = %+v", res)
			}
		})
	}
}

func TestSquareRefusals(t *testing.T) {
	t.Parallel()
	f := loadSquareFixture(t)
	current, old := f.Secrets["current"], f.Secrets["old"]
	const base = "published test notification"
	tests := []signatureCase{
		{name: "valid with event id", vector: base, secrets: []string{current}, wantID: "ac3ac95b-f97d-458c-a6e6-18981597e05f"},
		{name: "no event id in a body that is not JSON", vector: "published escaped body", secrets: []string{f.Secrets["escaped"]}},
		{name: "body tampered by one byte", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Body[10] ^= 1 }, wantErr: ErrBadSignature},
		{name: "body with trailing newline", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "notification URL differs", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.URL.Path += "/" }, wantErr: ErrBadSignature},
		{name: "query differs", vector: "url with query", secrets: []string{current},
			mutate: func(r *Request) { r.URL.RawQuery = "route=refunds" }, wantErr: ErrBadSignature},
		{name: "wrong signature key", vector: base, secrets: []string{"MCmhFRxGX82xMwg5FsaoQA"}, wantErr: ErrBadSignature},
		{name: "old key during rotation", vector: "old key during rotation", secrets: []string{current, old},
			wantSecret: 1, wantID: "ac3ac95b-f97d-458c-a6e6-18981597e05f"},
		{name: "truncated signature", vector: base, secrets: []string{current},
			mutate: func(r *Request) {
				r.Header.Set("X-Square-Hmacsha256-Signature", r.Header.Get("X-Square-Hmacsha256-Signature")[:40])
			}, wantErr: ErrSignatureMalformed},
		{name: "legacy sha1 signature length", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Set("X-Square-Hmacsha256-Signature", "1z2n3DEJJiUPKcPzQo1ftvbxGdw=") }, wantErr: ErrSignatureMalformed},
		{name: "missing signature header", vector: base, secrets: []string{current},
			mutate: func(r *Request) { r.Header.Del("X-Square-Hmacsha256-Signature") }, wantErr: ErrSignatureMissing},
	}
	runSignatureCases(t, tests, newSquare, func(t *testing.T, v string) *Request { return squareRequest(t, f, v) }, "X-Square-Hmacsha256-Signature", current)
}

func TestNewSquareNeedsAKey(t *testing.T) {
	t.Parallel()
	if _, err := newSquare(VerifierSpec{}); err == nil {
		t.Fatal("newSquare without signature key succeeded")
	}
}

// FuzzSquareRequest feeds arbitrary signature headers, URLs and bodies
// through the signature and event id parsers.
func FuzzSquareRequest(f *testing.F) {
	f.Add("GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=", "https://webhook.site/x", `{"event_id":"e1"}`)
	ver, err := newSquare(VerifierSpec{Secrets: rotationSecrets("Ibxx_5AKakO-3qeNVR61Dw")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, rawURL, body string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return // only URLs the edge could have received
		}
		r := &Request{Method: http.MethodPost, URL: u, Header: http.Header{"X-Square-Hmacsha256-Signature": {sig}}, Body: []byte(body)}
		res, err := ver.Verify(r, time.Now())
		var refusal *Refusal
		if err != nil && !errors.As(err, &refusal) {
			t.Fatalf("Verify error %v is not a Refusal", err)
		}
		if err == nil && res.Signature != sig {
			t.Fatalf("verified with Signature %q, sent %q", res.Signature, sig)
		}
		_ = squareEventID([]byte(body))
	})
}
