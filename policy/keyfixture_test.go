package policy

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
)

// keyFixture is testdata/vectors/<provider>.json for the providers whose
// generator (gen/<provider>.mjs) writes named requests with their headers:
// Discord, SendGrid and Teams.
type keyFixture struct {
	Source  string            `json:"source"`
	Secrets map[string]string `json:"secrets"`
	Vectors []struct {
		Name      string            `json:"name"`
		Secret    string            `json:"secret"`
		Timestamp string            `json:"timestamp,omitempty"`
		Headers   map[string]string `json:"headers"`
		Body      string            `json:"body"`
	} `json:"vectors"`
}

func loadKeyFixture(t *testing.T, provider string) keyFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors/" + provider + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var f keyFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Source == "" || len(f.Vectors) == 0 {
		t.Fatalf("%s.json has no source or no vectors", provider)
	}
	return f
}

// request is the named vector as the edge would hand it to a verifier.
func (f keyFixture) request(t *testing.T, name string) *Request {
	t.Helper()
	for _, v := range f.Vectors {
		if v.Name == name {
			h := http.Header{"Content-Type": {"application/json"}}
			for k, val := range v.Headers {
				h.Set(k, val)
			}
			return &Request{Method: http.MethodPost, Header: h, Body: []byte(v.Body)}
		}
	}
	t.Fatalf("no vector %q", name)
	return nil
}
