package tunneltest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
)

// ServeRaw reads HTTP/1.1 requests on every connection accept gives, and
// after each writes what reply returns, as it is: the raw peer a test
// needs where net/http would correct what it sends (an agent that forges
// a second answer, an app with broken framing). A connection ends when
// reply says so, a read or a write fails; ServeRaw returns when accept
// fails.
func ServeRaw(accept func() (net.Conn, error), reply func(*http.Request) (answer string, end bool)) {
	for {
		c, err := accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				answer, end := reply(req)
				if _, err := io.WriteString(c, answer); err != nil || end {
					return
				}
			}
		}()
	}
}

// ForgedEcho is a hostile agent's reply: the request's body echoed, and
// a forged second answer queued behind it on the same stream.
func ForgedEcho(req *http.Request) (string, bool) {
	body, _ := io.ReadAll(req.Body)
	return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body) +
		"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged", false
}
