package policy

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGenericHMAC(t *testing.T) {
	t.Parallel()
	f := loadMACFixture(t, "hmac")
	for _, v := range f.Vectors {
		build := func(s []Secret) (Verifier, error) {
			return NewVerifier(v.Config, s, 0)
		}
		cases := macBaseCases(v, v.Config.Header, "not-the-generic-secret")
		if v.Config.TimestampHeader != "" {
			// No route tolerance: the five-minute default applies.
			cases = append(cases, macFreshnessCases(v, 5*time.Minute)...)
			cases = append(cases,
				macCase{name: "missing timestamp header", edit: delHeader(v.Config.TimestampHeader), wantErr: ErrTimestampMissing},
				macCase{name: "timestamp header moved by a second", edit: setHeader(v.Config.TimestampHeader, strconv.FormatInt(v.Now+1, 10)), wantErr: ErrBadSignature},
				macCase{name: "missing id header", edit: delHeader(v.Config.IDHeader), wantNoID: true},
			)
		}
		if strings.Contains(v.Config.Template, "{header:X-Account}") {
			cases = append(cases,
				macCase{name: "signed header changed", edit: setHeader("X-Account", "acct_43"), wantErr: ErrBadSignature},
				macCase{name: "signed header missing", edit: delHeader("X-Account"), wantErr: ErrSignatureMalformed},
				macCase{name: "method changed", edit: func(r *Request) { r.Method = "PUT" }, wantErr: ErrBadSignature},
				macCase{name: "query changed", edit: func(r *Request) { r.URL.RawQuery = "shop=evil" }, wantErr: ErrBadSignature},
				macCase{name: "URL unknown", edit: func(r *Request) { r.URL = nil }, wantErr: ErrBadSignature},
			)
		}
		if v.Config.Prefix != "" {
			cases = append(cases, macCase{name: "prefix missing", edit: setHeader(v.Config.Header, strings.TrimPrefix(v.Headers[v.Config.Header], v.Config.Prefix)), wantErr: ErrSignatureMalformed})
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			runMACCases(t, v, build, cases)
		})
	}
}

func TestGenericHMACTolerance(t *testing.T) {
	t.Parallel()
	v := loadMACFixture(t, "hmac").vector(t, "sha512, base64, prefix, timestamp and id headers")
	ts := v.now()
	tests := []struct {
		name      string
		tolerance time.Duration
		at        time.Time
		wantErr   error
	}{
		{name: "route tolerance allows", tolerance: 30 * time.Second, at: ts.Add(30 * time.Second)},
		{name: "route tolerance refuses", tolerance: 30 * time.Second, at: ts.Add(31 * time.Second), wantErr: ErrStaleTimestamp},
		{name: "default allows five minutes", at: ts.Add(-5 * time.Minute)},
		{name: "default refuses beyond", at: ts.Add(-5*time.Minute - time.Second), wantErr: ErrFutureTimestamp},
		{name: "negative tolerance disables the check", tolerance: -1, at: ts.Add(24 * time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ver, err := newGenericHMAC(VerifierSpec{Config: v.Config, Secrets: macSecrets(v.Secret), Tolerance: tc.tolerance})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ver.Verify(v.request(t), tc.at)
			if tc.wantErr != nil {
				checkRefusal(t, err, tc.wantErr, []string{v.Secret})
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGenericHMACConfigErrors(t *testing.T) {
	t.Parallel()
	valid := VerifyConfig{Provider: "hmac", Header: "X-Signature"}
	tests := []struct {
		name    string
		edit    func(*VerifyConfig)
		secrets []Secret
		want    string
	}{
		{name: "header missing", edit: func(c *VerifyConfig) { c.Header = "" }, want: "verify.header: is required"},
		{name: "header not a token", edit: func(c *VerifyConfig) { c.Header = "X Signature" }, want: `verify.header: "X Signature" is not a valid header name`},
		{name: "unknown algorithm", edit: func(c *VerifyConfig) { c.Algorithm = "md5" }, want: `verify.algorithm: "md5" is not one of sha1, sha256, sha512`},
		{name: "algorithm is case-sensitive", edit: func(c *VerifyConfig) { c.Algorithm = "SHA256" }, want: `verify.algorithm: "SHA256" is not one of`},
		{name: "unknown encoding", edit: func(c *VerifyConfig) { c.Encoding = "base32" }, want: `verify.encoding: "base32" is not one of hex, base64`},
		{name: "unknown placeholder", edit: func(c *VerifyConfig) { c.Template = "{nonce}.{body}" }, want: "verify.template: unknown placeholder {nonce}"},
		{name: "unclosed placeholder", edit: func(c *VerifyConfig) { c.Template = "{body}.{timestamp" }, want: "verify.template: the { at byte 7 is not closed"},
		{name: "empty header placeholder", edit: func(c *VerifyConfig) { c.Template = "{header:}{body}" }, want: "verify.template: {header:} does not name a valid header"},
		{name: "body not signed", edit: func(c *VerifyConfig) { c.Template = "{timestamp}"; c.TimestampHeader = "X-Timestamp" }, want: "verify.template: must include {body}"},
		{name: "timestamp without its header", edit: func(c *VerifyConfig) { c.Template = "{timestamp}.{body}" }, want: "verify.template: uses {timestamp}, so verify.timestamp_header"},
		{name: "bad timestamp header", edit: func(c *VerifyConfig) { c.TimestampHeader = "X-Time:" }, want: "verify.timestamp_header: "},
		{name: "bad id header", edit: func(c *VerifyConfig) { c.IDHeader = "X Id" }, want: "verify.id_header: "},
		{name: "no secrets", secrets: []Secret{}, want: "verify.secrets: at least one secret is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			if tc.edit != nil {
				tc.edit(&c)
			}
			secrets := tc.secrets
			if secrets == nil {
				secrets = macSecrets("s3cret-value")
			}
			_, err := newGenericHMAC(VerifierSpec{Config: c, Secrets: secrets})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	got, err := parseTemplate("v0:{timestamp}:{method} {url}|{header:X-Account}|{body}}")
	if err != nil {
		t.Fatal(err)
	}
	want := []contentPart{
		{partLiteral, "v0:"}, {partTimestamp, ""}, {partLiteral, ":"}, {partMethod, ""}, {partLiteral, " "},
		{partURL, ""}, {partLiteral, "|"}, {partHeader, "X-Account"}, {partLiteral, "|"}, {partBody, ""}, {partLiteral, "}"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("part %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func FuzzParseHMACTemplate(f *testing.F) {
	f.Add("{timestamp}.{body}")
	f.Fuzz(func(t *testing.T, tmpl string) {
		parts, err := parseTemplate(tmpl)
		if err != nil {
			return
		}
		// Literal parts and placeholders must spell the template again.
		var b strings.Builder
		for _, p := range parts {
			switch p.kind {
			case partLiteral:
				b.WriteString(p.text)
			case partHeader:
				b.WriteString("{header:" + p.text + "}")
			default:
				b.WriteString(map[partKind]string{partBody: "{body}", partTimestamp: "{timestamp}", partMethod: "{method}", partURL: "{url}"}[p.kind])
			}
		}
		if b.String() != tmpl {
			t.Fatalf("parts %v spell %q, not %q", parts, b.String(), tmpl)
		}
	})
}

func FuzzParseMACSignature(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	schemes := []*macScheme{
		newMACScheme("X-Hub-Signature-256", "sha256", macHex, "sha256=", nil),
		newMACScheme("Typeform-Signature", "sha256", macBase64, "sha256=", nil),
		newMACScheme("X-Signature", "sha512", macBase64, "", nil),
		newMACScheme("X-Hub-Signature", "sha1", macHex, "sha1=", nil),
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, s := range schemes {
			sig, err := s.parse(header)
			if err != nil {
				continue
			}
			if len(sig) != s.size {
				t.Fatalf("%s: accepted a %d-byte signature", s.header, len(sig))
			}
			if !strings.EqualFold(s.canonical(sig), header) && s.encoding == macHex {
				t.Fatalf("%s: %q re-encodes as %q", s.header, header, s.canonical(sig))
			}
		}
	})
}
