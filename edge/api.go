package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// journalAPI serves the messages API of docs/api.md. scope limits it to
// some tunnels (an agent's inspector); nil serves every tunnel.
type journalAPI struct {
	e     *Edge
	scope []string
}

func (a *journalAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/messages", a.list)
	mux.HandleFunc("GET /api/v1/messages/{id}", a.show)
	mux.HandleFunc("POST /api/v1/messages/{id}/replay", a.replay)
	mux.HandleFunc("POST /api/v1/messages/{id}/release", a.release)
	mux.HandleFunc("GET /api/v1/events", a.stream)
	mux.HandleFunc("DELETE /api/v1/messages/{id}", a.deleteMessage)
}

func (a *journalAPI) inScope(tunnel string) bool {
	return a.scope == nil || slices.Contains(a.scope, tunnel)
}

func (a *journalAPI) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		writeRefusal(w, http.StatusBadRequest, outcome.CodeBadFilter, err.Error(), "")
		return
	}
	f.Tunnels = a.scope
	page, err := a.e.db.Messages(r.Context(), f)
	if err != nil {
		a.e.log.Error("journal list failed", "err", err)
		writeRefusal(w, http.StatusInternalServerError, outcome.CodeJournalError, "the journal could not be read", "")
		return
	}
	if page.Messages == nil {
		page.Messages = []store.Message{}
	}
	writeJSON(w, http.StatusOK, page)
}

// parseFilter reads the listing's query parameters.
func parseFilter(q url.Values) (store.Filter, error) {
	f := store.Filter{Tunnel: q.Get("tunnel"), Route: q.Get("route"), Decision: q.Get("decision"), Text: q.Get("q"), Before: q.Get("before")}
	if s := q.Get("status"); s != "" {
		if len(s) != 3 || !strings.HasSuffix(s, "xx") || s[0] < '1' || s[0] > '5' {
			return f, fmt.Errorf("status %q is not one of 1xx … 5xx", s)
		}
		f.StatusClass = int(s[0] - '0')
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, fmt.Errorf("%s %q is not an RFC 3339 time", name, s)
			}
			*dst = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 500 {
			return f, fmt.Errorf("limit %q is not between 1 and 500", s)
		}
		f.Limit = n
	}
	return f, nil
}

func (a *journalAPI) message(w http.ResponseWriter, r *http.Request) (*store.Message, bool) {
	m, err := a.e.db.Message(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !a.inScope(m.Tunnel)) {
		writeRefusal(w, http.StatusNotFound, outcome.CodeNotFound, "no message with this id (purged after the retention period?)", "")
		return nil, false
	}
	if err != nil {
		a.e.log.Error("journal read failed", "err", err)
		writeRefusal(w, http.StatusInternalServerError, outcome.CodeJournalError, "the journal could not be read", "")
		return nil, false
	}
	return m, true
}

func (a *journalAPI) show(w http.ResponseWriter, r *http.Request) {
	if m, ok := a.message(w, r); ok {
		writeJSON(w, http.StatusOK, m)
	}
}

// replay sends a stored message to the app again through the tunnel's
// current route. The route and the agent are checked now; the signature's
// freshness and the duplicate check are not, by design: replaying an old
// delivery is the point. The new attempt is journaled with replay_of.
// guardHosts keeps pages of other sites from asking for it.
//
// An edited replay sends a changed request instead: a JSON body with
// "header" (the whole header to send) and/or "body" (base64, the whole
// body); what it leaves out is sent as stored.
func (a *journalAPI) replay(w http.ResponseWriter, r *http.Request) {
	orig, ok := a.message(w, r)
	if !ok {
		return
	}
	edit, err := readReplayEdit(r)
	if err != nil {
		writeRefusal(w, http.StatusBadRequest, outcome.CodeBadEdit, err.Error(), "")
		return
	}
	if edit.Body != nil {
		orig.Body, orig.BodySize, orig.BodyTruncated, orig.BodyDropped = *edit.Body, int64(len(*edit.Body)), false, ""
	}
	if edit.Header != nil {
		orig.Header = edit.Header
	}
	if why := missingBody(orig); why != "" {
		writeRefusal(w, http.StatusConflict, outcome.CodeNoBody, "the journal does not have this message's whole body: "+why+"; it cannot be sent again", "")
		return
	}
	p, route, ok := a.currentRoute(w, orig)
	if !ok {
		return
	}
	now := a.e.clock.Now()
	m := *orig
	m.ID, m.ReceivedAt, m.ReplayOf, m.Edge = store.NewMessageID(now), now.UTC(), orig.ID, a.e.id
	m.Attempts, m.Queue, m.ResponseBody, m.ResponseHeader = nil, "", nil, nil
	m.Decision, m.Reason, m.Detail = string(outcome.Forwarded), "", ""
	if edit.Body != nil || edit.Header != nil {
		m.Detail = "an edited replay"
	}
	attempt, answer, err := a.e.sendStored(r.Context(), p, route, &m, 1)
	if errors.Is(err, relay.ErrNoAgent) {
		status, code, message, retryAfter := relayRefusal(err, m.Tunnel)
		w.Header().Set("Retry-After", retryAfter)
		writeRefusal(w, status, code, message, "")
		return
	}
	m.Status, m.Duration, m.Attempts = attempt.Status, a.e.clock.Now().Sub(now), []store.Attempt{attempt}
	if route.Journal == "full" {
		m.ResponseBody = answer.body.bytes()
	}
	if route.Journal != "metadata" {
		m.ResponseHeader = redactHeader(answer.header, nil)
	}
	if edit.Header != nil {
		// An edited header is journaled as any other: masked.
		_, credentials := p.Credentials()
		m.Header = redactHeader(m.Header, credentials)
	}
	if err := a.e.db.Record(context.WithoutCancel(r.Context()), &m); err != nil {
		a.e.log.Error("journal write failed", "message", m.ID, "err", err)
	} else {
		a.e.events.publish(&m)
	}
	a.e.log.Info("replay", "message", m.ID, "replay_of", orig.ID, "tunnel", m.Tunnel, "status", m.Status)
	a.e.audit(r, auditReplay, orig.ID, fmt.Sprintf("as %s on tunnel %s, app answered %d", m.ID, m.Tunnel, m.Status))
	writeJSON(w, http.StatusAccepted, map[string]any{"id": m.ID, "replay_of": orig.ID, "status": m.Status})
}

// replayEdit is what an edited replay changes.
type replayEdit struct {
	Header http.Header `json:"header"`
	Body   *[]byte     `json:"body"`
}

// maxReplayEdit bounds an edited replay's request.
const maxReplayEdit = 64 << 20

func readReplayEdit(r *http.Request) (replayEdit, error) {
	var edit replayEdit
	if r.Body == nil || r.ContentLength == 0 {
		return edit, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxReplayEdit+1))
	switch {
	case err != nil:
		return edit, fmt.Errorf("reading the edit: %w", err)
	case len(data) > maxReplayEdit:
		return edit, fmt.Errorf("the edit is larger than %s", policy.ByteSize(maxReplayEdit))
	case len(bytes.TrimSpace(data)) == 0:
		return edit, nil
	}
	if err := json.Unmarshal(data, &edit); err != nil {
		return edit, fmt.Errorf(`the edit must be JSON {"header": {"Name": ["value"]}, "body": "<base64>"}: %v`, err)
	}
	for name, values := range edit.Header {
		if name == "" || strings.ContainsFunc(name, func(c rune) bool { return c <= ' ' || c >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c) }) {
			return edit, fmt.Errorf("header %q is not a valid header name", name)
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				return edit, fmt.Errorf("header %s has a value that is not valid in HTTP", name)
			}
		}
	}
	return edit, nil
}

// missingBody says why the journal lacks a message's whole body, or ""
// when it has it (an empty body included).
func missingBody(m *store.Message) string {
	switch {
	case m.BodyDropped == bodyDroppedBacklog:
		return "the edge received bodies faster than it wrote them and its memory for them (journal.max_pending) was full"
	case m.BodyTruncated:
		return "the body was longer than the journal keeps"
	case m.Body != nil || m.BodySize == 0:
		return ""
	case m.Decision == string(outcome.Refused) && (m.Reason == string(outcome.CodeBodyRead) || m.Reason == string(outcome.CodeBodyMalformed) || m.Reason == string(outcome.CodeBodyTimeout) || m.Reason == string(outcome.CodeBodyTooLarge)):
		return "the body did not arrive whole (" + m.Reason + ")"
	case m.Decision == string(outcome.Refused):
		return "the request was refused (" + m.Reason + ") before the edge read its body, or its route keeps no refused bodies (refused_bodies: false)"
	}
	return "its route's journal level keeps no bodies (journal: metadata or headers)"
}

// stream sends journal changes as server-sent events until the client or
// the edge goes away.
func (a *journalAPI) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	sub := a.e.events.subscribe(a.scope)
	defer a.e.events.unsubscribe(sub)
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.e.closing:
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case m := <-sub.ch:
			if sub.missed.Swap(false) {
				fmt.Fprint(w, "event: reset\ndata: {}\n\n") // the page reloads its list
			}
			data, _ := json.Marshal(m)
			fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
