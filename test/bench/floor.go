package main

// The floor: the bench's load carried over the same transport as
// hooktunnel — a websocket carrying a yamux session, made by the tunnel
// package — with raw byte piping and no HTTP handling, as a raw TCP tunnel
// (chisel) does. Its "edge" accepts TCP connections on loopback and opens a
// stream to its "agent" for each; the agent dials the app for each stream;
// both copy bytes both ways and parse nothing. The gap between the floor
// and the tunnel row is the price of HTTP, policy and the journal.
//
// Each half is the bench binary run again with a hidden flag, so its CPU
// per request is read per process as the edge's and the agent's are, and
// -tunnel-cpus pins it the same way.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// floorToken is the only token the floor edge accepts.
const floorToken = "ht_bench_floor"

var errFloorToken = errors.New("bench: not the floor's token")

// floorFlags are the hidden flags that run a half of the floor.
type floorFlags struct {
	edge    string // -floor-edge: the floor edge's public address
	agent   string // -floor-agent: the app's address
	connect string // -floor-connect: where the floor edge takes the websocket
}

func (f *floorFlags) register() {
	flag.StringVar(&f.edge, "floor-edge", "", "internal: run the floor's edge, taking connections on this address")
	flag.StringVar(&f.agent, "floor-agent", "", "internal: run the floor's agent, piping streams to the app at this address")
	flag.StringVar(&f.connect, "floor-connect", "", "internal: the floor edge's websocket address")
}

// run runs the half the flags ask for until it fails (each serves until
// the bench stops its process); ok is false when they ask for none.
func (f *floorFlags) run() (ok bool, err error) {
	switch {
	case f.edge != "":
		return true, floorEdge(f.connect, f.edge)
	case f.agent != "":
		return true, floorAgent(f.connect, f.agent)
	}
	return false, nil
}

func floorConfig() tunnel.Config {
	cfg := tunnel.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// floorEdge admits one agent on connect, then pipes every connection to
// public through a stream of its session. It prints "listening" once the
// agent may dial and "ready" once public takes connections.
func floorEdge(connect, public string) error {
	ln, err := net.Listen("tcp", connect)
	if err != nil {
		return err
	}
	sessions := make(chan *tunnel.Session, 1)
	authorize := func(_ *http.Request, token string) error {
		if token != floorToken {
			return errFloorToken
		}
		return nil
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := tunnel.Accept(w, r, floorConfig(), authorize)
		if err != nil {
			return
		}
		s, err := p.Admit(tunnel.Welcome{Tunnel: "floor"})
		if err != nil {
			return
		}
		select {
		case sessions <- s:
		default: // one agent only
			s.Close()
			return
		}
		s.ServeControl(tunnel.Control{})
		<-s.Done()
	}))
	fmt.Println("listening")
	s := <-sessions
	pub, err := net.Listen("tcp", public)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		c, err := pub.Accept()
		if err != nil {
			return err
		}
		go func() {
			st, err := s.Open(context.Background())
			if err != nil {
				c.Close()
				return
			}
			pipe(c, st)
		}()
	}
}

// floorAgent connects to the floor edge and pipes every stream it opens to
// a new connection to the app. It prints "ready" once connected.
func floorAgent(connect, app string) error {
	hello := tunnel.Hello{Token: floorToken, Name: "floor", Target: "tcp://" + app}
	s, _, err := tunnel.Dial(context.Background(), "http://"+connect, hello, floorConfig(), nil)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		st, err := s.Accept()
		if err != nil {
			return err
		}
		go func() {
			c, err := net.Dial("tcp", app)
			if err != nil {
				st.Close()
				return
			}
			pipe(st, c)
		}()
	}
}

// pipe copies bytes both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 1)
	go func() {
		_, _ = io.Copy(a, b)
		done <- struct{}{}
	}()
	_, _ = io.Copy(b, a)
	a.Close()
	b.Close()
	<-done
}

// measureFloor runs the floor's two halves as processes of their own,
// carries sc's load through them to the app and prints the floor's row
// beside the tunnel's, against the same direct figures.
func measureFloor(app string, sc scenario, duration time.Duration, direct result) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	connect, public := "127.0.0.1:"+freePort(), "127.0.0.1:"+freePort()
	edge, err := startProcess(self, "-floor-edge", public, "-floor-connect", connect)
	if err != nil {
		return err
	}
	defer edge.stop()
	if err := waitFor(func() bool { return strings.Contains(edge.out.String(), "listening") }, 30*time.Second); err != nil {
		return fmt.Errorf("floor edge did not start: %s", edge.out.String())
	}
	agent, err := startProcess(self, "-floor-agent", app, "-floor-connect", connect)
	if err != nil {
		return err
	}
	defer agent.stop()
	if err := waitFor(func() bool { return strings.Contains(edge.out.String(), "ready") }, 30*time.Second); err != nil {
		return fmt.Errorf("floor agent did not connect: %s %s", edge.out.String(), agent.out.String())
	}
	client := directClient()
	defer client.CloseIdleConnections()
	cpu0 := cpuTimes(os.Getpid(), edge.cmd.Process.Pid, agent.cmd.Process.Pid)
	res := load(client, "http://"+public+"/", "", sc, duration)
	cpu1 := cpuTimes(os.Getpid(), edge.cmd.Process.Pid, agent.cmd.Process.Pid)
	ratio := fmt.Sprintf("%.2f req/s, %.2f MB/s", res.rps()/direct.rps(), res.mbps()/direct.mbps())
	fmt.Printf("%-22s %-8s %10.0f %9s %9s %10.1f   %s\n", sc.name, "floor", res.rps(), res.pct(50), res.pct(99), res.mbps(), ratio)
	if n := time.Duration(len(res.latencies)); n > 0 {
		perRequest := func(i int) time.Duration { return ((cpu1[i] - cpu0[i]) / n).Round(100 * time.Nanosecond) }
		fmt.Printf("%-22s %-8s CPU per request: load generator + app %s, floor edge %s, floor agent %s\n", "", "", perRequest(0), perRequest(1), perRequest(2))
		edgePeak, _ := procStatus(edge.cmd.Process.Pid, "VmHWM:")
		agentPeak, _ := procStatus(agent.cmd.Process.Pid, "VmHWM:")
		fmt.Printf("%-22s %-8s peak RSS: floor edge %.0f MiB, floor agent %.0f MiB\n", "", "", float64(edgePeak)/(1<<20), float64(agentPeak)/(1<<20))
	}
	if res.errors > 0 {
		fmt.Printf("%-22s %-8s %d errors\n", "", "", res.errors)
	}
	return nil
}
