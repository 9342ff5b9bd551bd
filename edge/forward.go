package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"sync"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// errNoAgent means no agent session is connected for the tunnel.
var errNoAgent = errors.New("edge: no agent connected")

type forwardKey struct{}

// forwardInfo travels in the request context from the handler to the
// transport.
type forwardInfo struct {
	tunnel    *tunnelState
	requestID string
	target    string // the route's agent target; "" for none
}

// tunnelTransport sends a request to one of the tunnel's agents. When the
// agent it picked goes away before answering, the request goes to the next
// agent: at once if the stream could not even be opened (the request never
// left the edge), and also when the body was small enough to keep
// (maxRetryBody), since the app cannot have answered. A small request whose
// kept stream the agent had closed goes again once, on a fresh stream. The
// retry carries the same Hooktunnel-Request-Id, so an app that saw the
// first attempt can tell: delivery is at least once, as a provider's own
// retry would be.
type tunnelTransport struct{}

// maxRetryBody bounds the request bodies kept in memory for a retry:
// webhooks are small; a large body streams, so it is not copied.
const maxRetryBody = 64 << 10

func (tunnelTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	info := req.Context().Value(forwardKey{}).(*forwardInfo)
	body, replayable, err := retryableBody(req)
	if err != nil {
		return nil, err
	}
	var tried map[*agentSession]bool
	var lastErr error
	staleRetried := false
	for {
		as := info.tunnel.pick(tried)
		if as == nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, errNoAgent
		}
		select {
		case as.slots <- struct{}{}:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		attempt := req
		if body != nil {
			attempt = new(http.Request)
			*attempt = *req
			attempt.Body = body()
		}
		resp, err := as.streams.RoundTrip(attempt)
		if err == nil {
			resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { <-as.slots }}
			return resp, nil
		}
		<-as.slots
		if errors.Is(err, errStaleStream) && replayable && !staleRetried {
			staleRetried = true // once, on a fresh stream of any agent
			lastErr = err
			continue
		}
		var de *dialError
		if !errors.As(err, &de) && !(replayable && as.session.IsClosed()) {
			return nil, err
		}
		if tried == nil {
			tried = map[*agentSession]bool{}
		}
		tried[as] = true
		lastErr = err
	}
}

// retryableBody returns how to get the request body for each attempt.
// Small bodies of known length are read once and replayed; larger ones
// stream, and only a failed dial may retry them (nothing was read yet: the
// inner transport only closes the body, which the NopCloser absorbs).
func retryableBody(req *http.Request) (body func() io.ReadCloser, replayable bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true, nil
	}
	if req.ContentLength < 0 || req.ContentLength > maxRetryBody {
		return func() io.ReadCloser { return io.NopCloser(req.Body) }, false, nil
	}
	// Read as the bytes arrive, not into a buffer the size the sender
	// declared: a declaration costs nothing to make.
	data, err := io.ReadAll(io.LimitReader(req.Body, req.ContentLength))
	if err != nil {
		return nil, false, &senderBodyError{err}
	}
	return func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, true, nil
}

// releasingBody frees the session's slot when the response is done.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// newProxy is the reverse proxy every tunnel shares.
func newProxy(e *Edge) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			info := pr.In.Context().Value(forwardKey{}).(*forwardInfo)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = info.tunnel.name
			pr.Out.Host = pr.In.Host // the agent decides what the app sees
			pr.SetXForwarded()
			pr.Out.Header.Set(headerRequestID, info.requestID)
			setTarget(pr.Out.Header, info.target)
			setTunnel(pr.Out.Header, info.tunnel.name)
		},
		Transport:  tunnelTransport{},
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			info := r.Context().Value(forwardKey{}).(*forwardInfo)
			e.forwardFailed(w, r, info, err)
		},
		ErrorLog: e.errorLog,
	}
}

// headerRequestID carries the edge's request id to the agent and the app.
const headerRequestID = tunnel.HeaderRequestID

// headerTarget names the agent's local target of the route (`target:` in
// the edge config): the edge sets it from its config alone, never from
// the sender.
const headerTarget = tunnel.HeaderTarget

// setTarget puts the route's target in h, removing any the sender sent:
// a sender must not pick which local app its request reaches.
func setTarget(h http.Header, target string) {
	h.Del(headerTarget)
	if target != "" {
		h.Set(headerTarget, target)
	}
}

// setTunnel names the request's tunnel in h, replacing any the sender
// sent: an agent serving several tunnels over one session picks the
// tunnel's targets by it.
func setTunnel(h http.Header, name string) {
	h.Set(tunnel.HeaderTunnel, name)
}

// headerError names why the tunnel, not the app, answered: the agent sets
// it when the app did not answer, the edge when the agent did not. The
// journal records it as the forwarded message's reason.
const headerError = tunnel.HeaderError

// senderBodyError is a request that could not go on because the sender's
// body failed (too large, too slow, cut off, malformed), not the agent.
type senderBodyError struct{ err error }

func (e *senderBodyError) Error() string { return "edge: reading the request body: " + e.err.Error() }
func (e *senderBodyError) Unwrap() error { return e.err }

func (e *Edge) forwardFailed(w http.ResponseWriter, r *http.Request, info *forwardInfo, err error) {
	var de *dialError
	var sbe *senderBodyError
	switch {
	case errors.As(err, &sbe):
		refusal := readFailed(sbe.err)
		status, code := policyStatus(refusal)
		w.Header().Set(headerError, code)
		writeRefusal(w, status, code, refusal.Error(), info.requestID)
	case errors.Is(err, errNoAgent), errors.As(err, &de):
		w.Header().Set("Retry-After", retryAfterOffline)
		w.Header().Set(headerError, codeTunnelOffline)
		writeRefusal(w, http.StatusServiceUnavailable, codeTunnelOffline, "no agent is connected for tunnel "+info.tunnel.name+"; retry later", info.requestID)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The sender went away; nobody reads an answer.
		w.WriteHeader(499)
	default:
		e.log.Warn("forward failed", "request_id", info.requestID, "tunnel", info.tunnel.name, "err", err)
		w.Header().Set(headerError, codeAgentLost)
		writeRefusal(w, http.StatusBadGateway, codeAgentLost, "the agent's connection ended before the app answered", info.requestID)
	}
}

// retryAfterOffline is the Retry-After, in seconds, of an offline tunnel.
const retryAfterOffline = "5"

// bufferPool reuses copy buffers across requests.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
