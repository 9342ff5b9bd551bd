package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// answering listens on loopback and answers every connection's first
// bytes with answer, then closes it.
func answering(t *testing.T, answer []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.Read(make([]byte, 1024))
			_, _ = c.Write(answer)
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestDoctorTargetSpeaksTLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		answer   []byte
		speaks   bool
		saysText string
	}{
		{"TLS alert", []byte{21, 3, 1, 0, 2, 2, 40}, true, "speaks TLS, not plain HTTP"},
		{"TLS handshake", []byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, true, "speaks TLS, not plain HTTP"},
		// net/http calls this a malformed HTTP response too; it is not TLS.
		{"SSH banner", []byte("SSH-2.0-OpenSSH_9.6\r\n"), false, "malformed HTTP response"},
		{"HTTP", []byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "answered 204 No Content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			d := &doctor{target: &url.URL{Scheme: "http", Host: answering(t, tc.answer), Path: "/"}, timeout: 10 * time.Second, out: &out}
			d.checkTarget(context.Background())
			got := out.String()
			if strings.Contains(got, "speaks TLS") != tc.speaks || !strings.Contains(got, tc.saysText) {
				t.Errorf("doctor said %q; want speaks TLS %v, saying %q", got, tc.speaks, tc.saysText)
			}
		})
	}
}

func FuzzIsTLSRecord(f *testing.F) {
	f.Add([]byte{21, 3, 1, 0, 2, 2, 40})
	f.Add([]byte("HTTP/1.1 200 OK\r\n"))
	f.Add([]byte{22})
	f.Fuzz(func(t *testing.T, b []byte) {
		if isTLSRecord(b) && bytes.HasPrefix(b, []byte("HTTP/")) {
			t.Errorf("an HTTP answer %q taken for TLS", b)
		}
	})
}
