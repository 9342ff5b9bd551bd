package test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// app is the private app behind the tunnel: a real HTTP server on
// loopback that reports what it received.
type app struct {
	addr string
	mu   sync.Mutex
	seen map[string]bool // X-Test-Id values received
	// release unblocks /stream and /slow requests.
	release chan struct{}
}

func startApp(t *testing.T) *app {
	t.Helper()
	a := &app{seen: map[string]bool{}, release: make(chan struct{})}
	a.addr = serveLoopback(t, a)
	return a
}

// serveLoopback serves h on a fresh loopback port until the test ends and
// returns its address.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// portOf is the port of a host:port address.
func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func (a *app) port() string { return portOf(a.addr) }

func (a *app) sawID(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[id]
}

// appEcho is the JSON the app answers with.
type appEcho struct {
	Method  string      `json:"method"`
	Host    string      `json:"host"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Header  http.Header `json:"header"`
	BodyLen int64       `json:"body_len"`
	BodySHA string      `json:"body_sha256"`
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get("X-Test-Id"); id != "" {
		a.mu.Lock()
		a.seen[id] = true
		a.mu.Unlock()
	}
	switch r.URL.Path {
	case "/stream":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-a.release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "rest\n")
		return
	case "/slow":
		select {
		case <-a.release:
		case <-r.Context().Done():
			return
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if size, err := strconv.Atoi(r.URL.Query().Get("respond")); err == nil {
		// A body of the requested size, with its hash in a header.
		data := randomBytes(size)
		sum := sha256.Sum256(data)
		w.Header().Set("X-Resp-Sha256", hex.EncodeToString(sum[:]))
		w.Header().Set("X-Body-Sha256", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("X-App-Multi", "one")
	w.Header().Add("X-App-Multi", "two")
	status := http.StatusOK
	if s, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
		status = s
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(appEcho{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header, BodyLen: n, BodySHA: hex.EncodeToString(h.Sum(nil)),
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(b)
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
