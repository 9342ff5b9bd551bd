package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// TestExportRoundTrip: what export writes, policy.ParseRawRequest (the
// reader of `hooktunnel verify`) reads back as the same request, and a
// GitHub signature over the body still verifies.
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	body := []byte("{\"action\":\"opened\",\r\n\"zen\":\"Keep it logically awesome.\"}\n")
	mac := hmac.New(sha256.New, []byte("s3cr3t"))
	mac.Write(body)
	m := &store.Message{
		ID: "01JDZ8Q3V6R8M2K7T1C9W4E5XA", Tunnel: "demo", Method: "POST",
		Path: "/hooks/git hub", Query: "a=1&b=%2F",
		Header: http.Header{
			"Content-Type":        {"application/json"},
			"X-Github-Event":      {"pull_request"},
			"X-Github-Delivery":   {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))},
			"Content-Length":      {"999"},
			"Transfer-Encoding":   {"chunked"},
			"Accept":              {"*/*", "text/plain"},
		},
		Body: body, BodySize: int64(len(body)),
	}
	var out bytes.Buffer
	if err := writeRawRequest(&out, m, "demo.hooks.example.com"); err != nil {
		t.Fatal(err)
	}
	r, err := policy.ParseRawRequest(out.Bytes(), "")
	if err != nil {
		t.Fatalf("ParseRawRequest of the export: %v\n%s", err, out.Bytes())
	}
	if r.Method != "POST" || r.URL.Path != m.Path || r.URL.RawQuery != m.Query || r.URL.Host != "demo.hooks.example.com" {
		t.Errorf("request %s %s (host %s), want POST %s?%s", r.Method, r.URL, r.URL.Host, m.Path, m.Query)
	}
	if !bytes.Equal(r.Body, body) {
		t.Errorf("body %q, want %q", r.Body, body)
	}
	if got := r.Header["Accept"]; len(got) != 2 || r.Header.Get("X-Github-Delivery") != m.Header.Get("X-Github-Delivery") {
		t.Errorf("headers %v", r.Header)
	}
	v, err := policy.NewVerifier(policy.VerifyConfig{Provider: "github"}, []policy.Secret{{Ref: "literal", Value: []byte("s3cr3t")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(r, time.Now()); err != nil {
		t.Errorf("the exported request does not verify: %v", err)
	}
}

func TestExportable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    store.Message
		ok   bool
	}{
		{"whole body", store.Message{Header: http.Header{}, Body: []byte("x"), BodySize: 1}, true},
		{"no body at all", store.Message{Header: http.Header{}}, true},
		{"metadata only", store.Message{BodySize: 1}, false},
		{"body not kept", store.Message{Header: http.Header{}, BodySize: 10}, false},
		{"truncated", store.Message{Header: http.Header{}, Body: []byte("x"), BodySize: 1, BodyTruncated: true}, false},
		{"dropped", store.Message{Header: http.Header{}, BodySize: 1, BodyDropped: "journal_backlog"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := exportable(&tc.m)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, errNotExportable) {
				t.Errorf("exportable = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
