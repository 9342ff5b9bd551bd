package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// fakeAPI serves the admin API of docs/api.md from memory, next to the UI,
// so the page can be driven through cases the real edge makes hard to
// produce: thousands of messages, binary bodies, hostile paths.
type fakeAPI struct {
	mu       sync.Mutex
	msgs     []*store.Message // oldest first
	subs     map[chan []byte]struct{}
	listings []url.Values // the query of each listing, in order
	replays  []string
	releases []string
	edits    []replayEditTest // the edit of each edited replay
	seq      int
	start    time.Time
	closed   chan struct{}
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{subs: map[chan []byte]struct{}{}, closed: make(chan struct{}), start: time.Now().Add(-time.Hour)}
}

// add stores m with the next id and announces it on the event stream.
func (f *fakeAPI) add(m store.Message) *store.Message {
	f.mu.Lock()
	f.seq++
	m.ID = fmt.Sprintf("01FAKE%020d", f.seq)
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = f.start.Add(time.Duration(f.seq) * time.Second)
	}
	f.msgs = append(f.msgs, &m)
	f.mu.Unlock()
	f.publish(&m)
	return &m
}

func (f *fakeAPI) publish(m *store.Message) {
	data, _ := json.Marshal(summary(m))
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- data:
		default: // a slow page misses events, as with the real edge
		}
	}
}

// summary is a message as listings and events carry it: no bodies.
func summary(m *store.Message) store.Message {
	s := *m
	s.Body, s.ResponseBody = nil, nil
	return s
}

func (f *fakeAPI) lastListing() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.listings) == 0 {
		return nil
	}
	return f.listings[len(f.listings)-1]
}

// count is the number of messages a listing with q selects.
func (f *fakeAPI) count(q url.Values) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.msgs {
		if fakeMatches(m, q) {
			n++
		}
	}
	return n
}

func (f *fakeAPI) replayed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.replays)
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", Handler())
	mux.HandleFunc("GET /api/v1/tunnels", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, http.StatusOK, map[string]any{"tunnels": []map[string]any{
			{"name": "github", "urls": []string{"http://github.localhost:8080/hooks/github"}},
			{"name": "stripe", "urls": []string{"http://stripe.localhost:8080/hooks/stripe"}},
		}})
	})
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, http.StatusOK, map[string]any{"active": []map[string]any{{"rule": "bad-signatures", "tunnel": "github", "state": "firing"}}, "recent": []any{}})
	})
	mux.HandleFunc("GET /api/v1/messages", f.list)
	mux.HandleFunc("GET /api/v1/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		if m := f.find(r.PathValue("id")); m != nil {
			writeJSONTest(w, http.StatusOK, m)
			return
		}
		writeJSONTest(w, http.StatusNotFound, map[string]string{"error": "not_found", "message": "no such message"})
	})
	mux.HandleFunc("POST /api/v1/messages/{id}/replay", f.replay)
	mux.HandleFunc("POST /api/v1/messages/{id}/release", f.release)
	mux.HandleFunc("GET /api/v1/events", f.events)
	return mux
}

func (f *fakeAPI) find(id string) *store.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.ID == id {
			c := *m
			return &c
		}
	}
	return nil
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 50
	}
	f.mu.Lock()
	f.listings = append(f.listings, q)
	page := store.Page{Messages: []store.Message{}}
	for i := len(f.msgs) - 1; i >= 0; i-- {
		m := f.msgs[i]
		if before := q.Get("before"); before != "" && m.ID >= before {
			continue
		}
		if !fakeMatches(m, q) {
			continue
		}
		if len(page.Messages) == limit {
			page.Next = page.Messages[limit-1].ID
			break
		}
		page.Messages = append(page.Messages, summary(m))
	}
	f.mu.Unlock()
	writeJSONTest(w, http.StatusOK, page)
}

func fakeMatches(m *store.Message, q url.Values) bool {
	if t := q.Get("tunnel"); t != "" && m.Tunnel != t {
		return false
	}
	if d := q.Get("decision"); d != "" && m.Decision != d {
		return false
	}
	if s := q.Get("status"); s != "" && strconv.Itoa(m.Status/100) != s[:1] {
		return false
	}
	if text := q.Get("q"); text != "" {
		hay := m.Path
		for _, v := range m.Header {
			hay += "\n" + strings.Join(v, "\n")
		}
		if !strings.Contains(strings.ToLower(hay), strings.ToLower(text)) {
			return false
		}
	}
	return true
}

// replayEditTest is an edited replay's request, as the edge's API takes it.
type replayEditTest struct {
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

func (f *fakeAPI) lastEdit() (replayEditTest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.edits) == 0 {
		return replayEditTest{}, false
	}
	return f.edits[len(f.edits)-1], true
}

func (f *fakeAPI) replay(w http.ResponseWriter, r *http.Request) {
	orig := f.find(r.PathValue("id"))
	if orig == nil {
		writeJSONTest(w, http.StatusNotFound, map[string]string{"error": "not_found", "message": "no such message"})
		return
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		writeJSONTest(w, http.StatusForbidden, map[string]string{"error": "forbidden", "message": "cross-site replay"})
		return
	}
	c := *orig
	c.ReplayOf, c.ReceivedAt = orig.ID, time.Time{}
	var edit replayEditTest
	if r.ContentLength > 0 {
		if err := json.NewDecoder(r.Body).Decode(&edit); err != nil || r.Header.Get("Content-Type") != "application/json" {
			writeJSONTest(w, http.StatusBadRequest, map[string]string{"error": "bad_edit", "message": "not a JSON edit"})
			return
		}
		c.Header, c.Body = edit.Header, edit.Body
	}
	m := f.add(c)
	f.mu.Lock()
	f.replays = append(f.replays, orig.ID)
	if r.ContentLength > 0 {
		f.edits = append(f.edits, edit)
	}
	f.mu.Unlock()
	writeJSONTest(w, http.StatusAccepted, map[string]string{"id": m.ID, "replay_of": orig.ID})
}

// release makes a held message pending, as the edge does; 409 otherwise.
func (f *fakeAPI) release(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	i := slices.IndexFunc(f.msgs, func(m *store.Message) bool { return m.ID == r.PathValue("id") })
	if i < 0 {
		f.mu.Unlock()
		writeJSONTest(w, http.StatusNotFound, map[string]string{"error": "not_found", "message": "no such message"})
		return
	}
	m := f.msgs[i]
	if m.Queue != store.QueueHeld {
		f.mu.Unlock()
		writeJSONTest(w, http.StatusConflict, map[string]string{"error": "not_held", "message": "the message is not held"})
		return
	}
	m.Queue = store.QueuePending
	f.releases = append(f.releases, m.ID)
	c := *m
	f.mu.Unlock()
	f.publish(&c)
	writeJSONTest(w, http.StatusAccepted, map[string]string{"id": c.ID, "queue": c.Queue})
}

func (f *fakeAPI) released() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.releases)
}

func (f *fakeAPI) events(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 1024)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fmt.Fprint(w, ": hello\n\n")
	fl.Flush()
	for {
		select {
		case data := <-ch:
			fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-f.closed:
			return
		}
	}
}

func writeJSONTest(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
