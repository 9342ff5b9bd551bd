package policy

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateConfig limits how fast a route accepts requests: per source address
// and for the route as a whole. Rates read "10/s", "600/m", "5000/h".
type RateConfig struct {
	PerIP    string `yaml:"per_ip,omitempty" json:"per_ip,omitempty"`
	PerRoute string `yaml:"per_route,omitempty" json:"per_route,omitempty"`
	// Burst is how many requests may come at once; default: one second's
	// worth of the rate, at least 1.
	Burst int `yaml:"burst,omitempty" json:"burst,omitempty"`
}

// parseRate reads "N/s|m|h".
func parseRate(s string) (rate.Limit, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	count, err := strconv.ParseFloat(n, 64)
	if !ok || per == 0 || err != nil || !(count > 0) || math.IsInf(count, 0) {
		return 0, fmt.Errorf("%q is not a rate (like 10/s, 600/m or 5000/h)", s)
	}
	return rate.Limit(count / per.Seconds()), nil
}

// maxTrackedIPs bounds the per-address limiters kept in memory; past it,
// the least recently seen addresses are forgotten.
const maxTrackedIPs = 10000

// limiter enforces a RateConfig.
type limiter struct {
	route *rate.Limiter
	perIP rate.Limit
	burst int
	mu    sync.Mutex
	ips   map[netip.Addr]*ipLimiter
}

type ipLimiter struct {
	lim  *rate.Limiter
	seen time.Time
}

func compileRate(c *RateConfig) (*limiter, error) {
	l := &limiter{ips: map[netip.Addr]*ipLimiter{}}
	burstFor := func(r rate.Limit) int {
		if c.Burst > 0 {
			return c.Burst
		}
		return max(1, int(float64(r)+0.5))
	}
	if c.PerRoute != "" {
		r, err := parseRate(c.PerRoute)
		if err != nil {
			return nil, fieldf("per_route", "%v", err)
		}
		l.route = rate.NewLimiter(r, burstFor(r))
	}
	if c.PerIP != "" {
		r, err := parseRate(c.PerIP)
		if err != nil {
			return nil, fieldf("per_ip", "%v", err)
		}
		l.perIP, l.burst = r, burstFor(r)
	}
	if c.Burst < 0 {
		return nil, fieldf("burst", "must not be negative")
	}
	return l, nil
}

// allow takes one request's token from the address's and the route's
// buckets; when refused it says how long until one is free.
func (l *limiter) allow(ip netip.Addr, now time.Time) (bool, time.Duration) {
	if l.perIP > 0 {
		il := l.forIP(ip, now)
		if r := il.ReserveN(now, 1); !r.OK() || r.DelayFrom(now) > 0 {
			wait := r.DelayFrom(now)
			r.CancelAt(now)
			return false, wait
		}
	}
	if l.route != nil {
		if r := l.route.ReserveN(now, 1); !r.OK() || r.DelayFrom(now) > 0 {
			wait := r.DelayFrom(now)
			r.CancelAt(now)
			return false, wait
		}
	}
	return true, 0
}

func (l *limiter) forIP(ip netip.Addr, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	il := l.ips[ip]
	if il == nil {
		if len(l.ips) >= maxTrackedIPs {
			l.forget(now)
		}
		il = &ipLimiter{lim: rate.NewLimiter(l.perIP, l.burst)}
		l.ips[ip] = il
	}
	il.seen = now
	return il.lim
}

// forget drops addresses idle long enough for their bucket to be full
// again, and if that frees nothing, the oldest half.
func (l *limiter) forget(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.perIP) * float64(time.Second))
	for ip, il := range l.ips {
		if now.Sub(il.seen) > full {
			delete(l.ips, ip)
		}
	}
	if len(l.ips) < maxTrackedIPs {
		return
	}
	var cutoff time.Time
	for _, il := range l.ips {
		if cutoff.IsZero() || il.seen.Before(cutoff) {
			cutoff = il.seen
		}
	}
	mid := cutoff.Add(now.Sub(cutoff) / 2)
	for ip, il := range l.ips {
		if il.seen.Before(mid) || il.seen.Equal(cutoff) {
			delete(l.ips, ip)
		}
	}
}
