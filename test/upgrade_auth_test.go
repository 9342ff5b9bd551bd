package test

import (
	"bufio"
	endian "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// upgradeRequest is an agent's websocket upgrade as it goes on the wire,
// with auth as its Authorization header ("" for none).
func upgradeRequest(e *edgeProc, auth string) string {
	var b strings.Builder
	b.WriteString("GET /_hooktunnel/v1/connect HTTP/1.1\r\n")
	fmt.Fprintf(&b, "Host: localhost:%s\r\n", e.port)
	b.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestUpgradeWithoutTokenIsRefused: the edge checks the agent's token on
// the upgrade request itself and answers 401, with no websocket and no
// session, when it is missing or unknown.
func TestUpgradeWithoutTokenIsRefused(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	tests := []struct{ name, auth string }{
		{name: "no Authorization", auth: ""},
		{name: "unknown token", auth: "Bearer " + newToken("stranger", true, "demo").token},
		{name: "empty bearer", auth: "Bearer "},
		{name: "the edge's token in another scheme", auth: "Basic " + tok.token},
		{name: "the edge's token without a scheme", auth: tok.token},
		{name: "the edge's token with a tab", auth: "Bearer\t" + tok.token},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+e.port, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(c, upgradeRequest(e, tc.auth)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("upgrade with %q answered %s, want 401 and no websocket", tc.auth, resp.Status)
			}
			var body refusalBody
			if err := json.Unmarshal(raw, &body); err != nil || body.Error != "bad_token" || body.Message == "" {
				t.Errorf("401 body = %q, want a JSON bad_token refusal", raw)
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// Unauthenticated upgrades and the memory they may cost the edge.
const (
	floodConns         = 100
	floodStreams       = 4         // yamux streams each connection opens, besides the control stream
	floodStreamBytes   = 128 << 10 // pushed on each, within yamux's initial 256 KiB window
	floodMaxHeapGrowth = 32 << 20
	floodPingID        = 0x6f6b // yamux ping the flooder sends last; its answer means the edge read all before it
)

// TestUnauthenticatedUpgradesCostLittle: connections that send an agent
// upgrade with a bad token and then push multiplexed data at once, without
// waiting for the answer, must not make the edge hold that data. Before
// the edge authenticated the upgrade, each such connection got a yamux
// session whose streams buffered up to their full windows until the
// handshake timed out.
func TestUnauthenticatedUpgradesCostLittle(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	heap := func() float64 { return e.scrape(t)["go_memstats_heap_inuse_bytes"] }
	before, rssBefore := heap(), e.memory("VmRSS:")
	if before == 0 {
		t.Fatal("the edge's /metrics has no go_memstats_heap_inuse_bytes")
	}
	payload := floodPayload()
	bad := "Bearer " + newToken("stranger", true, "demo").token
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		conns    []net.Conn
	)
	for range floodConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, status, err := flood(e, bad, payload)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				conns = append(conns, c) // held open until the figures are read
			}
			if err != nil {
				t.Error(err)
				return
			}
			statuses[status]++
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	after, rssAfter := heap(), e.memory("VmRSS:")
	growth := after - before
	t.Logf("%d connections × %d KiB pushed with a bad token; answers %v", floodConns, len(payload)>>10, statuses)
	t.Logf("edge heap in use %.1f MiB → %.1f MiB (growth %.1f MiB); VmRSS %.1f MiB → %.1f MiB (race-instrumented binary)",
		before/(1<<20), after/(1<<20), growth/(1<<20), float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20))
	if statuses[http.StatusUnauthorized] != floodConns {
		t.Errorf("answers %v, want 401 for all %d connections", statuses, floodConns)
	}
	if growth >= floodMaxHeapGrowth {
		t.Errorf("the edge's heap grew by %.1f MiB for %d unauthenticated connections, want < %d MiB",
			growth/(1<<20), floodConns, floodMaxHeapGrowth>>20)
	}
}

// flood sends an upgrade with auth and, without waiting for the answer,
// websocket frames carrying a yamux client's opening: the control stream,
// floodStreams data streams filled with floodStreamBytes each, then a
// ping. It returns the open connection and the answer's status; on a 101
// it also waits for the ping's answer, so everything pushed has been read
// by the edge.
func flood(e *edgeProc, auth string, payload []byte) (net.Conn, int, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+e.port, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	written := make(chan struct{})
	go func() {
		defer close(written)
		// Errors are expected when the edge closes the connection early.
		_, _ = io.WriteString(c, upgradeRequest(e, auth))
		_, _ = c.Write(payload)
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		<-written
		return c, 0, fmt.Errorf("reading the upgrade's answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		<-written
		return c, resp.StatusCode, nil
	}
	<-written
	if err := awaitPingAck(&wsReader{r: br}, floodPingID); err != nil {
		return c, resp.StatusCode, fmt.Errorf("after the upgrade: %w", err)
	}
	return c, resp.StatusCode, nil
}

// floodPayload is the client side of a yamux session in masked websocket
// binary frames (mask key zero, so the payload goes as is).
func floodPayload() []byte {
	const (
		typeData, typeWindowUpdate, typePing = 0, 1, 2
		flagSYN                              = 1
	)
	var mux []byte
	frame := func(typ uint8, flags uint16, stream, length uint32, data []byte) {
		var h [12]byte
		h[1] = typ
		endian.BigEndian.PutUint16(h[2:], flags)
		endian.BigEndian.PutUint32(h[4:], stream)
		endian.BigEndian.PutUint32(h[8:], length)
		mux = append(append(mux, h[:]...), data...)
	}
	frame(typeWindowUpdate, flagSYN, 1, 0, nil) // the control stream, which waits for a Hello
	data := make([]byte, floodStreamBytes)
	for i := range floodStreams {
		frame(typeData, flagSYN, uint32(3+2*i), floodStreamBytes, data)
	}
	frame(typePing, flagSYN, 0, floodPingID, nil)
	var ws []byte
	for chunk := range slices.Chunk(mux, 32<<10) {
		ws = append(ws, 0x82, 0x80|127)
		ws = endian.BigEndian.AppendUint64(ws, uint64(len(chunk)))
		ws = append(ws, 0, 0, 0, 0) // mask key
		ws = append(ws, chunk...)
	}
	return ws
}

// wsReader reads the payloads of a server's (unmasked) websocket frames
// as one stream of bytes.
type wsReader struct {
	r    *bufio.Reader
	left uint64
}

func (w *wsReader) Read(p []byte) (int, error) {
	for w.left == 0 {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return 0, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return 0, err
			}
			n = uint64(endian.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return 0, err
			}
			n = endian.BigEndian.Uint64(b[:])
		}
		if h[0]&0x0f >= 8 { // a control frame (close, ping, pong): not session bytes
			if _, err := io.CopyN(io.Discard, w.r, int64(n)); err != nil {
				return 0, err
			}
			if h[0]&0x0f == 8 {
				return 0, errors.New("websocket closed")
			}
			continue
		}
		w.left = n
	}
	p = p[:min(uint64(len(p)), w.left)]
	n, err := w.r.Read(p)
	w.left -= uint64(n)
	return n, err
}

// awaitPingAck reads yamux frames until the answer to ping id.
func awaitPingAck(r io.Reader, id uint32) error {
	for range 10000 {
		var h [12]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("no ping answer: %w", err)
		}
		typ, flags, length := h[1], endian.BigEndian.Uint16(h[2:]), endian.BigEndian.Uint32(h[8:])
		switch {
		case typ == 0:
			if _, err := io.CopyN(io.Discard, r, int64(length)); err != nil {
				return err
			}
		case typ == 2 && flags&2 != 0 && length == id:
			return nil
		}
	}
	return errors.New("no ping answer in 10000 frames")
}
