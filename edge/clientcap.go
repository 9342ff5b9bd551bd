package edge

import (
	"net/netip"
	"sync"
)

// clientCap counts the requests each client address has in flight, so one
// source (a flood of slow senders, a misbehaving retry loop) cannot hold
// every stream of a tunnel while other senders wait. A webhook provider
// sends from many addresses and rarely has more than a few requests open
// to one endpoint at a time.
type clientCap struct {
	mu       sync.Mutex
	inFlight map[netip.Addr]int
}

func newClientCap() *clientCap { return &clientCap{inFlight: map[netip.Addr]int{}} }

// acquire takes a place for addr if it has fewer than limit requests in
// flight; the caller calls release when the request ends.
func (c *clientCap) acquire(addr netip.Addr, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight[addr] >= limit {
		return false
	}
	c.inFlight[addr]++
	return true
}

func (c *clientCap) release(addr netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.inFlight[addr] - 1; n > 0 {
		c.inFlight[addr] = n
	} else {
		delete(c.inFlight, addr)
	}
}
