package test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// The journal used to take bodies faster than SQLite wrote them and keep
// the backlog in memory without a bound: 8 senders of 1 MiB bodies grew
// the edge by about 220 MB a second until the kernel killed it. Under a
// sustained load of large bodies with journal: full, the edge's heap must
// stay under a fixed bound, every webhook must be forwarded, every journal
// row must hold its body byte for byte or say why not, and the memory must
// come back once the load stops.
func TestSoakLargeBodiesStayWithinBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		conns    int
		size     int
		duration time.Duration
	}{
		{"8 conns of 1 MiB", 8, 1 << 20, 30 * time.Second},
		{"64 conns of 64 KiB", 64, 64 << 10, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { soak(t, tc.conns, tc.size, tc.duration) })
	}
}

func soak(t *testing.T, conns, size int, duration time.Duration) {
	const heapBound = 384 << 20
	tok := newToken("soak", false, "soak")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  soak:
    routes:
      - path: /big
        methods: [POST]
        max_body: 2MiB
`))
	app := startCountingApp(t)
	startAgent(t, e, tok, app.port(), "--name", "soak")

	// A few distinct bodies, told apart by a header the journal keeps.
	bodies := make([][]byte, 8)
	for i := range bodies {
		bodies[i] = randomBytes(size)
	}
	idle := heapInUse(t, e)

	var peak atomic.Int64
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-tick.C:
				peak.Store(max(peak.Load(), heapInUse(t, e)))
			}
		}
	}()

	var sent, forwarded atomic.Int64
	var failures sync.Map
	deadline := time.Now().Add(duration)
	c := e.client(60 * time.Second)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += conns {
				sent.Add(1)
				req, _ := http.NewRequest(http.MethodPost, e.hookURL("soak", "/big"), bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("X-Body", strconv.Itoa(i%len(bodies)))
				resp, err := c.Do(req)
				if err != nil {
					failures.Store(i, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					forwarded.Add(1)
				} else {
					failures.Store(i, resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	loadEnded := time.Now()
	failures.Range(func(k, v any) bool {
		t.Errorf("webhook %v was not forwarded: %v", k, v)
		return false
	})

	// Every webhook is in the journal; each row holds its body or says why
	// not. Bodies are compared for a sample: downloading them all would
	// cost more than the load itself.
	var rows, kept, dropped int
	var sample []string // kept bodies, spread over the run
	eventually(t, 60*time.Second, "the journal to hold every webhook", func() bool {
		rows, kept, dropped, sample = 0, 0, 0, sample[:0]
		before := ""
		for {
			var page store.Page
			e.adminGet(t, "/api/v1/messages?tunnel=soak&limit=500&before="+before, &page)
			for _, m := range page.Messages {
				rows++
				switch {
				case m.BodyDropped == "journal_backlog":
					dropped++
				case m.BodySize == int64(size) && !m.BodyTruncated:
					kept++
					if kept%25 == 1 && len(sample) < 40 {
						sample = append(sample, m.ID)
					}
				default:
					t.Fatalf("message %s: body_size %d, truncated %v, dropped %q: neither its body nor why not", m.ID, m.BodySize, m.BodyTruncated, m.BodyDropped)
				}
			}
			if page.Next == "" {
				break
			}
			before = page.Next
		}
		return int64(rows) >= sent.Load()
	})
	if kept > 0 && len(sample) == 0 {
		t.Fatal("no kept body to compare")
	}
	checked := 0
	for _, id := range sample {
		var full struct {
			Body   string      `json:"body"`
			Header http.Header `json:"header"`
		}
		e.adminGet(t, "/api/v1/messages/"+id, &full)
		body, err := base64.StdEncoding.DecodeString(full.Body)
		n, _ := strconv.Atoi(full.Header.Get("X-Body"))
		if err != nil || !bytes.Equal(body, bodies[n]) {
			t.Fatalf("message %s: the journal's body (%d bytes) is not the body sent", id, len(body))
		}
		checked++
	}

	// Memory comes back once the burst is over and the journal has drained.
	var settled int64
	eventually(t, 60*time.Second, "the edge's heap to return near idle", func() bool {
		settled = heapInUse(t, e)
		return settled < idle+64<<20
	})
	back := time.Since(loadEnded)
	close(stopWatch)
	<-watched

	mb := float64(forwarded.Load()) * float64(size) / duration.Seconds() / 1e6
	t.Logf("%d conns × %d KiB for %s: %d/%d forwarded (%.0f MB/s); journal rows %d: %d bodies kept, %d dropped for the backlog (%d compared byte for byte); heap in use idle %d MiB, peak %d MiB, %d MiB %s after the load; edge peak RSS %d MiB",
		conns, size>>10, duration, forwarded.Load(), sent.Load(), mb, rows, kept, dropped, checked,
		idle>>20, peak.Load()>>20, settled>>20, back.Round(time.Second), e.memory("VmHWM:")>>20)
	if peak.Load() > heapBound {
		t.Errorf("the edge's heap in use reached %d MiB, over the bound of %d MiB", peak.Load()>>20, heapBound>>20)
	}
	if forwarded.Load() != sent.Load() {
		t.Errorf("%d of %d webhooks forwarded", forwarded.Load(), sent.Load())
	}
	if dropped > 0 {
		var metrics bytes.Buffer
		resp, err := http.Get("http://127.0.0.1:" + e.adminPort + "/metrics")
		if err == nil {
			io.Copy(&metrics, resp.Body)
			resp.Body.Close()
		}
		if !bytes.Contains(metrics.Bytes(), []byte("hooktunnel_journal_bodies_dropped_total "+fmt.Sprint(dropped))) {
			t.Errorf("%d bodies dropped, but the metric does not say so", dropped)
		}
	}
}
