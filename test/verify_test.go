package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The captures these tests check are built from the SDK vectors the
// policy package's verifiers are tested against, so a delivery the
// provider's SDK accepts must be allowed by `hooktunnel verify` too.

// captureVectors is policy/testdata/vectors/<provider>.json, the fields
// these tests need. Files either name secrets in "secrets" and refer to
// them by key, or put the secret itself in each vector.
type captureVectors struct {
	Secrets map[string]string `json:"secrets"`
	Vectors []captureVector   `json:"vectors"`
}

type captureVector struct {
	Name    string            `json:"name"`
	Secret  string            `json:"secret"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Now     json.RawMessage   `json:"now"` // Unix seconds, as a number or a string, or RFC 3339
}

// loadCapture returns the named vector of provider with its secret.
func loadCapture(t *testing.T, provider, name string) (captureVector, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "policy", "testdata", "vectors", provider+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f captureVectors
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s.json: %v", provider, err)
	}
	for _, v := range f.Vectors {
		if v.Name != name {
			continue
		}
		if s, ok := f.Secrets[v.Secret]; ok {
			return v, s
		}
		return v, v.Secret
	}
	t.Fatalf("%s.json has no vector %q", provider, name)
	return captureVector{}, ""
}

// now is the vector's clock in Unix seconds.
func (v captureVector) now(t *testing.T) int64 {
	t.Helper()
	var n int64
	if json.Unmarshal(v.Now, &n) == nil {
		return n
	}
	var s string
	if err := json.Unmarshal(v.Now, &s); err != nil {
		t.Fatalf("vector %q: now %s", v.Name, v.Now)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("vector %q: now %q", v.Name, s)
	}
	return ts.Unix()
}

// raw is the vector as it arrives on the wire: request line, Host from
// its URL, its headers, Content-Length and the body.
func (v captureVector) raw(t *testing.T) string {
	t.Helper()
	method, target := v.Method, v.URL
	if method == "" {
		method = "POST"
	}
	if target == "" {
		target = "https://hooks.example.com/t/demo/webhook"
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
	names := make([]string, 0, len(v.Headers))
	for k := range v.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b.WriteString(k + ": " + v.Headers[k] + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(v.Body)) + "\r\n\r\n" + v.Body)
	return b.String()
}

// writeCapture writes content into a file of the test's directory.
func writeCapture(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifyLine is one line of `hooktunnel verify` output.
type verifyLine struct {
	File       string `json:"file"`
	Allow      bool   `json:"allow"`
	Reason     string `json:"reason"`
	Secret     string `json:"secret"`
	DeliveryID string `json:"delivery_id"`
	Handshake  bool   `json:"handshake"`
	Route      string `json:"route"`
}

// verifyRun is a finished `hooktunnel verify`.
type verifyRun struct {
	code           int
	lines          []verifyLine
	stdout, stderr string
}

// runVerify runs `hooktunnel verify args...` to the end. Every line of its
// output must be a JSON object.
func runVerify(t *testing.T, args ...string) verifyRun {
	t.Helper()
	p := startProc(t, "verify", append([]string{"verify"}, args...)...)
	code, ok := p.exited(time.Minute)
	if !ok {
		t.Fatal("hooktunnel verify did not finish")
	}
	run := verifyRun{code: code, stdout: p.stdout.String(), stderr: p.stderr.String()}
	for l := range strings.Lines(run.stdout) {
		var line verifyLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("output line %q is not JSON: %v", l, err)
		}
		run.lines = append(run.lines, line)
	}
	return run
}

// assertNoSecret fails when a secret value (or another string that must
// not be shown, like an expected signature) appears in the output.
func (r verifyRun) assertNoSecret(t *testing.T, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
			t.Errorf("output shows %q:\n%s%s", v, r.stdout, r.stderr)
		}
	}
}

func (r verifyRun) want(t *testing.T, code int, files int) {
	t.Helper()
	if r.code != code || len(r.lines) != files {
		t.Fatalf("exit %d with %d lines, want exit %d with %d:\n%s%s", r.code, len(r.lines), code, files, r.stdout, r.stderr)
	}
}

// TestVerify is not parallel: its subtests set the environment the
// secrets are read from.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	gh, ghSecret := loadCapture(t, "github", "github docs example")
	ghFile := writeCapture(t, dir, "github.http", gh.raw(t))
	ghNow := strconv.FormatInt(gh.now(t), 10)
	t.Setenv("HT_VERIFY_GH", ghSecret)
	t.Setenv("HT_VERIFY_GH_WRONG", "not-the-github-secret")

	t.Run("valid delivery is allowed", func(t *testing.T) {
		r := runVerify(t, "--provider", "github", "--secret", "env:HT_VERIFY_GH", "--now", ghNow, ghFile)
		r.want(t, 0, 1)
		got := r.lines[0]
		want := verifyLine{File: ghFile, Allow: true, Reason: "ok", Secret: "env:HT_VERIFY_GH", DeliveryID: gh.Headers["X-GitHub-Delivery"]}
		if got != want {
			t.Errorf("line = %+v, want %+v", got, want)
		}
		r.assertNoSecret(t, ghSecret)
	})

	t.Run("tampered body is a bad signature", func(t *testing.T) {
		tampered := gh
		tampered.Body = strings.Replace(gh.Body, "Hello", "Jello", 1)
		file := writeCapture(t, dir, "tampered.http", tampered.raw(t))
		r := runVerify(t, "--provider", "github", "--secret", "env:HT_VERIFY_GH", "--now", ghNow, file)
		r.want(t, 1, 1)
		if got := r.lines[0]; got.Allow || !strings.HasPrefix(got.Reason, "bad_signature: ") || !strings.Contains(got.Reason, "X-Hub-Signature-256") {
			t.Errorf("line = %+v, want a bad_signature naming X-Hub-Signature-256", got)
		}
		// What the signature should have been is never shown.
		mac := hmac.New(sha256.New, []byte(ghSecret))
		mac.Write([]byte(tampered.Body))
		r.assertNoSecret(t, ghSecret, hex.EncodeToString(mac.Sum(nil)))
	})

	t.Run("second copy of a delivery is a duplicate", func(t *testing.T) {
		r := runVerify(t, "--provider", "github", "--secret", "env:HT_VERIFY_GH", "--now", ghNow, ghFile, ghFile)
		r.want(t, 1, 2)
		if first := r.lines[0]; !first.Allow || first.Reason != "ok" {
			t.Errorf("first = %+v, want allowed", first)
		}
		if second := r.lines[1]; second.Allow || second.Reason != "duplicate" || second.DeliveryID != gh.Headers["X-GitHub-Delivery"] {
			t.Errorf("second = %+v, want a duplicate of the same delivery", second)
		}
	})

	t.Run("rotation names the secret that matched", func(t *testing.T) {
		v, oldSecret := loadCapture(t, "stripe", "event signed with the old secret")
		_, newSecret := loadCapture(t, "stripe", "event signed with the current secret")
		t.Setenv("HT_VERIFY_STRIPE_NEW", newSecret)
		t.Setenv("HT_VERIFY_STRIPE_OLD", oldSecret)
		file := writeCapture(t, dir, "stripe-old.http", v.raw(t))
		r := runVerify(t, "--provider", "stripe", "--secret", "env:HT_VERIFY_STRIPE_NEW", "--secret", "env:HT_VERIFY_STRIPE_OLD",
			"--now", strconv.FormatInt(v.now(t), 10), file)
		r.want(t, 0, 1)
		if got := r.lines[0]; !got.Allow || got.Secret != "env:HT_VERIFY_STRIPE_OLD" || got.DeliveryID != "evt_1QexampleOld" {
			t.Errorf("line = %+v, want allowed by env:HT_VERIFY_STRIPE_OLD as evt_1QexampleOld", got)
		}
		r.assertNoSecret(t, oldSecret, newSecret)
	})

	t.Run("timestamps are checked against --now and --tolerance", func(t *testing.T) {
		v, secret := loadCapture(t, "stripe", "event signed with the current secret")
		t.Setenv("HT_VERIFY_STRIPE", secret)
		file := writeCapture(t, dir, "stripe.http", v.raw(t))
		now := v.now(t)
		tests := []struct {
			name       string
			now        int64
			tolerance  string
			wantReason string
		}{
			{name: "ten minutes later", now: now + 600, wantReason: "stale_timestamp: "},
			{name: "ten minutes earlier", now: now - 600, wantReason: "future_timestamp: "},
			{name: "ten minutes later with a tolerance of an hour", now: now + 600, tolerance: "1h", wantReason: "ok"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				args := []string{"--provider", "stripe", "--secret", "env:HT_VERIFY_STRIPE", "--now", strconv.FormatInt(tc.now, 10)}
				if tc.tolerance != "" {
					args = append(args, "--tolerance", tc.tolerance)
				}
				r := runVerify(t, append(args, file)...)
				wantCode := 1
				if tc.wantReason == "ok" {
					wantCode = 0
				}
				r.want(t, wantCode, 1)
				if got := r.lines[0]; !strings.HasPrefix(got.Reason, tc.wantReason) {
					t.Errorf("reason = %q, want %q...", got.Reason, tc.wantReason)
				}
			})
		}
	})

	t.Run("file secret, event id and handshake", func(t *testing.T) {
		event, secret := loadCapture(t, "slack", "events api event_callback")
		challenge, _ := loadCapture(t, "slack", "url_verification handshake")
		secretFile := writeCapture(t, dir, "slack-secret", secret+"\n")
		eventFile := writeCapture(t, dir, "slack-event.http", event.raw(t))
		challengeFile := writeCapture(t, dir, "slack-challenge.http", challenge.raw(t))
		r := runVerify(t, "--provider", "slack", "--secret", "file:"+secretFile, "--now", strconv.FormatInt(event.now(t), 10), eventFile, challengeFile)
		r.want(t, 0, 2)
		if got := r.lines[0]; !got.Allow || got.Secret != "file:"+secretFile || got.DeliveryID != "Ev08MFMKH6" || got.Handshake {
			t.Errorf("event = %+v, want allowed as Ev08MFMKH6 by the file secret", got)
		}
		if got := r.lines[1]; !got.Allow || !got.Handshake {
			t.Errorf("url_verification = %+v, want an allowed handshake", got)
		}
	})

	t.Run("URL-signing providers use the Host header or --url", func(t *testing.T) {
		v, secret := loadCapture(t, "twilio", "docs example form post")
		t.Setenv("HT_VERIFY_TWILIO", secret)
		asSent := writeCapture(t, dir, "twilio.http", v.raw(t))
		local := v
		local.URL = "http://127.0.0.1:8000/sms"
		asForwarded := writeCapture(t, dir, "twilio-local.http", local.raw(t))
		base := []string{"--provider", "twilio", "--secret", "env:HT_VERIFY_TWILIO"}
		tests := []struct {
			name, url, file string
			wantAllow       bool
		}{
			{name: "URL from Host and request-target", file: asSent, wantAllow: true},
			{name: "--url the provider called", url: v.URL, file: asForwarded, wantAllow: true},
			{name: "another URL", url: "https://hooks.example.com/sms", file: asSent, wantAllow: false},
			{name: "URL of the local hop", file: asForwarded, wantAllow: false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				args := slices.Clone(base)
				if tc.url != "" {
					args = append(args, "--url", tc.url)
				}
				r := runVerify(t, append(args, tc.file)...)
				if got := r.lines; len(got) != 1 || got[0].Allow != tc.wantAllow {
					t.Fatalf("exit %d, lines %+v; want allow %v", r.code, got, tc.wantAllow)
				}
				if !tc.wantAllow && !strings.HasPrefix(r.lines[0].Reason, "bad_signature: ") {
					t.Errorf("reason = %q, want bad_signature", r.lines[0].Reason)
				}
			})
		}
	})

	t.Run("a file that is not a request is refused and the rest still checked", func(t *testing.T) {
		junk := writeCapture(t, dir, "notes.txt", "this is not an HTTP request\n")
		trailing := writeCapture(t, dir, "trailing.http", gh.raw(t)+"\n")
		r := runVerify(t, "--provider", "github", "--secret", "env:HT_VERIFY_GH", "--now", ghNow, junk, trailing, ghFile)
		r.want(t, 1, 3)
		if got := r.lines[0]; got.Allow || !strings.HasPrefix(got.Reason, "bad_request: ") {
			t.Errorf("junk = %+v, want bad_request", got)
		}
		if got := r.lines[1]; got.Allow || !strings.HasPrefix(got.Reason, "bad_request: ") || !strings.Contains(got.Reason, "follow the body") {
			t.Errorf("trailing newline = %+v, want bad_request naming the extra bytes", got)
		}
		if got := r.lines[2]; !got.Allow || got.File != ghFile {
			t.Errorf("valid = %+v, want allowed", got)
		}
	})

	t.Run("literal secret works with a warning and is not shown", func(t *testing.T) {
		r := runVerify(t, "--provider", "github", "--secret", ghSecret, "--now", ghNow, ghFile)
		r.want(t, 0, 1)
		if got := r.lines[0]; got.Secret != "literal #1" {
			t.Errorf("secret = %q, want literal #1", got.Secret)
		}
		if !strings.Contains(r.stderr, "shell history") {
			t.Errorf("stderr has no warning about literals: %q", r.stderr)
		}
		r.assertNoSecret(t, ghSecret)
	})

	t.Run("usage and config errors exit 2", func(t *testing.T) {
		t.Setenv("HT_VERIFY_EMPTY", "")
		tests := []struct {
			name    string
			args    []string
			wantErr []string // all in stderr
		}{
			{name: "unknown provider", args: []string{"--provider", "nosuch", "--secret", "env:HT_VERIFY_GH", ghFile}, wantErr: []string{`"nosuch"`, "not a known provider"}},
			{name: "no provider", args: []string{"--secret", "env:HT_VERIFY_GH", ghFile}, wantErr: []string{"--provider is required"}},
			{name: "empty env secret", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_EMPTY", ghFile}, wantErr: []string{"env:HT_VERIFY_EMPTY", "empty"}},
			{name: "unset env secret", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_UNSET", ghFile}, wantErr: []string{"HT_VERIFY_UNSET", "not set"}},
			{name: "no secret", args: []string{"--provider", "github", ghFile}, wantErr: []string{"--secret is required"}},
			{name: "secret the provider cannot use", args: []string{"--provider", "discord", "--secret", "env:HT_VERIFY_GH", ghFile}, wantErr: []string{"public key"}},
			{name: "no file", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_GH"}, wantErr: []string{"FILE"}},
			{name: "missing file", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_GH", ghFile, filepath.Join(dir, "nope.http")}, wantErr: []string{"nope.http", "no such file"}},
			{name: "bad --now", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_GH", "--now", "yesterday", ghFile}, wantErr: []string{"--now"}},
			{name: "bad --url", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_GH", "--url", "/relative", ghFile}, wantErr: []string{"--url"}},
			{name: "hmac setting on another provider", args: []string{"--provider", "github", "--secret", "env:HT_VERIFY_GH", "--header", "X-Sig", ghFile}, wantErr: []string{"--header", "hmac"}},
			{name: "hmac without its header", args: []string{"--provider", "hmac", "--secret", "env:HT_VERIFY_GH", ghFile}, wantErr: []string{"--header", "required"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := runVerify(t, tc.args...)
				r.want(t, 2, 0)
				for _, w := range tc.wantErr {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr %q does not say %q", r.stderr, w)
					}
				}
				r.assertNoSecret(t, ghSecret)
			})
		}
	})

	t.Run("generic hmac provider with its settings", func(t *testing.T) {
		r := runVerify(t, "--provider", "hmac", "--secret", "env:HT_VERIFY_GH_WRONG", "--secret", "env:HT_VERIFY_GH",
			"--header", "X-Hub-Signature-256", "--prefix", "sha256=", "--id-header", "X-GitHub-Delivery", ghFile)
		r.want(t, 0, 1)
		if got := r.lines[0]; !got.Allow || got.Secret != "env:HT_VERIFY_GH" || got.DeliveryID != gh.Headers["X-GitHub-Delivery"] {
			t.Errorf("line = %+v, want allowed by the second secret", got)
		}
	})
}
