package edge

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// Audit actions: stable codes, listed by GET /api/v1/audit?action=.
const (
	auditReplay       = "message.replay"
	auditRelease      = "message.release"
	auditDelete       = "message.delete"
	auditReload       = "config.reload"
	auditTokenIssued  = "token.issued"
	auditTokenRevoked = "token.revoked"
)

// Actors that are not a request's.
const (
	actorAdmin  = "admin"  // the bearer admin token
	actorLocal  = "local"  // the loopback admin listener, no token
	actorSignal = "signal" // SIGHUP
)

// actorKey is the request context key of the actor when the listener
// knows better than the request (an agent's inspector:
// "inspector:<tunnel>"); see withActor.
type actorKey struct{}

// withActor marks the requests of ctx as made by actor.
func withActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actor is who made r: the listener's actor when it set one, "admin" when
// the admin token is configured (requireAdmin checked it), else "local"
// (a loopback admin listener without a token).
func (e *Edge) actor(r *http.Request) string {
	if a, ok := r.Context().Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	if e.cfg.Load().adminToken != nil && strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		return actorAdmin
	}
	return actorLocal
}

// audit records an admin action made by r. A failure to record is logged
// and never fails the action.
func (e *Edge) audit(r *http.Request, action, target, detail string) {
	e.recordAudit(r.Context(), e.actor(r), action, target, detail)
}

// recordAudit records an action of actor.
func (e *Edge) recordAudit(ctx context.Context, actor, action, target, detail string) {
	entry := store.AuditEntry{At: e.clock.Now().UTC(), Actor: actor, Action: action, Target: target, Detail: clipDetail(detail)}
	e.log.Info("audit", "actor", actor, "action", action, "target", target, "detail", entry.Detail)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.db.RecordAudit(ctx, entry); err != nil {
		e.log.Error("audit entry not recorded", "actor", actor, "action", action, "target", target, "err", err)
	}
}

// clipDetail keeps an audit detail to one bounded line.
func clipDetail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "") + "…"
	}
	return s
}

// auditReload records a reload by actor: config.reload with its outcome
// and, when it was applied, token.issued and token.revoked for each agent
// token that appeared or went away between old and next.
func (e *Edge) auditReload(ctx context.Context, actor string, old, next *compiled, err error) {
	if err != nil {
		e.recordAudit(ctx, actor, auditReload, "", "refused: "+err.Error())
		return
	}
	e.recordAudit(ctx, actor, auditReload, "", fmt.Sprintf("applied: %d tunnels, %d agent tokens", len(next.tunnels), len(next.grants)))
	for _, g := range grantChanges(next.grants, old.grants) {
		e.recordAudit(ctx, actor, auditTokenIssued, g.name, grantDetail(g))
	}
	for _, g := range grantChanges(old.grants, next.grants) {
		e.recordAudit(ctx, actor, auditTokenRevoked, g.name, grantDetail(g))
	}
}

// grantChanges are the grants of a whose token b does not have, by name.
func grantChanges(a, b map[[32]byte]*grant) []*grant {
	var out []*grant
	for h, g := range a {
		if _, ok := b[h]; !ok {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(x, y *grant) int { return cmp.Compare(x.name, y.name) })
	return out
}

// grantDetail names a token by the start of its hash (what the config
// holds, never the token) and the tunnels it grants.
func grantDetail(g *grant) string {
	return "token sha256 " + hex.EncodeToString(g.tokenHash[:6]) + "…, tunnels " + strings.Join(g.tunnels, ", ")
}

// auditPage is the answer of GET /api/v1/audit. Next is the cursor of the
// following page (?before=), 0 at the end.
type auditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	Next    int64              `json:"next,omitempty"`
}

// auditHandler serves GET /api/v1/audit?action=&since=&before=&limit=,
// newest first. Admin listener only: inspectors do not see the trail.
func (e *Edge) auditHandler(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditFilter(r)
	if err != nil {
		writeRefusal(w, http.StatusBadRequest, outcome.CodeBadFilter, err.Error(), "")
		return
	}
	entries, err := e.db.AuditLog(r.Context(), f)
	if err != nil {
		e.log.Error("audit log read failed", "err", err)
		writeRefusal(w, http.StatusInternalServerError, outcome.CodeAuditError, "the audit log could not be read", "")
		return
	}
	page := auditPage{Entries: entries}
	if len(entries) == f.Limit {
		page.Next = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func parseAuditFilter(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Action: q.Get("action"), Limit: 50}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return f, fmt.Errorf("since %q is not an RFC 3339 time", s)
		}
		f.Since = t
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return f, fmt.Errorf("before %q is not an entry id", s)
		}
		f.Before = n
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

// deleteMessage serves DELETE /api/v1/messages/{id}: the message and its
// attempts leave the journal (a pending queued one is not delivered), and
// the audit trail says who deleted what.
func (a *journalAPI) deleteMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := a.message(w, r)
	if !ok {
		return
	}
	err := a.e.db.DeleteMessage(r.Context(), m.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeRefusal(w, http.StatusNotFound, outcome.CodeNotFound, "no message with this id (deleted or purged meanwhile?)", "")
		return
	case err != nil:
		a.e.log.Error("journal delete failed", "message", m.ID, "err", err)
		writeRefusal(w, http.StatusInternalServerError, outcome.CodeJournalError, "the message could not be deleted", "")
		return
	}
	detail := fmt.Sprintf("%s %s %s on tunnel %s", m.Decision, m.Method, m.Path, m.Tunnel)
	if m.Queue == store.QueuePending {
		detail += ", pending in the queue: not delivered"
	}
	a.e.audit(r, auditDelete, m.ID, detail)
	writeJSON(w, http.StatusOK, map[string]string{"deleted": m.ID})
}
