package edge

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func proxyV2(cmd, fam byte, addrs []byte) string {
	h := append([]byte(nil), proxyV2Sig...)
	h = append(h, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(h[14:], uint16(len(addrs)))
	return string(append(h, addrs...))
}

func TestParseProxyHeader(t *testing.T) {
	t.Parallel()
	v4 := []byte{203, 0, 113, 7, 10, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb}
	v6 := make([]byte, 36)
	v6[0], v6[1], v6[15] = 0x20, 0x01, 0x09
	binary.BigEndian.PutUint16(v6[32:], 443)
	tests := []struct {
		name, in, want string // want "" with ok false; "error" for an error
		rest           string
	}{
		{"v1 tcp4", "PROXY TCP4 203.0.113.7 10.0.0.1 12345 443\r\nGET / HTTP/1.1\r\n", "203.0.113.7:12345", "GET / HTTP/1.1\r\n"},
		{"v1 tcp6", "PROXY TCP6 2001:db8::9 2001:db8::1 40000 443\r\n", "[2001:db8::9]:40000", ""},
		{"v1 unknown keeps the peer", "PROXY UNKNOWN\r\n", "", ""},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::9 10.0.0.1 1 2\r\n", "error", ""},
		{"v1 bad port", "PROXY TCP4 203.0.113.7 10.0.0.1 99999 443\r\n", "error", ""},
		{"v1 bare LF", "PROXY TCP4 203.0.113.7 10.0.0.1 1 2\n", "error", ""},
		{"v1 too long", "PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n", "error", ""},
		{"plain HTTP from a trusted peer", "GET / HTTP/1.1\r\n", "error", ""},
		{"v2 tcp4", proxyV2(1, 0x11, v4) + "rest", "203.0.113.7:12345", "rest"},
		{"v2 tcp6", proxyV2(1, 0x21, v6), "[2001::9]:443", ""},
		{"v2 local keeps the peer", proxyV2(0, 0x00, nil), "", ""},
		{"v2 short addresses", proxyV2(1, 0x11, v4[:4]), "error", ""},
		{"v2 truncated", proxyV2(1, 0x11, v4)[:20], "error", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in))
			src, ok, err := parseProxyHeader(r)
			switch {
			case tc.want == "error":
				if !errors.Is(err, errProxyHeader) {
					t.Fatalf("got %v, %v, %v; want an errProxyHeader", src, ok, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.want == "" && ok, tc.want != "" && (!ok || src.String() != tc.want):
				t.Fatalf("got %v (ok %v), want %q", src, ok, tc.want)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != tc.rest {
				t.Errorf("left %q after the header, want %q", rest, tc.rest)
			}
		})
	}
}

func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 12345 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte(proxyV2(1, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2})))
	f.Add([]byte(proxyV2(1, 0x21, make([]byte, 36))))
	f.Fuzz(func(t *testing.T, in []byte) {
		src, ok, err := parseProxyHeader(bufio.NewReader(strings.NewReader(string(in))))
		if err != nil && !errors.Is(err, errProxyHeader) {
			t.Fatalf("error %v is not errProxyHeader", err)
		}
		if ok && (err != nil || !src.Addr().IsValid()) {
			t.Fatalf("ok with %v, %v", src, err)
		}
	})
}
