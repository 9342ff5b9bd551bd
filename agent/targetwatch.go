package agent

import (
	"context"
	"net"
	"net/url"
	"time"
)

// targetWatch tells the person running the agent when nothing accepts
// connections on the app's address, and again once something does: a
// tunnel that is online in front of an app that is not running answers
// every webhook 502.
type targetWatch struct {
	addr  string        // host:port of the app
	every time.Duration // between tries while the app is down
	// accepts reports whether something accepts a TCP connection on addr.
	accepts func(ctx context.Context, addr string) bool
	say     func(line string)
}

// run tries once at once; if nothing accepts, it says so and tries every
// w.every until something does (and says that) or ctx ends.
func (w targetWatch) run(ctx context.Context) {
	if w.accepts(ctx, w.addr) || ctx.Err() != nil {
		return
	}
	w.say("nothing accepts connections on " + w.addr + " yet: is the app running?")
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if w.accepts(ctx, w.addr) {
				w.say("the app on " + w.addr + " is up")
				return
			}
		}
	}
}

// targetAddr is the host:port the agent connects to for target.
func targetAddr(target *url.URL) string {
	if target.Port() != "" {
		return target.Host
	}
	port := "80"
	if target.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(target.Hostname(), port)
}

// tcpAccepts dials addr as the proxy does (.localhost names included)
// and hangs up at once.
func tcpAccepts(ctx context.Context, addr string) bool {
	d := &LoopbackDialer{Dialer: net.Dialer{Timeout: 2 * time.Second}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
