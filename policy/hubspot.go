package policy

import (
	"crypto/sha256"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HubSpot's v3 signature is the base64 HMAC-SHA256, keyed with the app's
// client secret, of method + URI + body + X-HubSpot-Request-Timestamp
// (milliseconds). The URI is the full URL HubSpot called, with the
// percent-escapes of : / ? @ ! $ ' ( ) * , ; decoded first, as HubSpot's
// docs require; other escapes stay. Older v1/v2 signatures sign no
// timestamp and are not accepted. HubSpot sends no delivery id header (a
// webhook body is a batch of events), so the signature is the duplicate key.
// https://developers.hubspot.com/docs/api/webhooks/validating-requests
const (
	hubspotSignatureHeader = "X-HubSpot-Signature-v3"
	hubspotTimestampHeader = "X-HubSpot-Request-Timestamp"
	// hubspotV1Header carries the v1/v2 signatures, not accepted.
	hubspotV1Header = "X-HubSpot-Signature"
)

type hubspotVerifier struct {
	secrets   []Secret
	tolerance time.Duration
}

var _ Verifier = (*hubspotVerifier)(nil)

func newHubSpot(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, fieldf("secrets", "hubspot needs the app's client secret")
	}
	return &hubspotVerifier{secrets: s.Secrets, tolerance: s.Tolerance}, nil
}

func (v *hubspotVerifier) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, hubspotSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	mac, err := parseHubSpotSignature(raw)
	if err != nil {
		return Result{}, err
	}
	tsText := r.Header.Get(hubspotTimestampHeader)
	if tsText == "" {
		return Result{}, refuse(ErrTimestampMissing, "timestamp header "+hubspotTimestampHeader+" is missing")
	}
	ms, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ms < 0 {
		return Result{}, refuse(ErrTimestampMissing, "timestamp header "+hubspotTimestampHeader+" must be a Unix time in milliseconds")
	}
	if r.URL == nil {
		return Result{}, refuse(ErrBadSignature, "the request URL is unknown, so "+hubspotSignatureHeader+" cannot be checked")
	}
	// Any secret signs the same bytes, so build them once.
	content := []byte(r.Method + hubspotURI(r.URL))
	content = append(content, r.Body...)
	content = append(content, tsText...)
	i, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, content)
	}, [][]byte{mac})
	if !ok {
		return Result{}, refuse(ErrBadSignature, hubspotSignatureHeader+" does not match the method, URL, body and timestamp under any configured client secret; check the secret and that the public URL the edge sees is the one HubSpot calls")
	}
	ts := time.UnixMilli(ms)
	if err := checkFreshness(ts, now, v.tolerance, hubspotTimestampHeader); err != nil {
		return Result{}, err
	}
	return Result{Secret: i, Signature: raw, Fingerprint: fp, Timestamp: ts}, nil
}

func parseHubSpotSignature(h string) ([]byte, error) {
	mac, ok := sha256Base64(h)
	if !ok {
		return nil, refuse(ErrSignatureMalformed, hubspotSignatureHeader+" must be a base64 HMAC-SHA256; the header was truncated or altered")
	}
	return mac, nil
}

// hubspotURI is the URL as HubSpot signs it: scheme, host, path and query
// as received, with the escapes HubSpot decodes decoded.
func hubspotURI(u *url.URL) string {
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?" + u.RawQuery
	}
	return hubspotDecode(s)
}

// hubspotDecode decodes %XX (either case) when XX is one of the characters
// HubSpot's docs list, and leaves every other byte as it is.
func hubspotDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if c, ok := hubspotByte(s[i+1], s[i+2]); ok && strings.IndexByte(":/?@!$'()*,;", c) >= 0 {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hubspotByte(hi, lo byte) (byte, bool) {
	h, ok1 := hubspotNibble(hi)
	l, ok2 := hubspotNibble(lo)
	return h<<4 | l, ok1 && ok2
}

func hubspotNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
