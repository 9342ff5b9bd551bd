package relay

import (
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Session is one connected agent serving one tunnel or several.
type Session struct {
	ID        string
	Agent     string // the grant's name
	TokenHash [32]byte
	Remote    string
	Since     time.Time
	// Tunnels are the names the session serves, the first one first.
	Tunnels []string
	// Targets are the local targets the agent described in its Hello, by
	// tunnel.
	Targets map[string][]tunnel.TargetInfo
	// Declared are the routes the agent declared, by tunnel, as it sent
	// them, where the edge uses them: the other edges of a cluster compile
	// them to check a webhook for the tunnel before relaying it here.
	Declared map[string][]byte

	conn *tunnel.Session
	// streams sends requests on the session's streams, keeping them open
	// between requests.
	streams *streamTransport
	// slots bounds concurrent requests on this session; released is
	// signalled each time one ends, for Retire.
	slots    chan struct{}
	released chan struct{}
}

// NewSession is an agent's session before it is attached and registered:
// at most maxStreams requests go to it at once.
func (r *Relay) NewSession(agent string, tokenHash [32]byte, remote string, maxStreams int) *Session {
	return &Session{
		ID:        newID(),
		Agent:     agent,
		TokenHash: tokenHash,
		Remote:    remote,
		Since:     r.clock.Now(),
		slots:     make(chan struct{}, maxStreams),
		released:  make(chan struct{}, 1),
	}
}

// Attach binds the tunnel session requests go out on.
func (s *Session) Attach(conn *tunnel.Session, clk clock.Clock) {
	s.conn = conn
	s.streams = newStreamTransport(conn.Open, cap(s.slots), clock.Or(clk))
}

// Conn is the tunnel session.
func (s *Session) Conn() *tunnel.Session { return s.conn }

// InFlight is the number of requests under way on the session.
func (s *Session) InFlight() int { return len(s.slots) }

// KeptStreams is the number of streams kept open for the next request.
func (s *Session) KeptStreams() int {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	return len(s.streams.idle)
}

// Close ends the kept streams and the session.
func (s *Session) Close() {
	if s.streams != nil {
		s.streams.close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
}

// Retire closes the session once its requests under way are done, or when
// timeout passes on clk, whichever is first; the caller has removed it
// from the relay so no new ones start.
func (s *Session) Retire(clk clock.Clock, timeout time.Duration, reason string) {
	s.drain(clock.Or(clk), timeout)
	_ = s.conn.GoAway(reason)
	s.Close()
}

// drain waits until no request is under way, the session ends, or timeout
// passes.
func (s *Session) drain(clk clock.Clock, timeout time.Duration) {
	expired, timer := clock.After(clk, timeout)
	defer timer.Stop()
	for s.InFlight() > 0 {
		select {
		case <-s.released:
		case <-s.conn.Done():
			return
		case <-expired:
			return
		}
	}
}

func (s *Session) acquire(done <-chan struct{}) bool {
	select {
	case <-done: // a caller that gave up takes no slot, even a free one
		return false
	default:
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func (s *Session) release() {
	<-s.slots
	select {
	case s.released <- struct{}{}:
	default:
	}
}
