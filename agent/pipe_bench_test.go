package agent

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkPipe carries 1 KiB POSTs, one after another on one stream,
// through the pipe to an app that answers as the bench's app does. The
// edge and the app here parse only the framing, so what the benchmark
// counts beyond the loopback syscalls is mostly the pipe's.
func BenchmarkPipe(b *testing.B) {
	body := `{"sha256":"` + strings.Repeat("0", 64) + `"}`
	answer := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 07 Dec 2026 15:00:00 GMT\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	app := framingApp(b, answer)
	_, piped, _ := twoAgents(b, "http://"+app, nil, "")
	c, err := net.Dial("tcp", piped)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte(request("POST", "/hook", "Content-Type: application/json\r\nUser-Agent: bench\r\n", strings.Repeat("x", 1<<10)))
	br := bufio.NewReader(c)
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if buf, err = readMessage(br, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// framingApp answers every request with answer once it has read it
// (its head, and its body by Content-Length).
func framingApp(tb testing.TB, answer string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var buf []byte
				for {
					if buf, err = readMessage(br, buf[:0]); err != nil {
						return
					}
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readMessage reads a message framed by Content-Length (none: no body).
func readMessage(br *bufio.Reader, buf []byte) ([]byte, error) {
	raw, err := readHead(br, buf, 1<<16)
	if err != nil {
		return raw, err
	}
	var n int64
	if i := bytes.Index(raw, []byte("Content-Length: ")); i >= 0 {
		line, _, _ := bytes.Cut(raw[i+len("Content-Length: "):], []byte("\r\n"))
		n = parseLength(line)
	}
	_, err = br.Discard(int(n))
	return raw, err
}
