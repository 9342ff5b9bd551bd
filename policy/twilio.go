package policy

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"slices"
	"time"
	"unicode/utf16"
)

const (
	twilioSignatureHeader = "X-Twilio-Signature"
	twilioIDHeader        = "I-Twilio-Idempotency-Token"
)

// twilio verifies X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth
// token, of the URL Twilio called followed by the sorted POST parameters.
// JSON bodies are bound through the bodySHA256 query parameter instead.
type twilio struct {
	secrets []Secret
}

var _ Verifier = (*twilio)(nil)

func newTwilio(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, errors.New("twilio: needs at least one auth token")
	}
	return &twilio{secrets: s.Secrets}, nil
}

func (v *twilio) Verify(r *Request, _ time.Time) (Result, error) {
	header, err := requireHeader(r.Header, twilioSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	sig, err := parseTwilioSignature(header)
	if err != nil {
		return Result{}, err
	}
	if r.URL == nil {
		return Result{}, refuse(ErrBadSignature, "the request URL is unknown, so "+twilioSignatureHeader+" cannot be checked")
	}
	bodyHash, hasBodyHash := legacyLookup(parseLegacyQuery(r.URL.RawQuery), "bodySHA256")
	var params []byte
	if !hasBodyHash && twilioIsFormPost(r) {
		params = twilioParamString(parseLegacyQuery(string(r.Body)))
	}
	index, fp, ok := v.match(twilioURLCandidates(r.URL), params, sig)
	if !ok {
		return Result{}, refuse(ErrBadSignature, twilioSignatureHeader+" does not match the URL and POST parameters signed with any configured auth token; check that the URL configured in Twilio (scheme, host, path, query) is the one this endpoint receives")
	}
	if hasBodyHash {
		sum := sha256.Sum256(r.Body)
		// The SDK compares the lower-case hex digest as a string; so do we.
		if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(bodyHash)) != 1 {
			return Result{}, refuse(ErrBadSignature, "the body's SHA-256 does not match the bodySHA256 query parameter signed by "+twilioSignatureHeader+"; the body was changed in transit")
		}
	}
	return Result{Secret: index, DeliveryID: r.Header.Get(twilioIDHeader), Signature: header, Fingerprint: fp}, nil
}

// match returns the index of the first auth token that signed any of the
// candidate URLs. Twilio signs the URL as configured, which may differ from
// the received one by the default port or escaping, so the SDK tries each.
// It also returns the fingerprint of what was signed (see matchSecret).
func (v *twilio) match(urls []string, params, sig []byte) (int, []byte, bool) {
	for i, s := range v.secrets {
		for _, u := range urls {
			if mac := macOf(sha1.New, s.Value, []byte(u), params); hmac.Equal(mac, sig) {
				// The fingerprint, as matchSecret's: the MAC under the
				// first secret of the URL that was signed.
				if i > 0 {
					mac = macOf(sha1.New, v.secrets[0].Value, []byte(u), params)
				}
				return i, mac, true
			}
		}
	}
	return -1, nil, false
}

// parseTwilioSignature decodes the header. Strict decoding keeps base64 text
// and digest one-to-one, as the SDK compares the text.
func parseTwilioSignature(header string) ([]byte, error) {
	sig, err := base64.StdEncoding.Strict().DecodeString(header)
	if err != nil || len(sig) != sha1.Size {
		return nil, refuse(ErrSignatureMalformed, twilioSignatureHeader+" must be the base64 of a 20-byte HMAC-SHA1")
	}
	return sig, nil
}

func twilioIsFormPost(r *Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && media == "application/x-www-form-urlencoded"
}

// twilioParamString is what follows the URL in the signed string: every
// name+value, names sorted; a repeated name's values deduplicated and sorted
// (the SDK's Array.from(new Set(values)).sort()).
func twilioParamString(params []legacyParam) []byte {
	sorted := slices.Clone(params)
	slices.SortFunc(sorted, func(a, b legacyParam) int { return jsCompareStrings(a.name, b.name) })
	var out []byte
	for _, p := range sorted {
		values := p.values
		if len(values) > 1 {
			values = twilioDedupe(values)
			slices.SortFunc(values, jsCompareStrings)
		}
		for _, val := range values {
			out = append(out, p.name...)
			out = append(out, val...)
		}
	}
	return out
}

// jsCompareStrings orders strings as JavaScript's default sort does: by UTF-16
// code units, which differs from byte order beyond the BMP.
func jsCompareStrings(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func twilioDedupe(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func legacyLookup(params []legacyParam, name string) (string, bool) {
	for _, p := range params {
		if p.name == name {
			return p.values[0], true
		}
	}
	return "", false
}
