package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// headerRequestID is set by the edge on every forwarded request.
const headerRequestID = tunnel.HeaderRequestID

// newProxy forwards the edge's requests to the local app at target over
// transport.
func newProxy(target *url.URL, hostHeader string, transport http.RoundTripper, errorLog func(msg string, args ...any)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			switch hostHeader {
			case "":
				pr.Out.Host = pr.In.Host // the app sees the public host, as a provider sent it
			case "rewrite":
				// SetURL already set the target's host.
			default:
				pr.Out.Host = hostHeader
			}
			// The edge set these from the sender's connection; keep them.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
			if pr.Out.Body != nil && pr.Out.Body != http.NoBody {
				pr.Out.Body = &edgeBody{ReadCloser: pr.Out.Body}
			}
		},
		Transport:  transport,
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			appFailed(w, r, target, err, errorLog)
		},
	}
}

// newTransport is the connection pool of the agent's proxies: one for all
// of its targets, which it tells apart by address (targets on one app
// share its connections).
func newTransport(tlsConfig *tls.Config) *http.Transport {
	dialer := &LoopbackDialer{Dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// appFailed answers for an app that did not: a JSON error that says so,
// never a hang or a bare Go error string. The answer goes back to the
// public sender, so it names no address of the private network: the
// target and the error are in the agent's log, under the request id.
//
// It always answers: a handler that returns without writing makes the
// server send an implicit 200, which the edge would journal as delivered.
// A request whose body the edge cut short (the sender aborted it) is told
// apart from an app that failed.
func appFailed(w http.ResponseWriter, r *http.Request, target *url.URL, err error, errorLog func(string, ...any)) {
	f := failureOf(err, bodyFailed(r), r.Context().Err() != nil)
	f.log(errorLog, r.Header.Get(headerRequestID), target, err)
	writeAgentError(w, r, f.status, f.code, f.msg)
}

// failure is the agent's answer for an app that did not answer.
type failure struct {
	status    int
	code, msg string
}

// failureOf says why the app did not answer: the edge cut the body short
// (bodyFailed), the edge went away (cancelled), nothing accepts
// connections at the target, or the app failed.
func failureOf(err error, bodyFailed, cancelled bool) failure {
	f := failure{http.StatusBadGateway, "app_unreachable", "the app did not answer"}
	var opErr *net.OpError
	switch {
	case bodyFailed:
		f = failure{http.StatusBadRequest, "body_aborted", "the request body ended before it was complete; the app's request was aborted"}
	case cancelled:
		f = failure{http.StatusBadGateway, "request_cancelled", "the edge cancelled the request"}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		// Nothing accepts connections there: app_unreachable.
	case errors.Is(err, context.DeadlineExceeded):
		f.status, f.code = http.StatusGatewayTimeout, "app_timeout"
		f.msg += " in time"
	default:
		f.code, f.msg = "app_error", "the app closed the connection without a complete answer"
	}
	return f
}

// log writes the failure to the agent's log: the target and the error
// stay there, under the request id.
func (f failure) log(errorLog func(string, ...any), requestID string, target *url.URL, err error) {
	if f.code == "body_aborted" || f.code == "request_cancelled" {
		errorLog("request ended by the edge", "request_id", requestID, "code", f.code, "err", err)
	} else {
		errorLog("app did not answer", "request_id", requestID, "target", target.String(), "code", f.code, "err", err)
	}
}

// writeAgentError is the agent's own answer in place of the app's: a
// short JSON body, and the code in Hooktunnel-Error for the edge's
// journal.
func writeAgentError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body, _ := json.Marshal(map[string]string{"error": code, "message": msg, "request_id": r.Header.Get(headerRequestID)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.Header().Set(tunnel.HeaderError, code)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// edgeBody is a request body as the edge sends it; it remembers whether
// reading it failed, which means the edge ended it early.
type edgeBody struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *edgeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

func bodyFailed(r *http.Request) bool {
	b, ok := r.Body.(*edgeBody)
	return ok && b.failed.Load()
}

type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
