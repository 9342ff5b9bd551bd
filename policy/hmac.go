package policy

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/http"
	"strconv"
	"time"
)

// hashNamed returns the constructor of a hash named in config.
func hashNamed(name string) (func() hash.Hash, bool) {
	switch name {
	case "sha1":
		return sha1.New, true
	case "sha256":
		return sha256.New, true
	case "sha512":
		return sha512.New, true
	}
	return nil, false
}

// macOf computes the HMAC of the concatenated parts.
func macOf(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// matchSecret returns the index of the first secret whose expected MAC,
// as computed by expected, equals one of the candidate signatures, and the
// fingerprint of the signed content: its MAC under the first secret. The
// fingerprint is the same for every copy of one signed message, whichever
// candidate matched and however the header spelled or listed them, so it
// is what the duplicate check keys on (see Result.Fingerprint). All
// comparisons are constant-time.
func matchSecret(secrets []Secret, expected func(key []byte) []byte, candidates [][]byte) (index int, fingerprint []byte, ok bool) {
	for i, s := range secrets {
		want := expected(s.Value)
		if i == 0 {
			fingerprint = want
		}
		for _, c := range candidates {
			if hmac.Equal(want, c) {
				return i, fingerprint, true
			}
		}
	}
	return -1, nil, false
}

// checkFreshness refuses a timestamp outside tolerance in either direction.
// tolerance <= 0 disables the check.
func checkFreshness(ts, now time.Time, tolerance time.Duration, header string) error {
	if tolerance <= 0 {
		return nil
	}
	switch d := now.Sub(ts); {
	case d > tolerance:
		return refuse(ErrStaleTimestamp, "timestamp in "+header+" is older than the tolerance of "+tolerance.String()+"; the request is stale or replayed")
	case d < -tolerance:
		return refuse(ErrFutureTimestamp, "timestamp in "+header+" is more than "+tolerance.String()+" in the future; check the sender's clock")
	}
	return nil
}

// unixSeconds parses a decimal Unix timestamp in seconds.
func unixSeconds(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// requireHeader returns the header's value or a refusal naming it.
func requireHeader(h http.Header, name string) (string, error) {
	v := h.Get(name)
	if v == "" {
		return "", refuse(ErrSignatureMissing, "signature header "+name+" is missing")
	}
	return v, nil
}
