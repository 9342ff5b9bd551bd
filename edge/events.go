package edge

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// events fans journal changes out to the server-sent-event streams of the
// admin API and the inspectors. A subscriber that falls behind loses
// events rather than slowing the edge; its page reloads the list.
type events struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	ch      chan store.Message
	missed  atomic.Bool
	tunnels []string // nil: every tunnel
}

func newEvents() *events { return &events{subs: map[*subscriber]struct{}{}} }

func (ev *events) subscribe(tunnels []string) *subscriber {
	s := &subscriber{ch: make(chan store.Message, 256), tunnels: tunnels}
	ev.mu.Lock()
	ev.subs[s] = struct{}{}
	ev.mu.Unlock()
	return s
}

func (ev *events) unsubscribe(s *subscriber) {
	ev.mu.Lock()
	delete(ev.subs, s)
	ev.mu.Unlock()
}

// publish sends a summary of m (no bodies) to every subscriber that wants it.
func (ev *events) publish(m *store.Message) {
	summary := *m
	summary.Body, summary.ResponseBody, summary.ResponseHeader, summary.Attempts = nil, nil, nil, nil
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for s := range ev.subs {
		if s.tunnels != nil && !slices.Contains(s.tunnels, m.Tunnel) {
			continue
		}
		select {
		case s.ch <- summary:
		default: // a slow reader misses this one, and is told so
			s.missed.Store(true)
		}
	}
}
