package store

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Message is one request to a tunnel host as the journal keeps it: every
// request gets one, refused ones included. Secrets, tokens and signature
// headers are redacted by the edge before a Message reaches the store.
type Message struct {
	ID         string      `json:"id"` // time-ordered, so ids sort by arrival
	ReceivedAt time.Time   `json:"received_at"`
	Tunnel     string      `json:"tunnel"`
	Route      string      `json:"route,omitempty"`
	SourceIP   string      `json:"source_ip"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Query      string      `json:"query,omitempty"` // raw query, tokens redacted
	Header     http.Header `json:"header"`
	Body       []byte      `json:"body,omitempty"` // nil when not kept (journal: metadata|headers, or refused)
	BodySize   int64       `json:"body_size"`
	// BodyTruncated is set when the body kept is shorter than BodySize.
	BodyTruncated bool `json:"body_truncated,omitempty"`
	// BodyDropped says why a body the journal level would keep is not
	// kept: "journal_backlog" when the edge's memory budget for bodies
	// waiting to be written was full.
	BodyDropped string `json:"body_dropped,omitempty"`

	// Decision is forwarded, queued, refused, duplicate, answered or
	// filtered (no route's filter took it: acknowledged or rejected, never
	// forwarded);
	// Reason is the refusal's stable code and Detail its sentence.
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Provider string `json:"provider,omitempty"`
	// Event is the kind of event the provider says this is
	// (pull_request.opened, invoice.paid); only for verified requests.
	Event      string `json:"event,omitempty"`
	SecretRef  string `json:"secret,omitempty"` // which secret matched, by reference
	DeliveryID string `json:"delivery_id,omitempty"`
	ClientCert string `json:"client_cert,omitempty"` // mTLS subject
	ReplayOf   string `json:"replay_of,omitempty"`

	// Status is what the sender got; for queued messages, the 202.
	Status         int           `json:"status"`
	ResponseHeader http.Header   `json:"response_header,omitempty"`
	ResponseBody   []byte        `json:"response_body,omitempty"` // the app's answer, capped
	Duration       time.Duration `json:"duration_ns"`

	// Queue is the delivery state of a queued message: pending,
	// delivered or dead; empty for messages forwarded at once.
	Queue    string    `json:"queue,omitempty"`
	Attempts []Attempt `json:"attempts,omitempty"`

	// Edge is the edge the request arrived at (its cluster id; empty on
	// a single edge).
	Edge string `json:"edge,omitempty"`

	// inFile is set, inside the SQLite store only, while the body is in
	// its body file rather than the row (bodyfiles.go).
	inFile bool
}

// Attempt is one delivery of a message to the app.
type Attempt struct {
	N        int           `json:"n"`
	At       time.Time     `json:"at"`
	Status   int           `json:"status,omitempty"` // 0 when no answer
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Edge is the edge that made the attempt (empty on a single edge).
	Edge string `json:"edge,omitempty"`
}

// Filter selects messages to list; zero fields select everything.
type Filter struct {
	Tunnel   string
	Route    string
	Decision string
	// StatusClass is 2, 3, 4 or 5 for 2xx … 5xx; 0 for any.
	StatusClass int
	Since       time.Time
	Until       time.Time
	// Text is searched in the path, the event, the delivery id, the
	// header values and the request body (as bytes, ASCII case folded).
	// A search that matches few messages reads every body it passes, so
	// it is bounded only by Limit, the time range and retention.
	Text string
	// Before is the cursor: list messages older than this id.
	Before string
	// Tunnels, when not nil, restricts the listing to these tunnels (an
	// agent's inspector sees only its own).
	Tunnels []string
	Limit   int

	// bodyDir is the SQLite store's directory of body files, which a
	// text search reads (bodyfiles.go).
	bodyDir string
}

// Page is one page of a listing, newest first. Next is the cursor of the
// following page, "" at the end.
type Page struct {
	Messages []Message `json:"messages"`
	Next     string    `json:"next,omitempty"`
}

// ErrNotFound is returned for an id the journal does not have.
var ErrNotFound = errors.New("store: message not found")

// ErrQueueFull is returned by Enqueue when a queue's bounds are reached.
var ErrQueueFull = errors.New("store: queue is full")

// ErrNotHeld is returned by Release for a message that is not held.
var ErrNotHeld = errors.New("store: message is not held")

// Journal keeps messages for the retention period.
type Journal interface {
	// Record stores a new message.
	Record(ctx context.Context, m *Message) error
	// RecordAll stores new messages in one transaction.
	RecordAll(ctx context.Context, ms []*Message) error
	// Message returns one message with its attempts.
	Message(ctx context.Context, id string) (*Message, error)
	// Messages lists messages newest first. Listings carry no bodies.
	Messages(ctx context.Context, f Filter) (Page, error)
	// Purge deletes messages received before cutoff and then the oldest
	// ones until the database is under maxBytes (0: no size cap); it
	// never touches pending queued messages. It returns how many went.
	Purge(ctx context.Context, cutoff time.Time, maxBytes int64) (int, error)
}

// Queue is the durable queue of messages received in queue mode.
type Queue interface {
	// Enqueue records m with queue state pending, durably, in one
	// transaction with its journal entry; it refuses with ErrQueueFull when
	// the route's queue holds maxCount messages or maxBytes of bodies.
	Enqueue(ctx context.Context, m *Message, maxCount int, maxBytes int64) error
	// Due returns up to limit pending messages whose next attempt is due at
	// now, oldest first, with their bodies.
	Due(ctx context.Context, now time.Time, limit int) ([]Message, error)
	// Claim makes owner the only deliverer of pending message id until
	// until, on a store several edges share: false if another owner's
	// claim holds at now (its until not passed and its edge's lease
	// alive), the message is no longer pending, or the route's bounds (b)
	// keep it waiting on every edge: max_in_flight claims held, or, on an
	// ordered route, an older message pending. Attempted ends the claim.
	// A store of one edge has nothing to claim against.
	Claim(ctx context.Context, id, owner string, now, until time.Time, b RouteBounds) (bool, error)
	// Attempted records an attempt; next is when to try again (zero if
	// the message is now delivered or dead, per state).
	Attempted(ctx context.Context, id string, a Attempt, state string, next time.Time) error
	// Depth is the number of pending messages and the age of the oldest.
	Depth(ctx context.Context, now time.Time) (count int, oldest time.Duration, err error)
	// Hold records m with queue state held, durably: kept for an operator,
	// never due, outside the route's bounds (retention purges it).
	Hold(ctx context.Context, m *Message) error
	// Release makes a held message pending and due at now, within the
	// route's bounds as Enqueue counts them: ErrNotFound, ErrNotHeld or
	// ErrQueueFull when it cannot.
	Release(ctx context.Context, id string, now time.Time, maxCount int, maxBytes int64) error
}

// RouteBounds are a route's delivery bounds as the queue's claims keep
// them across edges; the zero value bounds nothing.
type RouteBounds struct {
	Tunnel, Route string
	// MaxInFlight bounds the route's messages claimed at once (0: none).
	MaxInFlight int
	// Ordered lets only the route's oldest pending message be claimed.
	Ordered bool
}

// Queue states.
const (
	QueuePending   = "pending"
	QueueDelivered = "delivered"
	QueueDead      = "dead"
	// QueueHeld is a message no route's filter took on a route with
	// on_mismatch: queue_hold: kept, never due until Release.
	QueueHeld = "held"
)
