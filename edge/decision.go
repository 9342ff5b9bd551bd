package edge

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// refuse answers a request policy refused, with the status and the
// headers its reason calls for.
func (e *Edge) refuse(w http.ResponseWriter, d policy.Decision, id string) {
	status, code := refusalOf(d.Err)
	switch {
	case len(d.Allow) > 0:
		w.Header().Set("Allow", strings.Join(d.Allow, ", "))
	case errors.Is(d.Err, policy.ErrRateLimited):
		w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter/time.Second)+1))
	case errors.Is(d.Err, policy.ErrInFlight):
		w.Header().Set("Retry-After", retryAfterInFlight)
	}
	writeRefusal(w, status, code, d.Err.Error(), id)
}

// retryAfterInFlight is the wait asked of a copy of a delivery being
// forwarded: by then the first copy has an outcome, and the retry is
// acknowledged as a duplicate or, if that copy failed, forwarded.
const retryAfterInFlight = "5"

// writeDuplicate acknowledges a delivery already accepted: the provider
// gets its 2xx and stops retrying; the app does not get it twice.
func writeDuplicate(w http.ResponseWriter, id string) {
	w.Header().Set(tunnel.HeaderDuplicate, "true")
	writeJSON(w, http.StatusOK, map[string]string{"status": string(outcome.Duplicate), "message": "this delivery was already accepted and forwarded", "request_id": id})
}

// writeAnswer sends a provider handshake answer the edge made itself.
func writeAnswer(w http.ResponseWriter, a *policy.Answer) {
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(a.Body)
}

// logWebhook writes the one line per webhook: never a secret, a token or
// a body; the secret that matched is named by its reference.
func (e *Edge) logWebhook(r *http.Request, status int, took time.Duration, route string, m *store.Message) {
	attrs := []slog.Attr{
		slog.String("request_id", m.ID), slog.String("tunnel", m.Tunnel), slog.String("route", route),
		slog.String("method", r.Method), slog.Int("status", status), slog.Duration("duration", took.Round(time.Microsecond)),
		slog.String("decision", m.Decision),
	}
	if m.Reason != "" {
		attrs = append(attrs, slog.String("reason", m.Reason))
	}
	if m.Provider != "" {
		attrs = append(attrs, slog.String("provider", m.Provider), slog.String("secret", m.SecretRef))
	}
	if m.DeliveryID != "" {
		attrs = append(attrs, slog.String("delivery_id", m.DeliveryID))
	}
	if m.ClientCert != "" {
		attrs = append(attrs, slog.String("client_cert", m.ClientCert))
	}
	e.log.LogAttrs(r.Context(), slog.LevelInfo, "webhook", attrs...)
}
