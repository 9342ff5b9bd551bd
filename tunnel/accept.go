package tunnel

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
)

// Pending is an agent that has said Hello and waits for the edge's answer.
type Pending struct {
	Hello   Hello
	session *Session
	cfg     Config
}

// Accept authenticates an agent's upgrade request with authorize, and
// only then upgrades it, starts the yamux session and reads its Hello. A
// request authorize refuses is answered 401 and the error is
// ErrUnauthorized; no websocket exists then. The caller decides on the
// Hello and then calls Admit or Refuse. The session lives on after the
// handler returns only if the handler keeps running: wait on Session.Done
// before returning from ServeHTTP.
func Accept(w http.ResponseWriter, r *http.Request, cfg Config, authorize Authorize) (*Pending, error) {
	if err := VerifyConfig(cfg); err != nil {
		return nil, err
	}
	token, err := authorizeUpgrade(w, r, authorize)
	if err != nil {
		return nil, err
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("tunnel: websocket upgrade: %w", err)
	}
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	mux, err := yamux.Server(newBatchingConn(conn), cfg.yamux())
	if err != nil {
		conn.Close()
		return nil, err
	}
	ctl, err := acceptWithin(mux, cfg.HandshakeTimeout)
	if err != nil {
		mux.Close()
		return nil, fmt.Errorf("tunnel: no control stream: %w", err)
	}
	s := newSession(mux, ctl)
	_ = ctl.SetReadDeadline(time.Now().Add(cfg.HandshakeTimeout))
	line, err := readLine(s.reader)
	if err != nil {
		mux.Close()
		return nil, fmt.Errorf("tunnel: read hello: %w", err)
	}
	_ = ctl.SetReadDeadline(time.Time{})
	hello, err := DecodeHello(line)
	p := &Pending{Hello: hello, session: s, cfg: cfg}
	if err != nil {
		code := RefusedBadRequest
		if hello.Protocol != ProtocolVersion {
			code = RefusedProtocol
		}
		p.Refuse(Refusal{Code: code, Message: err.Error(), Permanent: true})
		return nil, err
	}
	// The Hello may repeat the token (agents send it for edges older than
	// the upgrade's authentication); it must then be the same one.
	if hello.Token != "" && subtle.ConstantTimeCompare([]byte(hello.Token), []byte(token)) != 1 {
		p.Refuse(Refusal{Code: RefusedBadToken, Message: "the hello's token is not the one the upgrade request carried", Permanent: true})
		return nil, ErrTokenMismatch
	}
	return p, nil
}

func acceptWithin(mux *yamux.Session, d time.Duration) (*yamux.Stream, error) {
	type result struct {
		s   *yamux.Stream
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := mux.AcceptStream()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(d):
		mux.Close() // ends the AcceptStream above
		return nil, fmt.Errorf("timed out after %s", d)
	}
}

// Admit answers the agent with w and hands over the live session; the
// caller must run its ServeControl.
func (p *Pending) Admit(w Welcome) (*Session, error) {
	w.Protocol = ProtocolVersion
	if err := writeJSON(p.session.control, w, time.Now().Add(p.cfg.HandshakeTimeout)); err != nil {
		p.session.Close()
		return nil, fmt.Errorf("tunnel: send welcome: %w", err)
	}
	return p.session, nil
}

// Refuse answers the agent with the refusal and closes the session once the
// agent has read it (or after a short grace period).
func (p *Pending) Refuse(r Refusal) {
	w := Welcome{Protocol: ProtocolVersion, Refusal: &r}
	_ = writeJSON(p.session.control, w, time.Now().Add(p.cfg.HandshakeTimeout))
	// The agent closes on reading the refusal; don't cut it off first.
	select {
	case <-p.session.Done():
	case <-time.After(2 * time.Second):
	}
	p.session.Close()
}
