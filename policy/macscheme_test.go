package policy

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// macFixture is testdata/vectors/<provider>.json, written by
// testdata/vectors/gen/<provider>.mjs from the provider's SDK or docs.
type macFixture struct {
	Provider string      `json:"provider"`
	Source   string      `json:"source"`
	Vectors  []macVector `json:"vectors"`
}

type macVector struct {
	Name    string            `json:"name"`
	Config  VerifyConfig      `json:"config"`
	Secret  string            `json:"secret"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Now     int64             `json:"now"` // Unix seconds the vector is checked at
	Want    *struct {
		Signature   string `json:"signature"`
		DeliveryID  string `json:"delivery_id"`
		TimestampMS int64  `json:"timestamp_ms"`
	} `json:"want"`
	WantError string `json:"want_error"` // a key of macFixtureErrors
}

var macFixtureErrors = map[string]error{
	"signature_missing":   ErrSignatureMissing,
	"signature_malformed": ErrSignatureMalformed,
	"bad_signature":       ErrBadSignature,
	"timestamp_missing":   ErrTimestampMissing,
}

func loadMACFixture(t *testing.T, provider string) macFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", provider+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f macFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Provider != provider || f.Source == "" || len(f.Vectors) == 0 {
		t.Fatalf("%s.json: wrong provider, no source or no vectors", provider)
	}
	return f
}

// vector returns the named vector.
func (f macFixture) vector(t *testing.T, name string) macVector {
	t.Helper()
	for _, v := range f.Vectors {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("%s.json has no vector %q", f.Provider, name)
	return macVector{}
}

// request builds a fresh copy of the vector's request, safe to edit.
func (v macVector) request(t *testing.T) *Request {
	t.Helper()
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

func (v macVector) now() time.Time { return time.Unix(v.Now, 0) }

func macSecrets(values ...string) []Secret {
	s := make([]Secret, len(values))
	for i, v := range values {
		s[i] = Secret{Ref: "test", Value: []byte(v)}
	}
	return s
}

// macCase is one row of a provider's table: the vector's request after
// edit, checked with secrets at a time.
type macCase struct {
	name    string
	secrets []string       // nil: the vector's secret
	edit    func(*Request) // nil: unchanged
	at      time.Time      // zero: the vector's time
	wantErr error
	// wantSecret is the index of the secret that must match when allowed.
	wantSecret int
	// wantID, when set, replaces the vector's delivery id; wantNoID
	// expects none.
	wantID   string
	wantNoID bool
}

// macBaseCases are the rows every scheme must pass, derived from one valid
// vector: sigHeader carries the signature; wrong is a well-formed secret
// that did not sign it.
func macBaseCases(v macVector, sigHeader, wrong string) []macCase {
	return []macCase{
		{name: "sdk vector"},
		{name: "body tampered by one byte", edit: func(r *Request) { r.Body[len(r.Body)-1] ^= 1 }, wantErr: ErrBadSignature},
		{name: "trailing newline added to body", edit: func(r *Request) { r.Body = append(r.Body, '\n') }, wantErr: ErrBadSignature},
		{name: "wrong secret", secrets: []string{wrong}, wantErr: ErrBadSignature},
		{name: "old secret during rotation", secrets: []string{wrong, v.Secret}, wantSecret: 1},
		{name: "truncated signature", edit: func(r *Request) {
			s := r.Header.Get(sigHeader)
			r.Header.Set(sigHeader, s[:len(s)-4])
		}, wantErr: ErrSignatureMalformed},
		{name: "missing signature header", edit: func(r *Request) { r.Header.Del(sigHeader) }, wantErr: ErrSignatureMissing},
	}
}

// macFreshnessCases are the rows of a scheme that signs a timestamp.
func macFreshnessCases(v macVector, tolerance time.Duration) []macCase {
	ts := time.UnixMilli(v.Want.TimestampMS)
	return []macCase{
		{name: "just inside the tolerance", at: ts.Add(tolerance)},
		{name: "stale timestamp", at: ts.Add(tolerance + time.Second), wantErr: ErrStaleTimestamp},
		{name: "future timestamp", at: ts.Add(-tolerance - time.Second), wantErr: ErrFutureTimestamp},
	}
}

// runMACCases runs the rows against the verifier build makes from the
// row's secrets, in parallel.
func runMACCases(t *testing.T, v macVector, build func([]Secret) (Verifier, error), cases []macCase) {
	t.Helper()
	if v.Want == nil {
		t.Fatalf("vector %q has no want", v.Name)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secrets := tc.secrets
			if secrets == nil {
				secrets = []string{v.Secret}
			}
			ver, err := build(macSecrets(secrets...))
			if err != nil {
				t.Fatal(err)
			}
			r := v.request(t)
			if tc.edit != nil {
				tc.edit(r)
			}
			at := tc.at
			if at.IsZero() {
				at = v.now()
			}
			res, err := ver.Verify(r, at)
			if tc.wantErr != nil {
				checkRefusal(t, err, tc.wantErr, secrets)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantID := cmp.Or(tc.wantID, v.Want.DeliveryID)
			if tc.wantNoID {
				wantID = ""
			}
			checkResult(t, v, res, tc.wantSecret, wantID)
		})
	}
}

// checkRefusal asserts a refusal of kind whose sentence leaks no secret.
func checkRefusal(t *testing.T, err, kind error, secrets []string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Detail == "" {
		t.Fatalf("err = %#v, want a *Refusal with a sentence", err)
	}
	for _, s := range secrets {
		if strings.Contains(ref.Detail, s) {
			t.Fatalf("refusal %q contains a secret", ref.Detail)
		}
	}
	if digestLike(ref.Detail) {
		t.Fatalf("refusal %q contains something shaped like a digest or secret", ref.Detail)
	}
}

func checkResult(t *testing.T, v macVector, res Result, wantSecret int, wantID string) {
	t.Helper()
	if res.Secret != wantSecret {
		t.Errorf("Secret = %d, want %d", res.Secret, wantSecret)
	}
	if res.Signature != v.Want.Signature {
		t.Errorf("Signature = %q, want %q", res.Signature, v.Want.Signature)
	}
	if res.DeliveryID != wantID {
		t.Errorf("DeliveryID = %q, want %q", res.DeliveryID, wantID)
	}
	if res.Signature != "" && len(res.Fingerprint) == 0 {
		t.Error("a verified signature has no Fingerprint: its duplicates would go by the header's spelling")
	}
	var ts time.Time
	if v.Want.TimestampMS != 0 {
		ts = time.UnixMilli(v.Want.TimestampMS)
	}
	if !res.Timestamp.Equal(ts) {
		t.Errorf("Timestamp = %v, want %v", res.Timestamp, ts)
	}
}

// digestLike reports whether s holds a run of 24 or more hex or base64
// characters: the shape of a secret or an expected signature.
func digestLike(s string) bool {
	run := 0
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
			run++
			if run >= 24 {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}

// runErrorVector checks a vector that must be refused with its want_error.
func runErrorVector(t *testing.T, v macVector, build func([]Secret) (Verifier, error)) *Refusal {
	t.Helper()
	want, ok := macFixtureErrors[v.WantError]
	if !ok {
		t.Fatalf("vector %q: unknown want_error %q", v.Name, v.WantError)
	}
	ver, err := build(macSecrets(v.Secret))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ver.Verify(v.request(t), v.now())
	checkRefusal(t, err, want, []string{v.Secret})
	var ref *Refusal
	errors.As(err, &ref)
	return ref
}

// setHeader and delHeader are edits for macCase rows.
func setHeader(name, value string) func(*Request) {
	return func(r *Request) { r.Header.Set(name, value) }
}

func delHeader(name string) func(*Request) {
	return func(r *Request) { r.Header.Del(name) }
}

// FuzzVerifyHMACProviders feeds every header these providers read with
// fuzzed values: no input may panic, and none may verify under a secret it
// was not made with.
func FuzzVerifyHMACProviders(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "1735689600", []byte("Hello, World!"))
	secrets := macSecrets("fuzz-secret-one", "whsec_"+"Zm96ei1zZWNyZXQtdHdvLWZ1enotc2VjcmV0LXR3bw==")
	builders := map[string]func(VerifierSpec) (Verifier, error){
		"github": newGitHub, "gitlab": newGitLab, "bitbucket": newBitbucket, "bitbucket-server": newBitbucketServer,
		"shopify": newShopify, "linear": newLinear, "intercom": newIntercom, "atlassian": newAtlassian, "typeform": newTypeform,
	}
	var verifiers []Verifier
	for name, build := range builders {
		v, err := build(VerifierSpec{Secrets: secrets, Tolerance: time.Minute})
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		verifiers = append(verifiers, v)
	}
	generic, err := newGenericHMAC(VerifierSpec{Secrets: secrets, Config: VerifyConfig{
		Header: "X-Signature", Encoding: "base64", Prefix: "v1=", Template: "{timestamp}.{method}.{url}.{header:X-Account}.{body}",
		TimestampHeader: "X-Timestamp", IDHeader: "X-Id",
	}})
	if err != nil {
		f.Fatal(err)
	}
	verifiers = append(verifiers, generic)
	headers := []string{
		"X-Hub-Signature-256", "X-Hub-Signature", "X-Gitlab-Token", "webhook-signature", "webhook-id", "webhook-timestamp",
		"X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256", "Linear-Signature", "Typeform-Signature", "X-Signature", "X-Timestamp", "X-Account",
	}
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		h := http.Header{}
		for _, name := range headers {
			h.Set(name, sig)
		}
		h.Set("webhook-timestamp", ts)
		h.Set("X-Timestamp", ts)
		r := &Request{Method: "POST", URL: &url.URL{Scheme: "https", Host: "hooks.example.com", Path: "/x"}, Header: h, Body: body}
		for _, v := range verifiers {
			if res, err := v.Verify(r, time.Unix(1735689600, 0)); err == nil {
				t.Fatalf("%T verified a fuzzed request: %+v", v, res)
			}
		}
	})
}
