package alert

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

// Payload is the JSON body of an alert notification. Values and
// thresholds of duration metrics are in seconds.
type Payload struct {
	Type      string    `json:"type"` // alert.firing | alert.resolved
	Rule      string    `json:"rule"`
	When      string    `json:"when"`
	Metric    string    `json:"metric"`
	Tunnel    string    `json:"tunnel"`
	Route     string    `json:"route"` // "" for a per-tunnel rule
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Window    string    `json:"window"` // "" for gauges
	FiredAt   time.Time `json:"fired_at"`
	At        time.Time `json:"at"`
}

// Notification types.
const (
	TypeFiring   = "alert.firing"
	TypeResolved = "alert.resolved"
)

func payloadOf(a *Alert, now time.Time) Payload {
	typ := TypeFiring
	if a.State == StateResolved {
		typ = TypeResolved
	}
	return Payload{
		Type: typ, Rule: a.Rule, When: a.When, Metric: a.Metric,
		Tunnel: a.Tunnel, Route: a.Route, Value: a.Value, Threshold: a.Threshold,
		Window: a.Window, FiredAt: a.FiredAt, At: now.UTC(),
	}
}

// queueSize bounds the notifications waiting for the receiver: a dead
// receiver costs this much memory, and later alerts are dropped (and
// logged) rather than blocking the evaluation.
const queueSize = 64

// sender POSTs notifications one at a time, in order, each retried a
// bounded number of times.
type sender struct {
	url      string
	key      []byte
	attempts int
	timeout  time.Duration
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	queue    chan Payload
	// backoff is the wait after the n-th failed attempt.
	backoff func(n int) time.Duration
}

func newSender(c *compiled, client *http.Client, now func() time.Time, log *slog.Logger) *sender {
	return &sender{
		url: c.url, key: c.key, attempts: c.attempts, timeout: c.timeout,
		client: client, now: now, log: log,
		queue:   make(chan Payload, queueSize),
		backoff: backoff,
	}
}

// Retry waits: jittered, doubling from a second to half a minute.
const (
	backoffMin = time.Second
	backoffMax = 30 * time.Second
)

func backoff(n int) time.Duration {
	d := backoffMin << min(n-1, 10)
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// enqueue hands p to the sender without waiting.
func (s *sender) enqueue(p Payload) {
	select {
	case s.queue <- p:
	default:
		s.log.Error("alert notification dropped: the receiver is behind", "rule", p.Rule, "tunnel", p.Tunnel, "route", p.Route, "type", p.Type)
	}
}

// run sends until ctx ends; what is still queued then is dropped.
func (s *sender) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.queue:
			s.deliver(ctx, p)
		}
	}
}

// deliver makes up to s.attempts tries of p. Every try has the same
// webhook-id, so the receiver can tell a retry from a new alert.
func (s *sender) deliver(ctx context.Context, p Payload) {
	body, err := json.Marshal(p)
	if err != nil {
		s.log.Error("alert notification not encoded", "rule", p.Rule, "err", err)
		return
	}
	id := newMessageID()
	for n := 1; ; n++ {
		status, err := s.post(ctx, id, body)
		if err == nil && status/100 == 2 {
			s.log.Info("alert notification sent", "rule", p.Rule, "tunnel", p.Tunnel, "route", p.Route, "type", p.Type, "attempt", n, "webhook_id", id)
			return
		}
		if err == nil {
			err = fmt.Errorf("receiver answered %d", status)
		}
		if ctx.Err() != nil {
			return
		}
		if n >= s.attempts || !retryable(status) {
			s.log.Error("alert notification failed", "rule", p.Rule, "tunnel", p.Tunnel, "route", p.Route, "type", p.Type, "attempts", n, "err", err)
			return
		}
		s.log.Warn("alert notification failed; retrying", "rule", p.Rule, "type", p.Type, "attempt", n, "err", err)
		t := time.NewTimer(s.backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// retryable: no answer, 408, 429 and 5xx are worth another try; any other
// answer means the receiver will not take this alert.
func retryable(status int) bool {
	return status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// post makes one signed attempt and returns the receiver's status.
func (s *sender) post(ctx context.Context, id string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	now := s.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hooktunnel-alerts")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", policy.SignStandardWebhook(s.key, id, now, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// newMessageID is a webhook-id: "alert_" and 128 random bits.
func newMessageID() string { return "alert_" + crand.Text() }
