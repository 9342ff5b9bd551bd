package agent

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// appPool keeps the pipe's connections to the apps (http targets), as
// the proxy's transport does for its own: at most appIdleMax idle ones,
// each closed after appIdleTimeout unused. One pool serves every target
// and session of the agent, keyed by the address dialed.
type appPool struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	idle  map[string][]*appConn // most recently used last
	count int
	sweep *time.Timer
}

// appConn is a connection to an app and the reader of its answers.
type appConn struct {
	net.Conn
	addr      string
	br        *bufio.Reader
	idleSince time.Time
	reused    bool
	peek      peeker // open's look at the socket
}

const (
	appIdleMax     = 256
	appIdleTimeout = 90 * time.Second
	appReadBuffer  = 32 << 10
)

func newAppPool() *appPool {
	d := &LoopbackDialer{Dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
	return &appPool{dial: d.DialContext, idle: map[string][]*appConn{}}
}

// get is an idle connection to addr that the app has not closed, else
// (or when fresh) a new one.
func (p *appPool) get(ctx context.Context, addr string, fresh bool) (*appConn, error) {
	for !fresh {
		c := p.take(addr)
		if c == nil {
			break
		}
		if c.open() {
			c.reused = true
			return c, nil
		}
		c.Close()
	}
	nc, err := p.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &appConn{Conn: nc, addr: addr, br: bufio.NewReaderSize(nc, appReadBuffer)}, nil
}

func (p *appPool) take(addr string) *appConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[addr]
	for len(list) > 0 {
		c := list[len(list)-1]
		list = list[:len(list)-1]
		p.idle[addr] = list
		p.count--
		if time.Since(c.idleSince) < appIdleTimeout {
			return c
		}
		c.Close()
	}
	return nil
}

// put keeps c for the next request to its address.
func (p *appPool) put(c *appConn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count >= appIdleMax {
		c.Close()
		return
	}
	p.idle[c.addr] = append(p.idle[c.addr], c)
	p.count++
	if p.sweep == nil {
		p.sweep = time.AfterFunc(appIdleTimeout, p.closeExpired)
	}
}

// closeIdle closes every idle connection.
func (p *appPool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, list := range p.idle {
		for _, c := range list {
			c.Close()
		}
		delete(p.idle, addr)
	}
	p.count = 0
}

// closeExpired closes the connections idle for appIdleTimeout, and looks
// again while any is kept.
func (p *appPool) closeExpired() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, list := range p.idle {
		kept := list[:0]
		for _, c := range list {
			if time.Since(c.idleSince) >= appIdleTimeout {
				c.Close()
				p.count--
			} else {
				kept = append(kept, c)
			}
		}
		clear(list[len(kept):])
		p.idle[addr] = kept
	}
	p.sweep = nil
	if p.count > 0 {
		p.sweep = time.AfterFunc(appIdleTimeout/2, p.closeExpired)
	}
}
