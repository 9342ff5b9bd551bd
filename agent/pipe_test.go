package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

// appSaw is what the app got of a request.
type appSaw struct {
	Method, URI, Host, Proto string
	Header                   http.Header
	Length                   int64
	Chunked                  bool
	Body                     string
}

// testApp is an app behind the agent: a handler, or a raw answer written
// to every request (then the connection is closed when closeAfter).
type testApp struct {
	addr string
	mu   sync.Mutex
	saw  []appSaw
}

func (a *testApp) record(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := appSaw{Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto, Header: r.Header.Clone(),
		Length: r.ContentLength, Chunked: slices.Contains(r.TransferEncoding, "chunked"), Body: string(body)}
	a.mu.Lock()
	a.saw = append(a.saw, s)
	a.mu.Unlock()
}

func (a *testApp) last(t *testing.T) appSaw {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.saw) == 0 {
		return appSaw{}
	}
	return a.saw[len(a.saw)-1]
}

func handlerApp(t *testing.T, h http.HandlerFunc) *testApp {
	a := &testApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	a.addr = strings.TrimPrefix(srv.URL, "http://")
	return a
}

// rawApp answers every request with answer, as it is, and closes the
// connection after it when closeAfter.
func rawApp(t *testing.T, answer string, closeAfter bool) *testApp {
	a := &testApp{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go tunneltest.ServeRaw(ln.Accept, func(r *http.Request) (string, bool) {
		a.record(r)
		return answer, closeAfter
	})
	a.addr = ln.Addr().String()
	return a
}

// twoAgents serves the same targets with the full server and proxy (as
// before the pipe) and with the pipe; each returns the address to send
// raw requests to.
func twoAgents(t testing.TB, def string, targets []TargetConfig, hostHeader string) (full, piped string, p *pipe) {
	t.Helper()
	quiet := func(string, ...any) {}
	transport := newTransport(nil)
	t.Cleanup(transport.CloseIdleConnections)
	set, err := compileTargets(def, targets, func(u *url.URL) *httputil.ReverseProxy { return newProxy(u, hostHeader, transport, quiet) })
	if err != nil {
		t.Fatal(err)
	}
	h := &tunnelRouter{first: &router{targets: set, errorLog: quiet, edgeNames: true}, errorLog: quiet}

	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln1)
	t.Cleanup(func() { srv.Close() })

	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pool := newAppPool()
	p = newPipe(h, pool, hostHeader, quiet, nil)
	go p.serve(func(context.Context) (net.Conn, error) { return ln2.Accept() })
	t.Cleanup(func() { ln2.Close(); p.close(); pool.closeIdle() })
	return ln1.Addr().String(), ln2.Addr().String(), p
}

// answer is what the edge reads of an answer.
type edgeSaw struct {
	Status   int
	Header   http.Header
	Length   int64
	Body     string
	Trailer  http.Header
	Close    bool
	HasDate  bool
	ReadErr  string
	Interims int
}

// roundTrip writes raw requests on one connection to addr and reads each
// answer as the edge does.
func roundTrip(t *testing.T, addr string, method string, raws ...string) []edgeSaw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var out []edgeSaw
	for _, raw := range raws {
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		req := &http.Request{Method: method}
		var resp *http.Response
		interims := 0
		for {
			resp, err = http.ReadResponse(br, req)
			if err != nil {
				out = append(out, edgeSaw{ReadErr: err.Error()})
				return out
			}
			if resp.StatusCode >= 200 {
				break
			}
			interims++
		}
		body, err := io.ReadAll(resp.Body)
		s := edgeSaw{Status: resp.StatusCode, Header: resp.Header, Length: resp.ContentLength, Body: string(body),
			Trailer: resp.Trailer, Close: resp.Close, Interims: interims}
		if err != nil {
			s.ReadErr = err.Error()
		}
		_, s.HasDate = s.Header["Date"]
		delete(s.Header, "Date")
		out = append(out, s)
		if s.ReadErr != "" || s.Close {
			return out
		}
	}
	return out
}

func request(method, target string, header string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: demo.hooks.example\r\n", method, target)
	b.WriteString(header)
	if body != "" || method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Hooktunnel-Request-Id: msg_1\r\nHooktunnel-Tunnel: demo\r\nX-Forwarded-For: 203.0.113.9\r\n")
	b.WriteString("X-Forwarded-Host: demo.hooks.example\r\nX-Forwarded-Proto: https\r\n\r\n")
	return b.String() + body
}

// The pipe gives the app and the edge what the full server and proxy
// gave them: the same request, the same answer (Date aside, which both
// set).
func TestPipeAsTheProxy(t *testing.T) {
	t.Parallel()
	kib := strings.Repeat("x", 1024)
	big := strings.Repeat("0123456789abcdef", 20<<10/16*10) // 200 KiB
	jsonApp := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}
	for _, tc := range []struct {
		name       string
		app        func(t *testing.T) *testApp // nil: nothing listens
		targets    []TargetConfig
		hostHeader string
		method     string
		requests   []string
		fullServer bool // the pipe hands the stream to the full server
	}{
		{name: "small post", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/hooks/github?x=1", "User-Agent: GitHub-Hookshot/1\r\nX-Github-Event: push\r\nForwarded: for=1.2.3.4\r\n", kib)}},
		{name: "keep-alive", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/a", "", kib), request("POST", "/b", "", "x"), request("POST", "/c", "", "")}},
		{name: "get, sniffed answer", app: func(t *testing.T) *testApp {
			return handlerApp(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>hi</html>") })
		}, method: "GET", requests: []string{request("GET", "/", "", "")}},
		{name: "delete without body", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "DELETE", requests: []string{request("DELETE", "/x", "", "")}},
		{name: "chunked request", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{strings.Replace(request("PUT", "/c", "Transfer-Encoding: chunked\r\n", ""), "Content-Length: 0\r\n", "", 1) +
				"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"}},
		{name: "large body", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/big", "", big), request("POST", "/after", "", "y")}},
		{name: "app answers early and does not read", app: func(t *testing.T) *testApp {
			return handlerApp(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
			})
		}, method: "POST", requests: []string{request("POST", "/big", "", big)}},
		{name: "streamed answer", app: func(t *testing.T) *testApp {
			return handlerApp(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for i := range 3 {
					fmt.Fprintf(w, "data: %d\n\n", i)
					w.(http.Flusher).Flush()
				}
			})
		}, method: "POST", requests: []string{request("POST", "/s", "", "x"), request("POST", "/s", "", "y")}},
		{name: "trailers", app: func(t *testing.T) *testApp {
			return handlerApp(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum")
				_, _ = io.WriteString(w, "body")
				w.Header().Set("X-Sum", "42")
			})
		}, method: "POST", requests: []string{request("POST", "/t", "", "x")}},
		{name: "several trailers, kept alive", app: func(t *testing.T) *testApp {
			return handlerApp(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum, X-Count")
				w.Header().Add("Trailer", "X-Last")
				_, _ = io.WriteString(w, "body")
				w.Header().Set("X-Sum", "42")
				w.Header().Set("X-Count", "3")
				w.Header().Set("X-Last", "end")
			})
		}, method: "POST", requests: []string{request("POST", "/t", "", "x"), request("POST", "/u", "", "y")}},
		{name: "head", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n", false)
		}, method: "HEAD", requests: []string{request("HEAD", "/h", "", "")}},
		{name: "204 and 304", app: func(t *testing.T) *testApp {
			return handlerApp(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/304" {
					w.Header().Set("Content-Type", "text/plain")
					w.Header().Set("Etag", `"x"`)
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
		}, method: "GET", requests: []string{request("GET", "/204", "", ""), request("GET", "/304", "", "")}},
		{name: "answer until close, hop-by-hop headers", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.1 201 Created\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 2\r\n\r\nuntil the end", true)
		}, method: "POST", requests: []string{request("POST", "/c", "", "x"), request("POST", "/d", "", "y")}},
		{name: "connection names, kept alive", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Foo\r\nConnection: x-bar\r\nX-Foo: 1\r\nX-Bar: 2\r\n"+
				"Keep-Alive: timeout=5\r\nX-Kept: 3\r\nContent-Length: 2\r\n\r\nok", false)
		}, method: "POST", requests: []string{request("POST", "/c", "", "x"), request("POST", "/d", "", "y")}},
		{name: "HTTP/1.0 answer, connection names", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.0 200 OK\r\nConnection: close, X-Foo\r\nX-Foo: 1\r\nX-Kept: 3\r\nContent-Length: 2\r\n\r\nok", true)
		}, method: "POST", requests: []string{request("POST", "/c", "", "x"), request("POST", "/d", "", "y")}},
		{name: "empty chunked answer", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n0\r\n\r\n", false)
		}, method: "POST", requests: []string{request("POST", "/e", "", "x")}},
		{name: "interim answers", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
		}, method: "POST", requests: []string{request("POST", "/i", "", "x")}},
		{name: "bad length from the app", app: func(t *testing.T) *testApp {
			return rawApp(t, "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nok", true)
		}, method: "POST", requests: []string{request("POST", "/x", "", "x")}},
		{name: "app closes without answering", app: func(t *testing.T) *testApp { return rawApp(t, "", true) },
			method: "POST", requests: []string{request("POST", "/x", "", "x")}},
		{name: "app unreachable", method: "POST", requests: []string{request("POST", "/x", "", kib), request("POST", "/y", "", "")}},
		{name: "unknown target", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/x", "Hooktunnel-Target: nope\r\n", kib), request("POST", "/y", "", "")}},
		{name: "named target, prefixes, escapes", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			targets: []TargetConfig{{Name: "billing", Path: "/webhooks/stripe", StripPrefix: true, AddPrefix: "/in"}},
			method:  "POST", requests: []string{request("POST", "/webhooks/stripe/a%2Fb/c%20d?x=1&y=%41", "", "x"),
				request("POST", "/other", "Hooktunnel-Target: billing\r\n", "x")}},
		{name: "host rewritten", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) }, hostHeader: "rewrite",
			method: "POST", requests: []string{request("POST", "/x", "", "x")}},
		{name: "host set", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) }, hostHeader: "app.internal",
			method: "POST", requests: []string{request("POST", "/x", "", "x")}},
		// What the pipe hands to the full server.
		{name: "expect continue", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/x", "Expect: 100-continue\r\n", kib), request("POST", "/y", "", "z")}, fullServer: true},
		{name: "large head", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/x", "X-Big: "+strings.Repeat("b", 20<<10)+"\r\n", kib)}, fullServer: true},
		{name: "semicolon query", app: func(t *testing.T) *testApp { return handlerApp(t, jsonApp) },
			method: "POST", requests: []string{request("POST", "/x?a=1;b=2", "", "x")}, fullServer: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var apps [2]*testApp
			var answers [2][]edgeSaw
			var saw [2]appSaw
			for i := range 2 {
				addr := "127.0.0.1:1"
				if tc.app != nil {
					apps[i] = tc.app(t)
					addr = apps[i].addr
				}
				targets := slices.Clone(tc.targets)
				for j := range targets {
					targets[j].Target = addr
				}
				full, piped, p := twoAgents(t, addr, targets, tc.hostHeader)
				answers[i] = roundTrip(t, []string{full, piped}[i], tc.method, tc.requests...)
				if n := p.handOffs.Load(); i == 1 && (n > 0) != tc.fullServer {
					t.Errorf("the pipe handed %d streams to the full server", n)
				}
				if apps[i] != nil {
					saw[i] = apps[i].last(t)
				}
			}
			if len(answers[0]) == 0 || answers[0][0].ReadErr != "" && answers[0][0].Status == 0 {
				t.Fatalf("the full server's answer: %+v", answers[0])
			}
			// An empty answer of unknown length is the same answer as one of
			// length 0: the full server sends one or the other depending on
			// when the proxy's copy ends.
			for i := range answers {
				for j, a := range answers[i] {
					if a.Body == "" && a.Length <= 0 && a.ReadErr == "" {
						answers[i][j].Length = 0
						h := a.Header.Clone()
						delete(h, "Content-Length")
						answers[i][j].Header = h
					}
				}
			}
			// The full server sniffs a Content-Type for an answer that has
			// none only when the body's first bytes reach it before the
			// head is flushed, which for an answer of unknown length is a
			// matter of timing: a sniffed type on one side only is no
			// difference.
			for j := range min(len(answers[0]), len(answers[1])) {
				a, b := answers[0][j].Header, answers[1][j].Header
				if (a.Get("Content-Type") == "") != (b.Get("Content-Type") == "") && answers[0][j].Length < 0 {
					a, b = a.Clone(), b.Clone()
					a.Del("Content-Type")
					b.Del("Content-Type")
					answers[0][j].Header, answers[1][j].Header = a, b
				}
			}
			if !reflect.DeepEqual(answers[0], answers[1]) {
				t.Errorf("the edge reads\n%+v\nfrom the pipe, and\n%+v\nfrom the full server", answers[1], answers[0])
			}
			saw[0].Host = strings.Replace(saw[0].Host, apps0(apps), "APP", 1)
			saw[1].Host = strings.Replace(saw[1].Host, apps1(apps), "APP", 1)
			if !reflect.DeepEqual(saw[0], saw[1]) {
				t.Errorf("the app sees\n%+v\nfrom the pipe, and\n%+v\nfrom the full server", saw[1], saw[0])
			}
		})
	}
}

func apps0(a [2]*testApp) string {
	if a[0] == nil {
		return "-"
	}
	return a[0].addr
}

func apps1(a [2]*testApp) string {
	if a[1] == nil {
		return "-"
	}
	return a[1].addr
}
