package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// HeaderPeer authenticates a request one edge relays to another:
// "v1,<from-edge-id>,<unix-ts>,<hex hmac>". See Sign.
const HeaderPeer = "Hooktunnel-Peer"

// MaxSkew is how far a peer request's timestamp may be from the
// receiver's clock, either way.
const MaxSkew = 60 * time.Second

// maxSeen bounds the peer requests remembered against replay: at most
// this many within MaxSkew of each other, from all peers together.
const maxSeen = 1 << 16

// Why a peer request was refused. Each wraps ErrNotAuthenticated but
// ErrBusy, which says nothing about the sender.
var (
	ErrNotAuthenticated = errors.New("cluster: the peer request is not authenticated")
	ErrNoPeerHeader     = fmt.Errorf("%w: no %s header", ErrNotAuthenticated, HeaderPeer)
	ErrMalformedHeader  = fmt.Errorf("%w: the %s header is malformed", ErrNotAuthenticated, HeaderPeer)
	ErrStale            = fmt.Errorf("%w: its timestamp is more than %s from this edge's clock", ErrNotAuthenticated, MaxSkew)
	ErrBadMAC           = fmt.Errorf("%w: its signature does not match", ErrNotAuthenticated)
	ErrReplayed         = fmt.Errorf("%w: it was received before", ErrNotAuthenticated)
	// ErrBodyUnread: the body its signature covers could not be read
	// whole, so the signature could not be checked.
	ErrBodyUnread = fmt.Errorf("%w: its body could not be read", ErrNotAuthenticated)
	// ErrBusy: the replay memory is full of requests still inside the
	// window; the request is refused rather than remembered loosely.
	ErrBusy = errors.New("cluster: too many peer requests within the replay window")
)

// peerHeader is a parsed HeaderPeer value.
type peerHeader struct {
	from string
	ts   int64
	mac  []byte
}

// maxEdgeID bounds an edge id in a header.
const maxEdgeID = 200

// parsePeerHeader parses "v1,<from>,<unix-ts>,<64 hex digits>".
func parsePeerHeader(v string) (peerHeader, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 4 || parts[0] != "v1" {
		return peerHeader{}, ErrMalformedHeader
	}
	from, ts, mac := parts[1], parts[2], parts[3]
	if !validEdgeID(from) {
		return peerHeader{}, ErrMalformedHeader
	}
	if ts == "" || len(ts) > 19 || strings.Trim(ts, "0123456789") != "" {
		return peerHeader{}, ErrMalformedHeader
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != ts {
		return peerHeader{}, ErrMalformedHeader // leading zeros: one spelling per time
	}
	if len(mac) != 2*sha256.Size || strings.ToLower(mac) != mac {
		return peerHeader{}, ErrMalformedHeader
	}
	sum, err := hex.DecodeString(mac)
	if err != nil {
		return peerHeader{}, ErrMalformedHeader
	}
	return peerHeader{from: from, ts: n, mac: sum}, nil
}

func (h peerHeader) String() string {
	return "v1," + h.from + "," + strconv.FormatInt(h.ts, 10) + "," + hex.EncodeToString(h.mac)
}

// validEdgeID accepts the ids edges give themselves (name-hex, the name a
// host:port or a word): printable ASCII without commas or spaces.
func validEdgeID(id string) bool {
	if id == "" || len(id) > maxEdgeID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return false
		}
	}
	return true
}

// signed is what a peer header's HMAC covers: the sender, the receiver,
// the time, the delivery (tunnel, message, attempt), and the request
// itself: its method, path with query and public host (the HeaderMethod,
// HeaderURI and HeaderHost the receiver rebuilds it from), its declared
// length, and its body's SHA-256 when the body is covered (bodySum; "-"
// when not, see coveredBody). Naming the receiver keeps a request captured
// on its way to one edge from being played to another; naming the attempt
// keeps the replay memory's key authenticated; covering the request keeps
// one captured within MaxSkew from carrying another request. No field
// holds a newline: header values cannot.
func signed(from, to string, ts int64, h http.Header, contentLength int64, bodySum []byte) []byte {
	sum := "-"
	if bodySum != nil {
		sum = hex.EncodeToString(bodySum)
	}
	return []byte("v1\n" + from + "\n" + to + "\n" + strconv.FormatInt(ts, 10) + "\n" +
		h.Get(tunnel.HeaderTunnel) + "\n" + h.Get(tunnel.HeaderMessageID) + "\n" + h.Get(tunnel.HeaderAttempt) + "\n" +
		h.Get(HeaderMethod) + "\n" + h.Get(HeaderURI) + "\n" + h.Get(HeaderHost) + "\n" +
		strconv.FormatInt(contentLength, 10) + "\n" + sum)
}

// coveredBody returns the SHA-256 of r's body when the signature covers
// it: a declared length of at most relay.MaxRetryBody, which the sending
// edge holds in memory already. It reads that body (no more than
// declared) and puts it back, to be read again from memory. A body of
// unknown or larger length streams and is not covered: nil.
func coveredBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > relay.MaxRetryBody {
		return nil, nil
	}
	var data []byte
	if n > 0 {
		if r.Body == nil {
			return nil, io.ErrUnexpectedEOF
		}
		var err error
		data, err = relay.ReadDeclared(r.Body, n)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		if int64(len(data)) != n {
			return nil, io.ErrUnexpectedEOF
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	sum := sha256.Sum256(data)
	return sum[:], nil
}

func mac(secret, msg []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return m.Sum(nil)
}

// Sign sets the peer header on r, a request from edge from to edge to, at
// now. The tunnel, message id and attempt are those r carries in the
// Hooktunnel-Tunnel, -Message-Id and -Attempt headers; the request relayed
// is in HeaderMethod, HeaderURI and HeaderHost, r's ContentLength and body.
// A body the signature covers (coveredBody) is read into memory and put
// back; the error is reading it.
func Sign(r *http.Request, secret []byte, from, to string, now time.Time) error {
	bodySum, err := coveredBody(r)
	if err != nil {
		return err
	}
	ts := now.Unix()
	sum := mac(secret, signed(from, to, ts, r.Header, r.ContentLength, bodySum))
	r.Header.Set(HeaderPeer, peerHeader{from: from, ts: ts, mac: sum}.String())
	return nil
}

// Authenticator checks peer requests for one edge and remembers the ones
// it took within MaxSkew, so none is taken twice.
type Authenticator struct {
	self string

	mu   sync.Mutex
	seen map[seenKey]int64 // → the Unix second it may be forgotten after
}

type seenKey struct{ from, message, attempt string }

// NewAuthenticator checks requests addressed to the edge whose id is self.
func NewAuthenticator(self string) *Authenticator {
	return &Authenticator{self: self, seen: map[seenKey]int64{}}
}

// Authenticate checks r's peer header against secret at now: its format,
// a timestamp within MaxSkew, the HMAC (compared in constant time) over
// the request too (a covered body is read, bounded, and put back in r to
// be read from memory), and
// that no request with the same sender, message and attempt was taken
// within the window. It returns the sending edge's id. Its errors never
// carry the secret or the header.
func (a *Authenticator) Authenticate(secret []byte, r *http.Request, now time.Time) (from string, err error) {
	values := r.Header.Values(HeaderPeer)
	if len(values) == 0 {
		return "", ErrNoPeerHeader
	}
	if len(values) > 1 {
		return "", ErrMalformedHeader
	}
	ph, err := parsePeerHeader(values[0])
	if err != nil {
		return "", err
	}
	if d := now.Unix() - ph.ts; d > int64(MaxSkew/time.Second) || d < -int64(MaxSkew/time.Second) {
		return "", ErrStale
	}
	if len(secret) == 0 {
		return "", ErrBadMAC // no secret, no trust
	}
	bodySum, err := coveredBody(r)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBodyUnread, err)
	}
	h := r.Header
	key := seenKey{from: ph.from, message: h.Get(tunnel.HeaderMessageID), attempt: h.Get(tunnel.HeaderAttempt)}
	want := mac(secret, signed(ph.from, a.self, ph.ts, h, r.ContentLength, bodySum))
	if !hmac.Equal(want, ph.mac) {
		return "", ErrBadMAC
	}
	if err := a.remember(key, ph.ts+int64(MaxSkew/time.Second), now.Unix()); err != nil {
		return "", err
	}
	return ph.from, nil
}

// remember records key until forget, unless it is there already.
func (a *Authenticator) remember(key seenKey, forget, now int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if until, ok := a.seen[key]; ok && until >= now {
		return ErrReplayed
	}
	if len(a.seen) >= maxSeen {
		for k, until := range a.seen {
			if until < now {
				delete(a.seen, k)
			}
		}
		if len(a.seen) >= maxSeen {
			return ErrBusy
		}
	}
	a.seen[key] = forget
	return nil
}
