package store

import (
	"crypto/rand"
	"sync"
	"time"
)

// Message ids are ULID-style: a 48-bit Unix millisecond timestamp followed by
// 80 random bits, written as 26 characters of Crockford base32. Because the
// timestamp leads, ids sort by arrival, and the journal pages with
// "id < cursor ORDER BY id DESC" on the primary key alone.

// crockford is Crockford's base32 alphabet (no I, L, O, U): ids stay
// unambiguous when a user reads one aloud or copies it from a log.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idLen is the length of an encoded id: 128 bits in 5-bit characters.
const idLen = 26

// maxIDMillis is the largest timestamp 48 bits hold (year 10889).
const maxIDMillis = 1<<48 - 1

// IDSource makes message ids that are unique and, within one millisecond,
// strictly increasing: two requests in the same millisecond still list in
// the order they arrived. The zero value is ready to use.
type IDSource struct {
	mu     sync.Mutex
	lastMs int64
	last   [10]byte // random part of the last id
}

// maxIDStepBack is how far behind the last id a time may be and still get
// an id after it. Beyond that, the clock was stepped back: ids follow the
// clock rather than run ahead of it for as long as it was stepped.
const maxIDStepBack = 1000 // ms

// New returns an id for a message received at now.
//
// Within the millisecond of the previous id (or slightly before it) the
// random part is the previous one plus one, so ids from one source are
// strictly increasing. A later millisecond draws fresh randomness. The
// timestamp of an id is thus never before now's millisecond, nor more than
// maxIDStepBack after it, which the journal relies on to turn a time range
// into an id range (see Filter.where).
func (g *IDSource) New(now time.Time) string {
	ms := max(0, min(now.UnixMilli(), maxIDMillis))

	g.mu.Lock()
	defer g.mu.Unlock()
	if ms < g.lastMs && g.lastMs-ms <= maxIDStepBack {
		// Callers read the clock before taking the lock, so a caller can
		// come in with a millisecond that another has already passed.
		ms = g.lastMs
	}
	if ms == g.lastMs && increment(&g.last) {
		return encodeID(ms, g.last)
	}
	// rand.Read never fails (it panics on a broken kernel source, per the
	// crypto/rand contract since Go 1.24), so there is no error to return.
	rand.Read(g.last[:])
	g.lastMs = ms
	return encodeID(ms, g.last)
}

// increment adds one to the 80-bit big-endian counter; false on overflow,
// which then draws a fresh random part (2^79 ids in one millisecond on
// average: never in practice).
func increment(b *[10]byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

// defaultIDs backs NewMessageID. It is the one piece of package-level state
// here, on purpose: "monotonic within a millisecond from one process" needs a
// single source that every component making ids shares, as crypto/rand
// shares one reader. It holds no configuration and cannot be swapped.
var defaultIDs IDSource

// NewMessageID returns a new time-ordered message id for a message received
// at now. Ids made in the same millisecond by this process are strictly
// increasing.
func NewMessageID(now time.Time) string { return defaultIDs.New(now) }

// encodeID writes the 48-bit ms timestamp and the 80 random bits as 26
// base32 characters, most significant first, so that the byte order of the
// strings is the numeric order of the 128-bit values. 26 characters hold 130
// bits: the first one carries only the top 3 bits (it is 0–7), and the
// timestamp fills the first 10 characters exactly.
func encodeID(ms int64, r [10]byte) string {
	var v [16]byte
	for i := range 6 {
		v[i] = byte(ms >> (8 * (5 - i)))
	}
	copy(v[6:], r[:])

	var out [idLen]byte
	out[0] = crockford[v[0]>>5]
	// acc holds the bits not written yet: 5 from v[0], then 15 more bytes,
	// 125 bits in all, which fill out[1:] exactly.
	acc, bits := uint32(v[0]&0x1f), 5
	n := 1
	for _, b := range v[1:] {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[n] = crockford[(acc>>bits)&0x1f]
			n++
		}
		acc &= 1<<bits - 1
	}
	return string(out[:])
}

// idFloor is the smallest id with a timestamp at t's millisecond: every id
// made for a time at or after t sorts at or after it.
func idFloor(t time.Time) string {
	return encodeID(max(0, min(t.UnixMilli(), maxIDMillis)), [10]byte{})
}
